"""Stage 4, patch verification: the model writes a reproduction script for each patch to verify;
the sandbox runs it on the original tree (it must reproduce) and on the patched tree (it must not),
then the existing tests that exercise the changed modules, before and after. A patch that makes a
previously passing test suite fail is rejected. A failed patch may be refined with the failure log.
"""

from __future__ import annotations

import re
import shlex
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from swe_lsp.llm import GenerateRequest, SamplingConfig
from swe_lsp.sandbox import RunResult, Sandbox, detect_test_command, select_tests, verify_candidate
from swe_lsp.search.context import JobContext, SearchConfig
from swe_lsp.search.model import PatchCandidate, Verification
from swe_lsp.search.patching import patch_from_answer
from swe_lsp.search.prompts import (
    REPRODUCED,
    RESOLVED,
    code_context,
    parse_script,
    refine_message,
    repro_messages,
)
from swe_lsp.search.records import StepRecord
from swe_lsp.search.runtime import Runtime
from swe_lsp.search.turns import split_turn

STAGE = "verify"
TAIL_CHARS = 2000
_FAILED = re.compile(r"(\d+) (?:failed|error)")
# pytest's short test summary (its default `-r fE`): one line per failing or erroring test.
_FAILED_ID = re.compile(r"^(?:FAILED|ERROR) (\S+)", re.MULTILINE)


class Verifier(Protocol):
    """Runs one patch's checks; the sandbox-backed one below, or a scripted double in tests."""

    def verify(self, patch: PatchCandidate, script: str | None) -> Verification:
        """The verdict on `patch` with the reproduction `script` (None: tests only)."""
        ...


def reproduced(run: RunResult | None) -> bool:
    """The script says the issue is present: it printed so, or failed without saying it is fixed."""
    if run is None or run.timed_out or run.cancelled:
        return False
    out = run.stdout + run.stderr
    return REPRODUCED in out or (run.exit_code not in (0, None) and RESOLVED not in out)


def resolved(run: RunResult | None) -> bool:
    """The script says the issue is gone: exit 0 and no reproduction message."""
    return run is not None and run.ok and REPRODUCED not in run.stdout + run.stderr


def failures(run: RunResult | None) -> int | None:
    """Failed tests pytest reports (None when it did not run; a crash counts as one)."""
    if run is None:
        return None
    counts = [int(n) for n in _FAILED.findall(run.stdout + run.stderr)]
    return sum(counts) if counts else (0 if run.ok else 1)


def failing_tests(run: RunResult | None) -> frozenset[str]:
    """The ids of the tests pytest's short summary lists as failed or in error."""
    if run is None:
        return frozenset()
    return frozenset(m.rstrip(":") for m in _FAILED_ID.findall(run.stdout + run.stderr))


def regressed(tests: RunResult | None, tests_before: RunResult | None) -> tuple[bool, str]:
    """Whether the patch broke a test that passed before, and how that was told. Test ids from
    pytest's summary when there are any (a patch that fixes one test and breaks another is still a
    regression); failure counts otherwise (unittest, tox, a crash)."""
    if tests is None:
        return False, ""
    new = failing_tests(tests) - failing_tests(tests_before)
    if new:
        shown = ", ".join(sorted(new)[:5]) + (" ..." if len(new) > 5 else "")
        return True, f"regression: {len(new)} test(s) fail that passed before: {shown}"
    after_fail, before_fail = failures(tests), failures(tests_before)
    if failing_tests(tests) or after_fail is None or after_fail <= (before_fail or 0):
        return False, ""
    return True, f"regression: {after_fail} failing test(s) after, {before_fail or 0} before"


class SandboxVerifier:
    """Verifies patches on the snapshot in a sandbox; the tests' baseline runs once per test set."""

    def __init__(
        self,
        sandbox: Sandbox,
        tree: Path,
        test_command: str | None,
        timeout_s: float,
        cancel: threading.Event,
        job_id: str,
    ) -> None:
        self.sandbox = sandbox
        self.tree = tree
        self.command = detect_test_command(tree, test_command)
        self.timeout_s = timeout_s
        self.cancel = cancel
        self.job_id = job_id
        self._baseline: dict[tuple[str, ...], RunResult] = {}

    def test_argv(self, changed: Sequence[str]) -> tuple[str, ...]:
        """The regression command for a change: the detected command on the tests that import it."""
        if not self.command.found:
            return ()
        selected = select_tests(self.tree, list(changed))
        return (*self.command.argv, *selected) if selected else ()

    def verify(self, patch: PatchCandidate, script: str | None) -> Verification:
        """Reproduce, patch, reproduce again, run the selected tests; compare with the baseline."""
        argv = self.test_argv(patch.files)
        seconds = 0.0
        before_tests = None
        if argv:
            if argv not in self._baseline:
                self._baseline[argv] = self.sandbox.run(
                    self.tree, list(argv), self.timeout_s, cancel=self.cancel
                )
            before_tests = self._baseline[argv]
            seconds += before_tests.duration_s
        changed = {p: t.encode() for p, t in patch.new_texts.items()}
        runs = verify_candidate(
            self.sandbox, self.tree, changed, script, argv, self.timeout_s, self.cancel, self.job_id
        )
        seconds += runs.sandbox_seconds
        return judge(
            patch.id,
            script,
            runs.repro_before,
            runs.repro_after,
            runs.tests,
            before_tests,
            shlex.join(argv) if argv else None,
            seconds,
        )


