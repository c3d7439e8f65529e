"""Synthesis verifies against the instance's own tests: `InstanceVerifier` runs FAIL_TO_PASS and
PASS_TO_PASS with the test patch (in the sandbox copy only), and `synthesize` hands it to `resolve`."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import pytest
from repo_fixture import REPRO_SCRIPT

from swe_lsp.sandbox.local_sandbox import LocalSandbox
from swe_lsp.search import JobReport
from swe_lsp.search.model import LocationSet, PatchCandidate, Reproduction
from swe_lsp.search.reproduction import ReproOutcome, classify
from swe_lsp.settings import SandboxSettings, Settings
from trainer import synth
from trainer.cli import main
from trainer.instances import Instance, read_instances
from trainer.repos import checkout_repo, file_at, git_dir_of
from trainer.runs import patched_texts
from trainer.synth import instance_test_files, synthesize
from trainer.verifier import InstanceVerifier

WRONG = "--- a/pkg/core.py\n+++ b/pkg/core.py\n@@ -7 +7 @@\n"
WRONG += "-    return sum(values) / len(values)\n+    return sum(values) / max(len(values), 1)\n"


@pytest.fixture
def collected(pr_list: Path, tmp_path: Path) -> tuple[Path, Instance, Path]:
    run = tmp_path / "run"
    assert main(["collect", "--git", str(pr_list), "--out", str(run)]) == 0
    inst = {i.instance_id: i for i in read_instances(run / "collect" / "instances.jsonl")}["mean-empty"]
    return run, inst, git_dir_of(Path(inst.git_dir or ""))


def _candidate(inst: Instance, git_dir: Path, diff: str) -> PatchCandidate:
    texts = patched_texts(diff, lambda p: file_at(git_dir, inst.base_commit, p))
    assert texts is not None
    locations = LocationSet("l0", "u0", ("pkg/core.py",), ())
    original = {p: file_at(git_dir, inst.base_commit, p) for p in texts}
    new = {p: t for p, t in texts.items() if t is not None}
    return PatchCandidate("p0", "l0", diff, tuple(texts), original, new, diff, locations)


def _digest(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


def test_the_instance_verifier_runs_fail_to_pass_with_the_test_patch(
    collected: tuple[Path, Instance, Path], tmp_path: Path
) -> None:
    _, inst, git_dir = collected
    tree = checkout_repo(git_dir, inst.base_commit, tmp_path / "tree")
    before = _digest(tree)
    tests = instance_test_files(inst, git_dir)
    assert "def test_mean_empty" in (tests["tests/test_core.py"] or "")
    assert "test_mean_empty" not in (tree / "tests" / "test_core.py").read_text()  # hidden from the model
    with LocalSandbox(SandboxSettings(kind="local", timeout_s=60)) as box:
        verifier = InstanceVerifier(box, tree, inst, tests, 60, threading.Event(), "j")
        assert verifier.test_argv(["pkg/core.py"])[-2:] == (
            "tests/test_core.py::test_mean_empty",
            "tests/test_core.py::test_mean",
        )
        original = verifier.reproduce(REPRO_SCRIPT)  # validation, once, on the unpatched tree
        assert classify(original) is ReproOutcome.REPRODUCED
        kept = Reproduction(REPRO_SCRIPT, "reproduced", 1, original.exit_code)
        right = verifier.verify(_candidate(inst, git_dir, inst.patch), kept)
        wrong = verifier.verify(_candidate(inst, git_dir, WRONG), kept)
        none = Reproduction(None, "rejected", 1, reason="the answer holds no script")
        no_script = verifier.verify(_candidate(inst, git_dir, inst.patch), none)
    assert right.verified and right.tests_exit == 0 and right.reproduced
    assert "test_mean_empty" in (right.tests_command or "")
    assert right.tests_before_exit not in (0, None)  # the baseline ran with the test patch: F2P failed
    assert not wrong.verified and wrong.tests_exit not in (0, None)
    assert any("FAIL_TO_PASS still failing: tests/test_core.py::test_mean_empty" in n for n in wrong.notes)
    # The instance's tests are the oracle: a patch that passes them is verified without a script.
    assert no_script.verified and no_script.reproduced is None
    assert _digest(tree) == before  # the test patch never reached the tree


def test_synthesize_hands_resolve_the_instance_verifier(
    collected: tuple[Path, Instance, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run, inst, _ = collected
    seen = []

    def fake_resolve(request, backend, settings, progress, cancel, verifier_factory=None):
        seen.append(verifier_factory(request.workspace))
        request.out_dir.mkdir(parents=True)  # where the real one writes the trajectory
        return JobReport(request.job_id, "done")

    monkeypatch.setattr(synth, "resolve", fake_resolve)
    settings = Settings.model_validate({"sandbox": {"kind": "local", "timeout_s": 60}})
    assert synthesize([inst], None, settings, run, samples=1)["run"] == 1  # type: ignore[arg-type]
    (verifier,) = seen
    assert isinstance(verifier, InstanceVerifier) and verifier.fail_to_pass == inst.FAIL_TO_PASS
    assert "tests/test_core.py" in verifier._tests
    assert verifier.tree == run / "synth" / ".work" / inst.instance_id  # the job's workspace

    seen.clear()
    synthesize([inst], None, settings, tmp_path / "other", samples=1, no_sandbox=True)  # type: ignore[arg-type]
    assert seen == [None]
