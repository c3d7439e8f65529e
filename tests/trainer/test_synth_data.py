"""Issue 16: the trainer's data matches serving. One test per fault, on the two-issue repository:
synth's prompts never show the instance's hidden tests, a gold diff and a model diff of the same
change are byte-identical, a coarse localization is labelled incorrect, and synth gives the teacher
its own token budget and reports how often it was cut."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from repo_fixture import FIXES
from teacher_double import WRONG, ScriptedTeacher, edit_block

from swe_lsp.llm import Message, get_manifest
from swe_lsp.patch import apply_model_output
from swe_lsp.sandbox.local_sandbox import LocalSandbox
from swe_lsp.search.records import StepRecord, read_trajectory, write_trajectory
from swe_lsp.settings import SandboxSettings, Settings
from trainer.checks import check_localization
from trainer.cli import main
from trainer.gold import gold_of, served_diff
from trainer.instances import Instance, read_instances
from trainer.judge import InstanceJudge, Tally, resolve_labels
from trainer.reject import reject
from trainer.repos import checkout_repo, file_at, git_dir_of
from trainer.runs import Runner
from trainer.synth import synthesize
from trainer.teacher import TEACHER_TURN_TOKENS, teacher_max_tokens

# The instance's hidden test, and what pytest prints when it fails with the wrong fix.
HIDDEN = ("test_mean_empty", "DID NOT RAISE")


@pytest.fixture
def collected(pr_list: Path, tmp_path: Path) -> tuple[Path, Instance]:
    run = tmp_path / "run"
    assert main(["collect", "--git", str(pr_list), "--out", str(run)]) == 0
    inst = {i.instance_id: i for i in read_instances(run / "collect" / "instances.jsonl")}["mean-empty"]
    return run, inst


def _rec(stage: str, cid: str, parent: str | None, parsed: object) -> StepRecord:
    return StepRecord("j", stage, cid, parent, (Message("user", f"{stage} prompt"),), "t", "a", parsed)


def _settings(tmp_path: Path, **search: object) -> Settings:
    return Settings.model_validate(
        {
            "cache_dir": str(tmp_path / "cache"),
            "search": {"budget": 1, "beam": 1, "max_localization_rounds": 1, "max_refinements": 1, **search},
            "sandbox": {"kind": "local", "timeout_s": 60},
        }
    )


def test_no_prompt_synth_writes_shows_the_hidden_tests(
    collected: tuple[Path, Instance], tmp_path: Path
) -> None:
    """The teacher's first patch is wrong, so the search refines it with the failure log: that log
    is its own script's and the selected regression tests' output, never the FAIL_TO_PASS test's
    (which the instance's tests still label the candidates with, in report.json only)."""
    run, inst = collected
    teacher = ScriptedTeacher()
    summary = synthesize([inst], teacher, _settings(tmp_path), run, samples=1)
    assert summary.run == 1 and summary.failed == 0
    records = read_trajectory(run / "synth" / inst.instance_id / "0" / "trajectory.jsonl")
    refine = [r for r in records if r.stage == "refine"]
    assert refine and "failed verification" in refine[0].messages[-1].content  # a refinement was asked
    assert "ISSUE REPRODUCED" in refine[0].messages[-1].content  # with the script's own output
    assert "tests/test_core.py" in refine[0].messages[-1].content  # and the selected tests'
    prompts = [m.content for r in records for m in r.messages]
    assert not [p for p in prompts if any(h in p for h in HIDDEN)]
    report = json.loads((run / "synth" / inst.instance_id / "0" / "report.json").read_text())
    labels = {
        c["diff"].count("raise ValueError"): (c["verified"], c["resolved"]) for c in report["candidates"]
    }
    assert labels == {1: (True, True), 0: (False, False)}  # the hidden tests label, apart
    assert summary.resolved == 1

    with LocalSandbox(SandboxSettings(kind="local", timeout_s=60)) as box:
        reject([inst], run, Runner(box, 60))
    sft = [json.loads(line) for line in (run / "reject" / "sft.jsonl").read_text().splitlines()]
    # (A refinement is accepted only when the patch it refines passed: `checks.PARENT_STAGE`.)
    examples = [m["content"] for r in sft for m in r["messages"]]
    assert examples and not [p for p in examples if any(h in p for h in HIDDEN)]


@pytest.mark.parametrize("instance_id", ["mean-empty", "clamp-high"])
def test_a_gold_diff_and_a_model_diff_of_the_same_change_are_byte_identical(
    pr_list: Path, tmp_path: Path, instance_id: str
) -> None:
    """git's gold diff (`diff --git`, `index`, a `@@ ... @@ def mean(values):` section header that
    does not even name the changed function) rendered by the server's writer is the diff the
    search writes from the model's edit blocks for the same change, byte for byte; reject's pairs
    and PRM positives hold that form."""
    run = tmp_path / "run"
    assert main(["collect", "--git", str(pr_list), "--out", str(run)]) == 0
    inst = {i.instance_id: i for i in read_instances(run / "collect" / "instances.jsonl")}[instance_id]
    git_dir = git_dir_of(Path(inst.git_dir or ""))
    read = lambda p: file_at(git_dir, inst.base_commit, p)  # noqa: E731
    tree = checkout_repo(git_dir, inst.base_commit, tmp_path / "tree")
    old, new, _ = FIXES[instance_id]
    model = apply_model_output(edit_block(old, new), tree).patch
    wrong = apply_model_output(WRONG, tree).patch if instance_id == "mean-empty" else None
    assert model is not None
    assert inst.patch.startswith("diff --git") and inst.patch != model.diff  # as git wrote it
    gold = served_diff(inst.patch, read)
    assert gold == model.diff
    assert served_diff(model.diff, read) == model.diff  # the server's own diff comes back unchanged

    judge = InstanceJudge(inst, tree, git_dir, Runner(None), Tally())
    judge.passing.append(model.diff)  # the teacher found the gold fix: one chosen, not two
    judge.failing.append(wrong.diff if wrong else model.diff.replace("+    ", "+    # "))
    pairs = judge.pairs()
    assert [p["chosen"] for p in pairs] == [gold]
    judge.gold_steps()
    assert next(r["step"] for r in judge.labels if r["stage"] == "patch") == gold


LOCATED = {
    "pkg/core.py::mean": True,  # the fixed function
    "pkg/core.py:6-7": True,  # a span inside it, on the changed line
    "pkg/core.py": False,  # the bare file contains the fix without pointing at it
    "pkg/core.py:1-12": False,  # a span over the function and more
    "pkg/core.py::clamp": False,  # another function
}


@pytest.mark.parametrize(("label", "correct"), LOCATED.items())
def test_a_location_is_correct_only_at_the_fixed_functions_grain(
    collected: tuple[Path, Instance], label: str, correct: bool
) -> None:
    _, inst = collected
    git_dir = git_dir_of(Path(inst.git_dir or ""))
    read = lambda p: file_at(git_dir, inst.base_commit, p)  # noqa: E731
    spans = [(loc.file, loc.start, loc.end) for loc in resolve_labels([label], read)]
    verdict = check_localization(spans, gold_of(inst.patch, read))
    assert verdict.passed is correct, verdict.reason


def test_reject_labels_a_file_only_localization_incorrect(collected: tuple[Path, Instance]) -> None:
    run, inst = collected
    records = [
        _rec("understand", "u0", None, ["pkg/core.py"]),
        _rec("localize", "u0.l0", "u0", ["pkg/core.py"]),
        _rec("localize", "u0.l1", "u0", ["pkg/core.py::mean"]),
    ]
    write_trajectory(run / "synth" / inst.instance_id / "0" / "trajectory.jsonl", records)
    report = reject([inst], run, Runner(None))
    labels = [json.loads(line) for line in (run / "reject" / "labels.jsonl").read_text().splitlines()]
    localize = {r["candidate_id"]: r["label"] for r in labels if r["stage"] == "localize"}
    assert localize == {"u0.l0": False, "u0.l1": True, "gold": True}
    assert report["counts"]["localizations_too_coarse"] == 1
    sft = [
        json.loads(line)["candidate_id"] for line in (run / "reject" / "sft.jsonl").read_text().splitlines()
    ]
    assert sft == ["u0", "u0.l1"]


def test_synth_gives_the_teacher_its_own_budget_and_reports_the_cut_rate(
    collected: tuple[Path, Instance], tmp_path: Path
) -> None:
    run, inst = collected
    manifest = get_manifest("smollm2-135m")
    expected = teacher_max_tokens(manifest)
    assert expected == min(TEACHER_TURN_TOKENS, manifest.context_length // 2) == 4096
    assert expected > max(manifest.limits.turn_tokens.values())  # longer than serving's 1k turns
    assert teacher_max_tokens(get_manifest("swe-reasoner-32b")) == 16384  # half a 32k context

    teacher = ScriptedTeacher(cut=("localize",))
    summary = synthesize([inst], teacher, _settings(tmp_path), run, samples=1, no_sandbox=True)
    assert {limit for _, limit in teacher.asked} == {expected}  # every turn, every stage
    assert summary.max_tokens == expected
    assert 0 < teacher.cut < summary.generations == len(teacher.asked)
    assert summary.cut == teacher.cut and summary.cut_rate == round(teacher.cut / len(teacher.asked), 4)
    report = json.loads((run / "synth" / inst.instance_id / "0" / "report.json").read_text())
    assert (report["generations"], report["cut"]) == (summary.generations, summary.cut)

    # --max-tokens (the settings' search.max_tokens) overrides the default; the CLI prints the rate.
    again = ScriptedTeacher()
    other = synthesize([inst], again, _settings(tmp_path, max_tokens=777), tmp_path / "other", samples=1,
                       no_sandbox=True)  # fmt: skip
    assert {limit for _, limit in again.asked} == {777} and other.cut == 0 and other.cut_rate == 0.0
    assert f"{summary.cut} of {summary.generations} generations cut at {expected} tokens" in summary.line()
    assert summary.to_json()["cut_rate"] == summary.cut_rate


def test_the_synth_command_prints_and_records_the_cut_rate(
    collected: tuple[Path, Instance], monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import swe_lsp.llm

    run, _ = collected
    teacher = ScriptedTeacher(cut=("understand",))
    monkeypatch.setattr(swe_lsp.llm, "open_backend", lambda *_a, **_k: teacher)
    argv = ["synth", "--out", str(run), "--model", "smollm2-135m", "--sandbox", "none", "--limit", "1"]
    capsys.readouterr()
    assert main([*argv, "--samples", "1", "--budget", "1", "--beam", "1", "--json"]) == 0
    out = capsys.readouterr().out
    printed = json.loads(out)  # the one document on stdout: the progress bar is on stderr
    assert printed == json.loads((run / "synth" / "summary.json").read_text())
    assert printed["max_tokens"] == 4096 and printed["cut"] == teacher.cut > 0
    assert printed["cut_rate"] == round(teacher.cut / len(teacher.asked), 4)
    settings = json.loads((run / "provenance.json").read_text())[-1]["settings"]
    assert settings["max_tokens"] == 4096  # the budget the teacher ran under is recorded
