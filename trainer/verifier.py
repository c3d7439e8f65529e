"""The search's verifier for synthesis, told the instance's own tests.

During `swe-train synth` the teacher runs the server's Dev-Search, whose verifier knows nothing of
the instance: it runs the model's reproduction script and whichever existing tests import the
changed files. The instance knows better: its FAIL_TO_PASS tests fail before the fix and must pass
after it, and its PASS_TO_PASS tests must keep passing. `InstanceVerifier` is the server's
`SandboxVerifier` with the SWE-bench harness's test command for them (`trainer.swebench_env`), the
instance's test patch written next to every candidate (and to the baseline run) in the sandbox
copy, never into the tree the model reads, and the harness's condition for `verified`: graded per
test from the log, every FAIL_TO_PASS and PASS_TO_PASS test passes. The model's own script
still counts: when the job kept one (it reproduced the issue on the original tree at validation), it
must stop reproducing it with the patch.

So the trajectories synth records (and the refinements it asks for, which quote the test output)
are verified against the same tests `reject` and `eval` judge by.
"""

from __future__ import annotations

import shlex
import threading
from collections.abc import Mapping, Sequence
from dataclasses import replace
from pathlib import Path

from swe_lsp.sandbox import RunResult, Sandbox
from swe_lsp.search.model import PatchCandidate, Reproduction, Verification
from swe_lsp.search.verification import SandboxVerifier, judge, resolved
from trainer.instances import Instance
from trainer.runs import graded
from trainer.swebench_env import clean_test_id, test_command


def still_failing(inst: Instance, run: RunResult | None) -> tuple[list[str], list[str]]:
    """The FAIL_TO_PASS and the PASS_TO_PASS tests of `inst` that did not pass in `run`, graded
    per test as the harness grades them (all of them when it did not run)."""
    verdict = graded(inst, run)
    if verdict is None:
        return list(_cleaned(inst.FAIL_TO_PASS)), list(_cleaned(inst.PASS_TO_PASS))
    return (
        [t for t, ok in verdict.fail_to_pass.items() if not ok],
        [t for t, ok in verdict.pass_to_pass.items() if not ok],
    )


def _cleaned(ids: Sequence[str]) -> tuple[str, ...]:
    return tuple(c for c in map(clean_test_id, ids) if c)


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
        self.fail_to_pass = _cleaned(inst.FAIL_TO_PASS)
        self._tests = {p: (t.encode() if t is not None else None) for p, t in test_texts.items()}

    def test_argv(self, changed: Sequence[str]) -> tuple[str, ...]:
        """The instance's FAIL_TO_PASS and PASS_TO_PASS tests; the server's choice without them."""
        return test_command(self.inst) or super().test_argv(changed)

    def verify(self, patch: PatchCandidate, reproduction: Reproduction) -> Verification:
        """The server's verdict with the test patch in place, and the FAIL_TO_PASS tests passing."""
        argv = test_command(self.inst)
        if not argv:
            return super().verify(patch, reproduction)
        # The test patch is written next to the candidate, and to the baseline's original tree.
        runs, tests, before, seconds = self.run_candidate(patch, reproduction, argv, self._tests)
        verdict = judge(patch.id, reproduction, runs.repro_after, tests, before, shlex.join(argv), seconds)
        failing, broken = still_failing(self.inst, runs.tests)
        script_agrees = reproduction.script is None or resolved(runs.repro_after)
        notes = list(verdict.notes)
        if failing:
            notes.append(f"FAIL_TO_PASS still failing: {', '.join(failing[:5])}")
        if broken:
            notes.append(f"PASS_TO_PASS failing: {', '.join(broken[:5])}")
        # The harness's verdict: only the listed tests count (the server's own regression check
        # compares every test of the files, which the harness does not).
        verified = runs.tests is not None and not failing and not broken and script_agrees
        return replace(verdict, verified=verified, regression=bool(broken), notes=tuple(notes))
