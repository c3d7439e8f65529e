"""Nothing is lost to a late failure: a sandbox, environment-image or backend error after the
patches were generated ends the job `done` with them, unverified, each with the reason, and the
report says verification failed and why. A failure before that still fails the job, and a cancel
still cancels."""

from __future__ import annotations

import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from scripted import (
    FILE_ANSWERS,
    GOOD_PATCH,
    GOOD_REPRO,
    LOCATE,
    OTHER_PATCH,
    ContainsScorer,
    DiffVerifier,
    answer,
    outcomes,
    run_job,
)

from swe_lsp.sandbox import SandboxError, SandboxImageError
from swe_lsp.sandbox.local_sandbox import LocalSandbox
from swe_lsp.search.model import PatchCandidate, Reproduction, Verification
from swe_lsp.search.verification import SandboxVerifier
from swe_lsp.settings import SandboxSettings

SCRIPTS = {
    "understand": FILE_ANSWERS[:1],
    "localize": LOCATE,
    "patch": [answer(OTHER_PATCH), answer(GOOD_PATCH)],
    "repro": [answer(GOOD_REPRO)],
}
SEARCH = {"budget": 2, "beam": 2, "max_refinements": 0, "early_stop_score": 1.0}
IMAGE_ERROR = (
    "the environment image for statsmini could not be built: step `pip install -e .` failed "
    "(exit 1); last lines of its log:\nERROR: No matching distribution found for numpy==1.16"
)


@dataclass
class FailingVerifier(DiffVerifier):
    """Verifies like `DiffVerifier` until its `fail_at`-th verification, which raises `error`
    (after setting `cancel`, when given: a sandbox torn down by a cancel)."""

    fail_at: int = 1
    error: Exception = field(default_factory=lambda: SandboxError("the container died (OOM killed)"))
    cancel: threading.Event | None = None

    def verify(self, patch: PatchCandidate, reproduction: Reproduction) -> Verification:
        if len(self.verified_ids) + 1 == self.fail_at:
            if self.cancel is not None:
                self.cancel.set()
            raise self.error
        return super().verify(patch, reproduction)


def _unverified_with(report: Any, reason: str) -> list[Any]:
    """The report's candidates that are unverified with `reason` in their notes."""

    def says(note: str) -> bool:
        return note.startswith("not verified: verification failed") and reason in note

    return [c for c in report.candidates if not c.evidence.verified and any(map(says, c.evidence.notes))]


def test_a_sandbox_error_part_way_keeps_every_candidate(workspace: Path, tmp_path: Path) -> None:
    verifier = FailingVerifier(fail_at=2)
    run = run_job(workspace, tmp_path, SCRIPTS, verifier=verifier, **SEARCH)
    report = run.report
    assert report.state == "done"
    assert report.error and report.error.startswith("verification failed")
    assert "the container died" in report.error
    first, second = report.candidates
    # The one verified before the failure keeps its verdict; the other is unverified, with why.
    assert first.evidence.verified and "raise ValueError" in first.diff
    assert _unverified_with(report, "the container died") == [second]
    cost = json.loads((run.out / "cost.json").read_text())
    assert "the container died" in cost["verification_error"]


class BrokenImageSandbox(LocalSandbox):
    """A sandbox whose environment image cannot be built: every session fails, as docker's does."""

    def session(self, tree: Path, job_id: str | None = None) -> Any:
        raise SandboxImageError(IMAGE_ERROR)


def test_an_environment_image_that_cannot_build_returns_the_candidates_unverified(
    workspace: Path, tmp_path: Path
) -> None:
    """The real verifier on a sandbox whose image build fails at the first session (validation of
    the reproduction script): both candidates come back, unverified, with the build's reason."""
    box = BrokenImageSandbox(SandboxSettings(kind="local"))
    verifier = SandboxVerifier(box, workspace, None, 60, threading.Event(), "job")
    run = run_job(workspace, tmp_path, SCRIPTS, verifier=verifier, **SEARCH)
    report = run.report
    assert report.state == "done" and report.error is not None
    assert "could not be built" in report.error and "numpy==1.16" in report.error
    assert len(report.candidates) == 2
    assert len(_unverified_with(report, "could not be built")) == 2
    # The model's script is kept in the trajectory, marked as not run because the sandbox failed.
    assert set(outcomes(run, "repro").values()) == {"error"}


