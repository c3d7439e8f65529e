"""Stage 4a, the issue's reproduction: written once per job, validated on the original tree, and
reused for every candidate, so that "verified" means the same thing for all of them.

The model writes a reproduction script from the issue and the code at the best candidate's
locations; the sandbox runs it on the original tree and `classify` reads the run. Only a script
that reproduces the issue is kept. Otherwise the model is asked again, shown the run's outcome and
output tail, at most `SearchConfig.repro_retries` times; each retry prompt holds only the latest
attempt, so its size does not grow with the bound. Every attempt is one trajectory step (stage
`repro`, candidate `<location set>.repro<i>`, round i) whose outcome is its classification, or
`rejected` when the answer held no usable script. The original-tree run happens here, once per
attempt, and never again per candidate.
"""

from __future__ import annotations

import re
from enum import StrEnum
from typing import TYPE_CHECKING

from swe_lsp.llm import GenerateRequest, Message, Usage
from swe_lsp.sandbox import RunResult
from swe_lsp.search.context import JobContext, SearchConfig
from swe_lsp.search.model import LocationSet, Reproduction
from swe_lsp.search.prompts import (
    REPRODUCED,
    RESOLVED,
    code_context,
    parse_script,
    repro_messages,
    repro_retry_message,
)
from swe_lsp.search.records import StepRecord
from swe_lsp.search.runtime import Cancelled, Runtime
from swe_lsp.search.turns import Turn, split_turn

if TYPE_CHECKING:
    from swe_lsp.search.verification import Verifier

STAGE = "repro"
TAIL_CHARS = 2000
_TRACEBACK = "Traceback (most recent call last):"
# The last line of an uncaught exception's report: `Name: message`, or the bare name.
_EXCEPTION_LINE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Warning))\b(:.*)?$")


class ReproOutcome(StrEnum):
    """How one reproduction attempt ended: the run outcomes `classify` tells apart, and `rejected`
    for an answer that held no usable script (nothing ran)."""

    REPRODUCED = "reproduced"
    NOT_REPRODUCED = "not_reproduced"
    CRASHED = "crashed"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"
    REJECTED = "rejected"


def run_tail(run: RunResult) -> str:
    """The last TAIL_CHARS of a run's output, stdout then stderr, for logs and prompts."""
    text = (run.stdout + ("\n" + run.stderr if run.stderr else "")).strip()
    return text[-TAIL_CHARS:]


def classify(run: RunResult) -> ReproOutcome:
    """How a reproduction script's run on the original tree ended. The rule, in order:

    - `cancelled`: the job was cancelled while it ran; `timed_out`: killed at the timeout.
    - `reproduced`: it printed `ISSUE REPRODUCED` (stdout or stderr), did not print
      `ISSUE RESOLVED`, and exited with a non-zero status: the script's own check saw the issue
      and said so.
    - `not_reproduced`: it exited with status 0 without printing `ISSUE REPRODUCED`: it ran clean,
      the bug did not show.
    - `crashed`: anything else, which is not a reproduction: a non-zero exit without the marker
      (the script's own SyntaxError, ImportError, NameError or AttributeError on a name it
      invented, any uncaught traceback, a bare `sys.exit(1)`), or a contradictory verdict (both
      markers, or the marker with exit status 0).
    """
    if run.cancelled:
        return ReproOutcome.CANCELLED
    if run.timed_out or run.exit_code is None:
        return ReproOutcome.TIMED_OUT
    out = run.stdout + run.stderr
    said_reproduced, said_resolved = REPRODUCED in out, RESOLVED in out
    if said_reproduced and not said_resolved and run.exit_code != 0:
        return ReproOutcome.REPRODUCED
    if run.exit_code == 0 and not said_reproduced:
        return ReproOutcome.NOT_REPRODUCED
    return ReproOutcome.CRASHED


