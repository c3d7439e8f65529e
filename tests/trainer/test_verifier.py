"""Synthesis verifies as the server does, and labels with the instance's own tests: `InstanceVerifier`
returns the server's verdict (its script, the selected regression tests) and runs FAIL_TO_PASS and
PASS_TO_PASS with the test patch (in the sandbox copy only) as a label apart; `synthesize` hands it
to `resolve`."""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

import pytest
from repo_fixture import REPRO_SCRIPT
from teacher_double import ScriptedTeacher

from swe_lsp.sandbox.local_sandbox import LocalSandbox
from swe_lsp.search import JobReport
from swe_lsp.search.model import LocationSet, PatchCandidate, Reproduction
from swe_lsp.search.reproduction import ReproOutcome, classify
from swe_lsp.search.verification import SandboxVerifier
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


def _candidate(inst: Instance, git_dir: Path, diff: str, cid: str = "p0") -> PatchCandidate:
    texts = patched_texts(diff, lambda p: file_at(git_dir, inst.base_commit, p))
    assert texts is not None
    locations = LocationSet("l0", "u0", ("pkg/core.py",), ())
    original = {p: file_at(git_dir, inst.base_commit, p) for p in texts}
    new = {p: t for p, t in texts.items() if t is not None}
    return PatchCandidate(cid, "l0", diff, tuple(texts), original, new, diff, locations)


def _digest(root: Path) -> dict[str, str]:
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


def test_the_instance_verifier_gives_the_servers_verdict_and_labels_with_the_hidden_tests(
    collected: tuple[Path, Instance], tmp_path: Path
) -> None:
    _, inst, git_dir = collected
    tree = checkout_repo(git_dir, inst.base_commit, tmp_path / "tree")
    before = _digest(tree)
    tests = instance_test_files(inst, git_dir)
    assert "def test_mean_empty" in (tests["tests/test_core.py"] or "")
    assert "test_mean_empty" not in (tree / "tests" / "test_core.py").read_text()  # hidden from the model
    with LocalSandbox(SandboxSettings(kind="local", timeout_s=60)) as box:
        verifier = InstanceVerifier(box, tree, inst, tests, 60, threading.Event(), "j")
        served = SandboxVerifier(box, tree, None, 60, threading.Event(), "j")
        assert verifier.test_argv(["pkg/core.py"]) == served.test_argv(["pkg/core.py"])  # the server's choice
        original = verifier.reproduce(REPRO_SCRIPT)  # validation, once, on the unpatched tree
        assert classify(original) is ReproOutcome.REPRODUCED
        kept = Reproduction(REPRO_SCRIPT, "reproduced", 1, original.exit_code)
        right = verifier.verify(_candidate(inst, git_dir, inst.patch, "p0"), kept)
        wrong = verifier.verify(_candidate(inst, git_dir, WRONG, "p1"), kept)
        none = Reproduction(None, "rejected", 1, reason="the answer holds no script")
        no_script = verifier.verify(_candidate(inst, git_dir, inst.patch, "p2"), none)
    # The search sees what it sees when served: the script and the workspace's own tests.
    for verdict in (right, wrong, no_script):
        assert "test_mean_empty" not in verdict.log + " ".join(verdict.notes) + (verdict.tests_command or "")
        assert "FAIL_TO_PASS" not in " ".join(verdict.notes)
    assert right.verified and right.tests_exit == 0 and right.tests_before_exit == 0
    assert "tests/test_core.py" in (right.tests_command or "")
    # The wrong fix passes the script (it returns 0 for []) and every visible test: verified as served.
    assert wrong.verified
    assert not no_script.verified and no_script.reproduced is None  # no script: nothing shows a fix
    # The hidden tests label the candidates, apart from the verdicts.
    labels = verifier.labels
    assert labels["p0"].resolved and labels["p0"].ran and labels["p2"].resolved
    assert not labels["p1"].resolved and labels["p1"].fail_to_pass_failing == (
        "tests/test_core.py::test_mean_empty",
    )
    assert labels["p1"].diff == WRONG
    assert _digest(tree) == before  # the test patch never reached the tree


def test_synthesize_hands_resolve_the_instance_verifier(
    collected: tuple[Path, Instance, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    run, inst, _ = collected
    seen = []

    def fake_resolve(request, backend, settings, progress, cancel, roles=None, verifier_factory=None):
        seen.append(verifier_factory(request.workspace))
        request.out_dir.mkdir(parents=True)  # where the real one writes the trajectory
        return JobReport(request.job_id, "done")

    monkeypatch.setattr(synth, "resolve", fake_resolve)
    settings = Settings.model_validate({"sandbox": {"kind": "local", "timeout_s": 60}})
    assert synthesize([inst], ScriptedTeacher(), settings, run, samples=1).run == 1
    (verifier,) = seen
    assert isinstance(verifier, InstanceVerifier) and verifier.fail_to_pass == inst.FAIL_TO_PASS
    assert "tests/test_core.py" in verifier._tests
    assert verifier.tree == run / "synth" / ".work" / inst.instance_id  # the job's workspace

    seen.clear()
    synthesize([inst], ScriptedTeacher(), settings, tmp_path / "other", samples=1, no_sandbox=True)
    assert seen == [None]