@dataclass
class FailingScorer(ContainsScorer):
    """An ORM whose backend fails."""

    def score(self, *args: object) -> list[Any]:
        raise RuntimeError("CUDA error: an illegal memory access was encountered")


def test_a_backend_error_while_scoring_returns_the_candidates_unverified(
    workspace: Path, tmp_path: Path
) -> None:
    run = run_job(workspace, tmp_path, SCRIPTS, orm_double=FailingScorer([]), **SEARCH)
    report = run.report
    assert report.state == "done"
    assert report.error and "RuntimeError: CUDA error" in report.error
    assert len(_unverified_with(report, "RuntimeError: CUDA error")) == 2
    assert all(c.evidence.orm_score is None for c in report.candidates)
    assert run.verifier.verified_ids == []


def test_a_backend_error_while_writing_the_script_returns_the_candidates_unverified(
    workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scripted import ScriptedPolicy

    real = ScriptedPolicy.generate

    def generate(self: ScriptedPolicy, requests: Any) -> Any:
        if any("standalone Python script" in r.prompt[-1].content for r in requests):
            raise ConnectionError("the model server closed the connection")
        return real(self, requests)

    monkeypatch.setattr(ScriptedPolicy, "generate", generate)
    run = run_job(workspace, tmp_path, SCRIPTS, **SEARCH)
    assert run.report.state == "done"
    assert len(_unverified_with(run.report, "ConnectionError: the model server closed")) == 2
    # The ORM scored them before the failure: the scores are kept.
    assert sorted(c.evidence.orm_score for c in run.report.candidates) == [0.2, 0.95]


def test_a_failure_before_the_candidates_exist_still_fails_the_job(
    workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from scripted import ScriptedPolicy

    real = ScriptedPolicy.generate

    def generate(self: ScriptedPolicy, requests: Any) -> Any:
        if any("search/replace edit blocks" in r.prompt[1].content for r in requests):
            raise ConnectionError("the model server closed the connection")
        return real(self, requests)

    monkeypatch.setattr(ScriptedPolicy, "generate", generate)
    run = run_job(workspace, tmp_path, SCRIPTS, **SEARCH)
    assert run.report.state == "failed" and run.report.candidates == ()
    assert "ConnectionError" in (run.report.error or "")


def test_a_cancel_is_not_a_late_failure(workspace: Path, tmp_path: Path) -> None:
    cancel = threading.Event()
    verifier = FailingVerifier(fail_at=1, cancel=cancel)
    run = run_job(workspace, tmp_path, SCRIPTS, verifier=verifier, cancel=cancel, **SEARCH)
    assert run.report.state == "cancelled"
    assert run.report.candidates == () and run.report.error is None


class ClosingFailsSandbox(LocalSandbox):
    """A sandbox that verifies, then fails to release what it holds."""

    def close(self) -> None:
        raise SandboxError("could not remove the warm containers")


def test_a_failure_closing_the_sandbox_keeps_the_verified_candidates(
    workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import swe_lsp.sandbox

    monkeypatch.setattr(swe_lsp.sandbox, "open_sandbox", lambda settings: ClosingFailsSandbox(settings))
    run = run_job(
        workspace,
        tmp_path,
        SCRIPTS,
        sandbox={"kind": "local", "timeout_s": 120, "test_command": "true"},
        **SEARCH,
    )
    assert run.report.state == "done"
    assert "could not remove the warm containers" in (run.report.error or "")
    assert [c.evidence.verified for c in run.report.candidates] == [True, False]