def judge(
    cid: str,
    script: str | None,
    before: RunResult | None,
    after: RunResult | None,
    tests: RunResult | None,
    tests_before: RunResult | None,
    command: str | None,
    seconds: float,
) -> Verification:
    """The verdict from the runs: verified when the script reproduced the issue before and not
    after, and no test that passed on the original tree fails with the patch."""
    notes = []
    did_reproduce = reproduced(before) if script is not None else None
    if script is None:
        notes.append("no usable reproduction script")
    elif not did_reproduce:
        notes.append("the script did not reproduce the issue on the original tree")
    fixed = did_reproduce is True and resolved(after)
    if did_reproduce and not fixed:
        notes.append("the issue still reproduces with the patch")
    regression, why = regressed(tests, tests_before)
    if regression:
        notes.append(why)
    if command is None:
        notes.append("no existing tests exercise the changed files")
    verified = fixed and not regression
    log = "\n".join(
        f"$ {what}\nexit {r.exit_code}{' (timed out)' if r.timed_out else ''}\n{_tail(r)}"
        for what, r in (("repro (original)", before), ("repro (patched)", after), (command or "tests", tests))
        if r is not None
    )
    return Verification(
        cid,
        verified,
        did_reproduce,
        before.exit_code if before else None,
        after.exit_code if after else None,
        script,
        command,
        tests.exit_code if tests else None,
        tests_before.exit_code if tests_before else None,
        _tail(tests) if tests else "",
        regression,
        round(seconds, 3),
        tuple(notes),
        log,
    )


def _tail(run: RunResult) -> str:
    text = (run.stdout + ("\n" + run.stderr if run.stderr else "")).strip()
    return text[-TAIL_CHARS:]


def write_scripts(
    rt: Runtime, ctx: JobContext, cfg: SearchConfig, patches: Sequence[PatchCandidate]
) -> dict[str, str | None]:
    """One reproduction script per patch (one batch), None where the answer holds no usable one."""
    if not patches:
        return {}
    prompts = [repro_messages(ctx.issue, code_context(p.locations.locations, ctx.lines)) for p in patches]
    config = SamplingConfig(n=1, temperature=cfg.temperature, max_tokens=cfg.max_tokens, seed=cfg.seed)
    generations = rt.generate([GenerateRequest(m, config) for m in prompts])
    scripts: dict[str, str | None] = {}
    for patch, messages, generation in zip(patches, prompts, generations, strict=True):
        turn = split_turn(generation.samples[0].text)
        script, problem = parse_script(turn.answer)
        scripts[patch.id] = script
        rt.recorder.add(
            StepRecord(
                rt.job_id,
                "repro",
                patch.id,
                patch.parent,
                messages,
                turn.think,
                turn.answer,
                script,
                outcome="sampled" if script else "rejected",
                detail=problem,
                usage=generation.usage,
            )
        )
    return scripts


def refine(
    rt: Runtime,
    ctx: JobContext,
    cfg: SearchConfig,
    patch: PatchCandidate,
    verification: Verification,
    attempt: int,
) -> PatchCandidate | None:
    """A new patch written with the failure log of `patch`; None when it does not apply."""
    messages = refine_message(patch.messages, patch.answer, verification.log or "; ".join(verification.notes))
    config = SamplingConfig(n=1, temperature=cfg.temperature, max_tokens=cfg.max_tokens, seed=cfg.seed)
    (generation,) = rt.generate([GenerateRequest(messages, config)])
    turn = split_turn(generation.samples[0].text)
    cid = f"{patch.id}.r{attempt}"
    candidate, result = patch_from_answer(ctx, cid, patch.locations, messages, turn.answer)
    rt.recorder.add(
        StepRecord(
            rt.job_id,
            "refine",
            cid,
            patch.id,
            messages,
            turn.think,
            turn.answer,
            candidate.diff if candidate else None,
            outcome="sampled" if candidate else str(result.status),
            detail=result.feedback_text[:2000],
            usage=generation.usage,
            round=attempt,
        )
    )
    return candidate