def describe(outcome: ReproOutcome, run: RunResult | None, problem: str = "") -> str:
    """One line on an attempt: its outcome and, for a crash, the exception that ended it."""
    if run is None:
        return f"{outcome}: {problem}" if problem else str(outcome)
    if outcome is ReproOutcome.TIMED_OUT:
        return f"{outcome} after {run.duration_s:.0f} s"
    if outcome is ReproOutcome.CRASHED:
        return f"{outcome} (exit {run.exit_code}): {crash_cause(run)}"
    return f"{outcome} (exit {run.exit_code})"


def crash_cause(run: RunResult) -> str:
    """What a crashed run died of: the uncaught exception's last line when stderr holds a Python
    traceback, else what was missing from its output."""
    out = run.stdout + run.stderr
    if REPRODUCED in out and RESOLVED in out:
        return f"it printed both {REPRODUCED} and {RESOLVED}"
    if REPRODUCED in out:
        return f"it printed {REPRODUCED} but exited with status 0"
    if _TRACEBACK in run.stderr:
        tail = run.stderr.rsplit(_TRACEBACK, 1)[1].strip().splitlines()
        for line in reversed(tail):
            if _EXCEPTION_LINE.match(line.strip()):
                return line.strip()[:300]
        if tail:
            return tail[-1].strip()[:300]
    return f"it exited with status {run.exit_code} without printing {REPRODUCED}"


def validate_reproduction(
    rt: Runtime, ctx: JobContext, cfg: SearchConfig, verifier: Verifier, locations: LocationSet
) -> Reproduction:
    """Write the issue's reproduction script and keep it only when it reproduces on the original
    tree; otherwise retry with the run's output, at most `cfg.repro_retries` times. Returns the
    kept script, or None with the reason."""
    base = repro_messages(ctx.issue, code_context(locations.locations, ctx.lines))
    config = cfg.sampling(1, "reproduce")
    messages = base
    seconds = 0.0
    attempts = cfg.repro_retries + 1
    outcome, run, detail = ReproOutcome.REJECTED, None, ""
    for attempt in range(attempts):
        rt.report(f"writing the reproduction script (attempt {attempt + 1})", 0.0)
        (generation,) = rt.generate([GenerateRequest(messages, config)])
        turn = split_turn(generation.samples[0].text)
        script, problem = parse_script(turn.answer)
        usage = generation.usage
        run = None
        if script is None:
            outcome, log = ReproOutcome.REJECTED, problem
        else:
            rt.checkpoint()
            try:
                run = verifier.reproduce(script)
            except Exception as exc:  # the sandbox failed, not the script: keep the step, then fail
                detail = f"{type(exc).__name__}: {exc}"[:2000]
                rt.recorder.add(_step(rt, locations, attempt, messages, turn, script, usage, "error", detail))
                raise
            rt.charge_sandbox(run.duration_s)
            seconds += run.duration_s
            outcome, log = classify(run), run_tail(run)
            if outcome is ReproOutcome.CANCELLED:
                raise Cancelled()
        detail = describe(outcome, run, problem)
        rt.recorder.add(_step(rt, locations, attempt, messages, turn, script, usage, str(outcome), detail))
        if outcome is ReproOutcome.REPRODUCED and run is not None:
            return Reproduction(script, str(outcome), attempt + 1, run.exit_code, log, "", round(seconds, 3))
        messages = repro_retry_message(base, turn.answer, outcome, log)
    reason = (
        f"no reproduction script reproduced the issue on the original tree in {attempts} attempt(s); "
        f"the last: {detail}"
    )
    return Reproduction(
        None,
        str(outcome),
        attempts,
        run.exit_code if run else None,
        run_tail(run) if run else "",
        reason,
        round(seconds, 3),
    )


def _step(
    rt: Runtime,
    locations: LocationSet,
    attempt: int,
    messages: tuple[Message, ...],
    turn: Turn,
    script: str | None,
    usage: Usage,
    outcome: str,
    detail: str,
) -> StepRecord:
    """The trajectory step of one attempt (`error`: the sandbox failed before the script ran)."""
    return StepRecord(
        rt.job_id,
        STAGE,
        f"{locations.id}.repro{attempt}",
        locations.id,
        messages,
        turn.think,
        turn.answer,
        script,
        outcome=outcome,
        detail=detail,
        usage=usage,
        round=attempt,
    )
