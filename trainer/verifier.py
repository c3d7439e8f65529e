"""The search's verifier for synthesis: the server's own, with the instance's tests as a label only.

During `swe-train synth` the teacher runs the server's Dev-Search. Whatever the search sees of
verification (the verdict that decides whether a patch is refined and when the job stops early, and
the log a refinement prompt quotes) must be what it sees when served: the output of its own
reproduction script and of the regression tests the server selects on the workspace as it is. The
instance's FAIL_TO_PASS and PASS_TO_PASS tests and its test patch are what the model must never
see: a refinement step becomes an SFT example, and a model trained on prompts that quote the hidden
tests' names and failures learns to expect feedback it never gets at serving time. So the instance's
tests may label a trajectory; they never reach a prompt and never decide which prompts exist.

`InstanceVerifier` is the server's `SandboxVerifier` (in the environment of the harness's spec,
which synth pins) whose `verify` returns the server's verdict as it is. Apart from it, in a sandbox
session of its own, it runs the instance's tests with the instance's test patch written next to
the candidate (in the sandbox copy only, never into the tree the model reads), graded per test as
the harness grades them, and keeps the result as a `TestLabel` in `labels`: synth writes it to the
sample's `report.json`, nowhere else. `reject` and `eval` judge by the same tests.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from swe_lsp.sandbox import RunResult, Sandbox
from swe_lsp.search.model import PatchCandidate, Reproduction, Verification
from swe_lsp.search.verification import SandboxVerifier
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


@dataclass(frozen=True)
class TestLabel:
    """The instance's tests on one candidate, as the harness grades them: `resolved` when every
    FAIL_TO_PASS and PASS_TO_PASS test passed (`ran` False: the tests did not run). A label for
    the records, kept apart from the search's `Verification`, so it never reaches a prompt."""

    __test__ = False  # not a pytest class, whatever its name

    candidate_id: str
    diff: str
    resolved: bool
    ran: bool
    fail_to_pass_failing: tuple[str, ...]
    pass_to_pass_failing: tuple[str, ...]
    seconds: float


class InstanceVerifier(SandboxVerifier):
    """The server's `SandboxVerifier`, recording a `TestLabel` per verified candidate from the
    instance's own tests into `labels` (see the module docstring); an instance with no tests
    listed gets no labels. `test_command` is the server's setting of that name."""

    def __init__(
        self,
        sandbox: Sandbox,
        tree: Path,
        inst: Instance,
        test_texts: Mapping[str, str | None],
        timeout_s: float,
        cancel: threading.Event,
        job_id: str,
        test_command: str | None = None,
        labels: dict[str, TestLabel] | None = None,
    ) -> None:
        super().__init__(sandbox, tree, test_command, timeout_s, cancel, job_id)
        self.inst = inst
        self.fail_to_pass = _cleaned(inst.FAIL_TO_PASS)
        self._tests = {p: (t.encode() if t is not None else None) for p, t in test_texts.items()}
        # The caller may hand its own dict, to read the labels after the job.
        self.labels: dict[str, TestLabel] = labels if labels is not None else {}

    def verify(self, patch: PatchCandidate, reproduction: Reproduction) -> Verification:
        """The server's verdict on `patch`, unchanged; the instance's tests label it apart."""
        verdict = super().verify(patch, reproduction)
        if self.cancel.is_set():
            return verdict
        label = self.label(patch)
        if label is not None:
            self.labels[patch.id] = label
        return verdict

    def label(self, patch: PatchCandidate) -> TestLabel | None:
        """The instance's FAIL_TO_PASS and PASS_TO_PASS tests with `patch` and the test patch,
        graded per test; None when the instance lists no tests."""
        argv = test_command(self.inst)
        if not argv:
            return None
        changed = {**self._tests, **{p: t.encode() for p, t in patch.new_texts.items()}}
        runs = self.run_in_sandbox(changed, None, argv)
        failing, broken = still_failing(self.inst, runs.tests)
        ran = runs.tests is not None
        return TestLabel(
            patch.id,
            patch.diff,
            ran and not failing and not broken,
            ran,
            tuple(failing),
            tuple(broken),
            round(runs.tests.duration_s if runs.tests else 0.0, 3),
        )
