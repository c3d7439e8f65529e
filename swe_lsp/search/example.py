"""Before the search: the issue's own example runs in the job's sandbox, and the workspace functions
it calls rank higher (`workspace.example_run`, `retrieval.EXECUTED_WEIGHT`).

It runs only where the job's checks run (the sandbox the user configured for verification, never on
the host unless that is what they configured), only when that sandbox's environment is already built
(a cold environment's build overlaps the model's work instead, and this job goes on without the
example), and within EXAMPLE_TIMEOUT_S. Whatever happens, the job goes on: an example that does not
run, or a sandbox that fails, leaves the ranking as it was and says why in the job's notes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

from swe_lsp.sandbox import RunResult
from swe_lsp.search.runtime import Cancelled, Runtime
from swe_lsp.workspace import RepoIndex
from swe_lsp.workspace.example_run import (
    INPUT_PATH,
    PROGRAM_PATH,
    TRACER,
    called_symbols,
    example_statements,
    parse_report,
    showing_files,
    tracer_input,
    workspace_commands,
)

log = logging.getLogger(__name__)

# The whole run's bound: the workspace's imports (django's or sympy's take a few seconds under the
# profile hook) and every statement at its own bound would be far more; an example that slow is
# rare (the sympy Lite examples ran in a median 1.3 s, the slowest in 3.1 s), and a job should not
# wait minutes before its model starts. The program reports after each statement, so what the
# statements finished before the bound called still counts.
# (Each statement stops at example_run.STATEMENT_S, so one that hangs leaves room for the rest.)
EXAMPLE_TIMEOUT_S = 60.0


@runtime_checkable
class ExampleRunner(Protocol):
    """What runs the example: the job's sandbox-backed verifier (`SandboxVerifier.run_example`)."""

    def run_example(
        self, files: Mapping[str, bytes], argv: Sequence[str], timeout_s: float
    ) -> RunResult | None:
        """Run `argv` with `files` written on the original tree; None when the sandbox is not ready."""
        ...


@dataclass(frozen=True)
class ExampleOutcome:
    """What the issue's example gave the ranking: the symbols it called (path, qualified name), none
    when it did not run, the files the statements showing the issue ran (`example_run.showing_files`)
    and the notes saying how it went (none when the issue has no example)."""

    called: frozenset[tuple[str, str]] = frozenset()
    files: frozenset[str] = frozenset()
    notes: tuple[str, ...] = ()


def issue_example(rt: Runtime, issue: str, index: RepoIndex, runner: ExampleRunner) -> ExampleOutcome:
    """The issue's example run by `runner` on the workspace of `index`: what it called (which the
    job's ranking then weighs, `JobContext(executed=...)`) and a note on how it went, or nothing
    called (with a note why) when the sandbox is not ready or the run reported nothing."""
    statements = example_statements(issue, workspace_commands(index))
    if not statements:
        return ExampleOutcome()

    def run(files: Mapping[str, bytes], argv: Sequence[str], timeout_s: float) -> RunResult | None:
        rt.checkpoint()
        found = runner.run_example(files, argv, timeout_s)
        rt.checkpoint()
        if found is not None:
            rt.charge_sandbox(found.duration_s)
        return found

    with rt.in_stage("index", "running the issue's example in the sandbox"):
        outcome = example_calls(index, statements, run)
    log.info("job %s: %s", rt.job_id, outcome.notes[0])
    return outcome


def example_calls(
    index: RepoIndex,
    statements: list[str],
    run: Callable[[Mapping[str, bytes], Sequence[str], float], RunResult | None],
) -> ExampleOutcome:
    """The symbols of `index` that the example's `statements` (`example_statements`, not empty)
    called when `run` ran them (`run` writes the files into a sandbox's copy of the tree and runs the
    command there; None: the sandbox is not ready), the files its statements showing the issue ran,
    and a note for the user on how it went (nothing called when it did not run)."""
    files = {PROGRAM_PATH: TRACER.encode(), INPUT_PATH: tracer_input(statements, index).encode()}
    try:
        result = run(files, ["python3", PROGRAM_PATH, INPUT_PATH], EXAMPLE_TIMEOUT_S)
    except Cancelled:
        raise
    except Exception as exc:  # the sandbox failed: verification will say so; rank as before
        return ExampleOutcome(notes=(f"the issue's example did not run: {exc}",))
    if result is None:
        building = "the issue's example did not run: the sandbox's environment is still being built"
        return ExampleOutcome(notes=(building,))
    cut = f" before it ran past {EXAMPLE_TIMEOUT_S:g} s" if result.timed_out else ""
    try:
        report = parse_report(result.stdout, len(statements))
    except ValueError as exc:
        if cut:
            return ExampleOutcome(
                notes=(
                    f"the issue's example did not run: its first statement ran past {EXAMPLE_TIMEOUT_S:g} s",
                )
            )
        last = ((result.stderr or result.stdout).strip().splitlines() or [""])[-1][:200]
        return ExampleOutcome(notes=(f"the issue's example did not run: {exc} {last}".strip(),))
    called = called_symbols(index, report.calls)
    unimported = f"; its set-up failed: {', '.join(report.setup_failures)}" if report.setup_failures else ""
    note = (
        f"the issue's example ran ({report.ran} of {report.tried} statements without an error{cut}) and "
        f"called {len(called)} functions of the workspace, which rank higher{unimported}"
    )
    return ExampleOutcome(called, showing_files(index, report), (note,))
