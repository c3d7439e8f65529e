"""Stage 4, patch verification: each candidate runs the issue's validated reproduction script (see
`reproduction`: written once per job, kept only when it reproduces on the original tree) on the
patched tree, where it must pass, then the existing tests that exercise the changed modules, before
and after. A patch that makes a previously passing test fail is rejected. A failed patch may be
refined with the failure log; the refinement is a new candidate (`refine`).
"""

from __future__ import annotations

import shlex
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Protocol

from swe_lsp.llm import GenerateRequest
from swe_lsp.sandbox import (
    CandidateRuns,
    RunResult,
    Sandbox,
    TestRun,
    compare,
    detect_runner,
    run_program,
    run_script,
    verify_candidate,
)
from swe_lsp.search.context import JobContext, SearchConfig
from swe_lsp.search.model import PatchCandidate, Reproduction, Verification
from swe_lsp.search.patching import patch_from_answer
from swe_lsp.search.prompts import REPRODUCED, refine_message
from swe_lsp.search.records import StepRecord
from swe_lsp.search.reproduction import ReproOutcome, classify, describe, run_tail
from swe_lsp.search.runtime import Runtime
from swe_lsp.search.turns import split_turn

STAGE = "verify"


class Verifier(Protocol):
    """Runs the checks of a job's candidates; the sandbox-backed one below, or a scripted double in
    tests. `reproduce` runs once per reproduction attempt (validation, on the original tree);
    `verify` once per candidate, with the validated reproduction every candidate shares."""

    def reproduce(self, script: str) -> RunResult:
        """Run the reproduction `script` on the original tree (nothing patched)."""
        ...

    def verify(self, patch: PatchCandidate, reproduction: Reproduction) -> Verification:
        """The verdict on `patch`: its kept script (if any) with the patch, and the tests."""
        ...


def reproduced(run: RunResult | None) -> bool:
    """The script says the issue is present: `classify` reads its run as a reproduction (it
    printed `ISSUE REPRODUCED` and failed; a crash without the marker is not one)."""
    return run is not None and classify(run) is ReproOutcome.REPRODUCED


def resolved(run: RunResult | None) -> bool:
    """The script says the issue is gone: exit 0 and no reproduction message."""
    return run is not None and run.ok and REPRODUCED not in run.stdout + run.stderr


class SandboxVerifier:
    """Verifies patches on the snapshot in a sandbox, with the workspace's own test runner (see
    `swe_lsp.sandbox.runners`); the tests' baseline on the original tree runs once per selection."""

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
        self.runner = detect_runner(tree, test_command)
        self.timeout_s = timeout_s
        self.cancel = cancel
        self.job_id = job_id
        self._baseline: dict[tuple[str, ...], TestRun] = {}

    def test_argv(self, changed: Sequence[str]) -> tuple[str, ...]:
        """The regression command for a change: the runner on the tests that exercise it."""
        if not self.runner.found:
            return ()
        selected = self.runner.select(self.tree, list(changed))
        return self.runner.argv(selected) if selected else ()

    def test_run(self, argv: Sequence[str], result: RunResult | None) -> TestRun | None:
        """`result` of `argv` read test by test with the runner's parser."""
        if result is None:
            return None
        return TestRun(
            self.runner.name, tuple(argv), self.runner.parse(result.stdout + "\n" + result.stderr), result
        )

    def run_in_sandbox(
        self,
        changed: Mapping[str, bytes | None],
        script: str | None,
        argv: Sequence[str],
        repro_before: bool = True,
    ) -> CandidateRuns:
        """`verify_candidate` in this verifier's sandbox, snapshot, time limit, job and test
        environment: `changed` written over the snapshot, `script` and `argv` run."""
        return verify_candidate(
            self.sandbox,
            self.tree,
            changed,
            script,
            argv,
            self.timeout_s,
            self.cancel,
            self.job_id,
            repro_before=repro_before,
            test_env=self.runner.env,
        )

    def baseline(self, argv: tuple[str, ...], files: dict[str, bytes | None] | None = None) -> TestRun | None:
        """The tests `argv` on the original tree (with `files` written, e.g. a test patch), once."""
        if argv not in self._baseline:
            runs = self.run_in_sandbox(files or {}, None, argv)
            run = self.test_run(argv, runs.tests)
            if run is None or run.result.cancelled:
                return run
            self._baseline[argv] = run
        return self._baseline[argv]

    def reproduce(self, script: str) -> RunResult:
        """Run `script` on the original tree, in a session of its own."""
        return run_script(self.sandbox, self.tree, script, self.timeout_s, self.cancel, self.job_id)

    def run_example(
        self, files: Mapping[str, bytes], argv: Sequence[str], timeout_s: float
    ) -> RunResult | None:
        """Run `argv` with `files` written on the original tree (the issue's example, `example`), or
        None when the sandbox's environment is not built yet: the build overlaps the model's work,
        and the job does not wait for it here."""
        if not self.sandbox.ready(self.tree):
            return None
        return run_program(self.sandbox, self.tree, files, argv, timeout_s, self.cancel, self.job_id)

    def verify(
        self, patch: PatchCandidate, reproduction: Reproduction, files: dict[str, bytes | None] | None = None
    ) -> Verification:
        """Patch, run the selected tests and the kept script (its original-tree run is the
        validation's, not repeated); compare the tests with the baseline test by test. `files` are
        written on both sides (a benchmark's test patch: the tests as the fix's author left them)."""
        argv = self.test_argv(patch.files)
        runs, tests, before, seconds = self.run_candidate(patch, reproduction, argv, files)
        command = shlex.join(argv) if argv else None
        return judge(patch.id, reproduction, runs.repro_after, tests, before, command, seconds)

    def run_candidate(
        self,
        patch: PatchCandidate,
        reproduction: Reproduction,
        argv: tuple[str, ...],
        files: dict[str, bytes | None] | None = None,
    ) -> tuple[CandidateRuns, TestRun | None, TestRun | None, float]:
        """The runs for `patch`: its kept script and the tests `argv` on the patched tree, and the
        tests' baseline on the original one, both with `files` written too (e.g. a test patch);
        with the seconds they took."""
        before = self.baseline(argv, files) if argv else None
        changed = {**(files or {}), **{p: t.encode() for p, t in patch.new_texts.items()}}
        runs = self.run_in_sandbox(changed, reproduction.script, argv, repro_before=False)
        seconds = runs.sandbox_seconds + (before.result.duration_s if before else 0.0)
        return runs, self.test_run(argv, runs.tests), before, seconds


