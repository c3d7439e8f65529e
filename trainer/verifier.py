"""The search's verifier for synthesis, told the instance's own tests.

During `swe-train synth` the teacher runs the server's Dev-Search, whose verifier knows nothing of
the instance: it runs the model's reproduction script and whichever existing tests import the
changed files. The instance knows better: its FAIL_TO_PASS tests fail before the fix and must pass
after it, and its PASS_TO_PASS tests must keep passing. `InstanceVerifier` is the server's
`SandboxVerifier` with those tests as its test command, the instance's test patch written next to
every candidate (and to the baseline run) in the sandbox copy, never into the tree the model reads,
and one more condition for `verified`: no FAIL_TO_PASS test may still fail. The model's own script
still counts: when it reproduces the issue, it must stop reproducing it with the patch.

So the trajectories synth records (and the refinements it asks for, which quote the test output)
are verified against the same tests `reject` and `eval` judge by.
"""

from __future__ import annotations

import shlex
import threading
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from swe_lsp.sandbox import RunResult, Sandbox, verify_candidate
from swe_lsp.search.model import PatchCandidate, Verification
from swe_lsp.search.verification import SandboxVerifier, failing_tests, judge, resolved
from trainer.instances import Instance
from trainer.runs import pytest_ids, test_argv


def still_failing(run: RunResult | None, fail_to_pass: Sequence[str]) -> list[str]:
    """The FAIL_TO_PASS ids that did not pass in `run`: none when it passed, all of them when it
    did not run or failed without naming its failures (a crash, a collection error)."""
    if run is not None and run.ok:
        return []
    failed = failing_tests(run)
    if run is None or not failed:
        return list(fail_to_pass)
    return [t for t in fail_to_pass if any(f == t or f.startswith(t + "[") for f in failed)]


class InstanceVerifier(SandboxVerifier):
    """`SandboxVerifier` on an instance's own tests (see the module docstring); an instance with
    no tests listed is verified exactly as the server verifies."""

    def __init__(
        self,
        sandbox: Sandbox,
        tree: Path,
        inst: Instance,
        test_texts: Mapping[str, str | None],
        timeout_s: float,
        cancel: threading.Event,
        job_id: str,
    ) -> None:
        super().__init__(sandbox, tree, None, timeout_s, cancel, job_id)
        self.inst = inst
        self.fail_to_pass = pytest_ids(inst.FAIL_TO_PASS)
        self._tests = {p: (t.encode() if t is not None else None) for p, t in test_texts.items()}

    def test_argv(self, changed: Sequence[str]) -> tuple[str, ...]:
        """The instance's FAIL_TO_PASS and PASS_TO_PASS tests; the server's choice without them."""
        return test_argv(self.inst) or super().test_argv(changed)

    def verify(self, patch: PatchCandidate, script: str | None) -> Verification:
        """The server's verdict with the test patch in place, and the FAIL_TO_PASS tests passing."""
        argv = test_argv(self.inst)
        if not argv:
            return super().verify(patch, script)
        if argv not in self._baseline:  # the tests on the unpatched tree, with the test patch
            runs = verify_candidate(
                self.sandbox, self.tree, self._tests, None, argv, self.timeout_s, self.cancel, self.job_id
            )
            if runs.tests is not None:
                self._baseline[argv] = runs.tests
        before = self._baseline.get(argv)
        changed = {**self._tests, **{p: t.encode() for p, t in patch.new_texts.items()}}
        runs = verify_candidate(
            self.sandbox, self.tree, changed, script, argv, self.timeout_s, self.cancel, self.job_id
        )
        seconds = runs.sandbox_seconds + (before.duration_s if before else 0.0)
        verdict = judge(
            patch.id,
            script,
            runs.repro_before,
            runs.repro_after,
            runs.tests,
            before,
            shlex.join(argv),
            seconds,
        )
        failing = still_failing(runs.tests, self.fail_to_pass)
        script_agrees = verdict.reproduced is not True or resolved(runs.repro_after)
        notes = list(verdict.notes)
        if failing:
            notes.append(f"FAIL_TO_PASS still failing: {', '.join(failing[:5])}")
        verified = runs.tests is not None and not failing and not verdict.regression and script_agrees
        return replace(verdict, verified=verified, notes=tuple(notes))