def judge(
    cid: str,
    reproduction: Reproduction,
    after: RunResult | None,
    tests: TestRun | None,
    tests_before: TestRun | None,
    command: str | None,
    seconds: float,
) -> Verification:
    """The verdict from the runs: verified when the issue's validated reproduction script passes
    with the patch, and no test that passed on the original tree fails with it (compared test by
    test, `swe_lsp.sandbox.compare`). `reproduction` is
    the validation's result (its original-tree run is not repeated here). Without a kept script no
    candidate is verified: the tests alone can reject a patch (a regression) but cannot show that
    it fixes the issue, and the notes say why there is no script."""
    notes = []
    script = reproduction.script
    if script is None:
        did_reproduce = None if reproduction.outcome == ReproOutcome.REJECTED else False
        why = reproduction.reason or "no validated reproduction script"
        notes.append(f"judged by the tests only: {why}")
    else:
        did_reproduce = True
    fixed = script is not None and resolved(after)
    if script is not None and not fixed:
        if after is None:
            notes.append("the reproduction script did not run with the patch")
        elif (outcome := classify(after)) is ReproOutcome.REPRODUCED:
            notes.append("the issue still reproduces with the patch")
        else:
            notes.append(f"the reproduction script fails with the patch: {describe(outcome, after)}")
    regression = False
    if tests is not None and tests_before is not None:
        comparison = compare(tests_before, tests)
        regression = comparison.regressed
        if regression:
            notes.append(comparison.summary())
    if command is None:
        notes.append("no existing tests exercise the changed files")
    verified = fixed and not regression
    original = (
        f"$ repro (original tree, validated once)\nexit {reproduction.exit_code}\n{reproduction.log}"
        if script is not None
        else ""
    )
    runs = "\n".join(
        f"$ {what}\nexit {r.exit_code}{' (timed out)' if r.timed_out else ''}\n{run_tail(r)}"
        for what, r in (("repro (patched)", after), (command or "tests", tests.result if tests else None))
        if r is not None
    )
    return Verification(
        cid,
        verified,
        did_reproduce,
        reproduction.exit_code,
        after.exit_code if after else None,
        script,
        command,
        tests.result.exit_code if tests else None,
        tests_before.result.exit_code if tests_before else None,
        run_tail(tests.result) if tests else "",
        regression,
        round(seconds, 3),
        tuple(notes),
        "\n".join(part for part in (original, runs) if part),
    )


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
    (generation,) = rt.generate([GenerateRequest(messages, cfg.sampling(1, "refine"))])
    turn = split_turn(generation.samples[0].text)
    cid = f"{patch.id}.r{attempt}"
    candidate, result = patch_from_answer(ctx, cid, patch.locations, messages, turn.answer, cfg.profile)
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
