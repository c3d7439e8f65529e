"""Step 3 end to end on hand-written trajectories of the two-issue repository, with the checks
that need a sandbox run in the local one."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path

import pytest
from repo_fixture import REPRO_SCRIPT, WRONG_DIFF

from swe_lsp.llm import Message
from swe_lsp.sandbox.local_sandbox import LocalSandbox
from swe_lsp.search.records import StepRecord, write_trajectory
from swe_lsp.settings import SandboxSettings
from trainer.cli import main
from trainer.gold import served_diff
from trainer.instances import Instance, read_instances
from trainer.judge import OneShot, read_one_shot, resolve_labels
from trainer.reject import reject
from trainer.repos import file_at, git_dir_of
from trainer.runs import Runner

BAD_SCRIPT = 'print("ISSUE RESOLVED")\n'  # never reproduces


def _rec(stage: str, cid: str, parent: str | None, parsed: object, think: str = "t") -> StepRecord:
    return StepRecord(
        "j", stage, cid, parent, (Message("user", f"{stage} prompt"),), think, "a", parsed, outcome="kept"
    )


@pytest.fixture
def collected(pr_list: Path, tmp_path: Path) -> tuple[Path, Instance]:
    run = tmp_path / "run"
    assert main(["collect", "--git", str(pr_list), "--out", str(run)]) == 0
    inst = {i.instance_id: i for i in read_instances(run / "collect" / "instances.jsonl")}["mean-empty"]
    records = [
        _rec("understand", "u0", None, ["pkg/core.py"]),
        _rec("understand", "u1", None, ["pkg/__init__.py"]),
        _rec("localize", "u0.l0", "u0", ["pkg/core.py::mean"]),
        _rec("localize", "u0.l1", "u0", ["pkg/core.py::clamp"]),
        _rec("patch", "u0.l0.p0", "u0.l0", inst.patch),
        _rec("patch", "u0.l0.p1", "u0.l0", WRONG_DIFF),
        _rec("repro", "u0.l0.p0", "u0.l0", REPRO_SCRIPT),
        _rec("repro", "u0.l0.p1", "u0.l0", BAD_SCRIPT),
    ]
    write_trajectory(run / "synth" / "mean-empty" / "0" / "trajectory.jsonl", records)
    return run, inst


def test_reject_checks_each_stage_and_keeps_correct_prefixes(collected: tuple[Path, Instance]) -> None:
    run, inst = collected
    with LocalSandbox(SandboxSettings(kind="local", timeout_s=60)) as box:
        report = reject([inst], run, Runner(box, 60))
    checks = report["checks"]
    assert checks["environment"] == {"checked": 1, "passed": 1}
    assert checks["understanding"] == {"checked": 2, "passed": 1}
    assert checks["localization"] == {"checked": 2, "passed": 1}
    assert checks["reproduction"] == {"checked": 2, "passed": 1}
    assert checks["patch"] == {"checked": 2, "passed": 1}
    sft = [json.loads(line) for line in (run / "reject" / "sft.jsonl").read_text().splitlines()]
    assert [(r["stage"], r["candidate_id"]) for r in sft] == [
        ("understand", "u0"),
        ("localize", "u0.l0"),
        ("patch", "u0.l0.p0"),
        ("repro", "u0.l0.p0"),
    ]
    labels = [json.loads(line) for line in (run / "reject" / "labels.jsonl").read_text().splitlines()]
    synth = {(r["stage"], r["candidate_id"]): r["label"] for r in labels if r["source"] == "synth"}
    assert synth[("patch", "u0.l0.p1")] is False and synth[("localize", "u0.l0")] is True
    localize = next(r for r in labels if r["candidate_id"] == "u0.l0")
    assert localize["step"].startswith("pkg/core.py::mean\n\n### pkg/core.py (lines")  # as the server renders
    assert sum(r["source"] == "gold" for r in labels) == 3
    pairs = [json.loads(line) for line in (run / "reject" / "pairs.jsonl").read_text().splitlines()]
    # Both sides as the server's diff writer writes them (git's `index` line and WRONG_DIFF's
    # context-free hunk are gone), so the pair differs by the fix alone.
    git_dir = git_dir_of(Path(inst.git_dir or ""))
    read = lambda p: file_at(git_dir, inst.base_commit, p)  # noqa: E731
    gold, wrong = served_diff(inst.patch, read), served_diff(WRONG_DIFF, read)
    assert gold != inst.patch and wrong != WRONG_DIFF
    assert [(p["chosen"], p["rejected"]) for p in pairs] == [(gold, wrong)]
    assert report["counts"]["gold_rerendered"] == 1


def test_without_a_sandbox_the_sandbox_checks_are_not_counted(collected: tuple[Path, Instance]) -> None:
    run, inst = collected
    report = reject([inst], run, Runner(None))
    assert report["checks"]["reproduction"]["checked"] == 0 and report["checks"]["patch"]["checked"] == 0
    assert report["checks"]["understanding"]["checked"] == 2
    assert report["orm_pairs"] == 0


def test_location_labels_resolve_against_the_base_commit(collected: tuple[Path, Instance]) -> None:
    _, inst = collected
    git_dir = git_dir_of(Path(inst.git_dir or ""))
    read = lambda p: file_at(git_dir, inst.base_commit, p)  # noqa: E731
    found = resolve_labels(["pkg/core.py::Counter.add", "pkg/core.py:1-2", "pkg/core.py::nope", "x.py"], read)
    assert [(loc.symbol, loc.start, loc.end) for loc in found] == [("Counter.add", 21, 23), (None, 1, 2)]


def test_the_trainer_resolves_labels_as_the_search_does(
    collected: tuple[Path, Instance], tmp_path: Path
) -> None:
    """A short name the search accepts (`::add` for `Counter.add`) gives the PRM the same location
    at training time as at serving time, whole files and spans included."""
    from swe_lsp.search.context import JobContext
    from swe_lsp.search.localize import resolve_locations
    from swe_lsp.search.prompts import parse_localize_answer
    from swe_lsp.workspace import RepoIndex
    from trainer.repos import materialize

    _, inst = collected
    git_dir = git_dir_of(Path(inst.git_dir or ""))
    labels = [
        "pkg/core.py::add",
        "pkg/core.py::Counter.add",
        "pkg/core.py:1-2",
        "pkg/core.py",
        "pkg/core.py::nope",
    ]
    tree = materialize(git_dir, inst.base_commit, tmp_path / "base")
    ctx = JobContext(inst.problem_statement, RepoIndex.build_or_load(tree, None))
    answer = parse_localize_answer("LOCATIONS\n" + "\n".join(labels), (), len(labels))
    served, problems = resolve_locations(ctx, answer.locations)
    trained = resolve_labels(labels, lambda p: file_at(git_dir, inst.base_commit, p))
    assert trained == served and len(problems) == 1
    assert (trained[0].symbol, trained[0].start, trained[0].end) == ("Counter.add", 21, 23)


def test_complexity_drops_an_instance_the_base_model_solves_in_one_shot(
    collected: tuple[Path, Instance], tmp_path: Path
) -> None:
    run, inst = collected
    with LocalSandbox(SandboxSettings(kind="local", timeout_s=60)) as box:
        solved = reject(
            [inst],
            run,
            Runner(box, 60),
            one_shot={inst.instance_id: [OneShot(WRONG_DIFF), OneShot(inst.patch)]},
        )
        assert solved["checks"]["complexity"] == {"checked": 1, "passed": 0}
        assert solved["counts"]["instances_dropped_complexity"] == 1
        assert solved["sft_steps"] == 0 and "instances" not in solved["counts"]

        unsolved = reject(
            [inst], run, Runner(box, 60), one_shot={inst.instance_id: [OneShot(WRONG_DIFF), OneShot("")]}
        )
        assert unsolved["checks"]["complexity"] == {"checked": 1, "passed": 1}
        assert "instances_dropped_complexity" not in unsolved["counts"]
        assert unsolved["counts"]["instances"] == 1 and unsolved["sft_steps"] == 4


def test_complexity_reads_eval_verdicts_and_counts_an_instance_without_attempts_as_unchecked(
    collected: tuple[Path, Instance], tmp_path: Path
) -> None:
    run, inst = collected
    results = tmp_path / "results.jsonl"
    rows = [
        {"instance_id": inst.instance_id, "budget": 1, "model_patch": "not a diff", "resolved": True},
        {"instance_id": "other", "model_patch": WRONG_DIFF},
    ]
    results.write_text("".join(json.dumps(r) + "\n" for r in rows))
    attempts = read_one_shot(results)
    assert attempts[inst.instance_id] == [OneShot("not a diff", True)] and attempts["other"] == [
        OneShot(WRONG_DIFF)
    ]
    # A verdict from `eval` is taken as it is: no sandbox needed to drop the instance.
    report = reject([inst], run, Runner(None), one_shot=attempts)
    assert report["checks"]["complexity"] == {"checked": 1, "passed": 0}
    report = reject([inst], run, Runner(None), one_shot={})
    assert report["checks"]["complexity"]["checked"] == 0 and report["counts"]["instances"] == 1


def test_every_patch_is_checked_with_the_jobs_validated_script(collected: tuple[Path, Instance]) -> None:
    """A trajectory with one reproduction per job (the attempts `<locations>.repro<i>`, the kept one
    marked `reproduced`): each patch is checked with that script, and only the kept attempt's step
    is accepted for fine-tuning."""
    run, inst = collected
    records = [
        _rec("understand", "u0", None, ["pkg/core.py"]),
        _rec("localize", "u0.l0", "u0", ["pkg/core.py::mean"]),
        _rec("patch", "u0.l0.p0", "u0.l0", inst.patch),
        _rec("patch", "u0.l0.p1", "u0.l0", WRONG_DIFF),
        replace(_rec("repro", "u0.l0.repro0", "u0.l0", BAD_SCRIPT), outcome="not_reproduced"),
        replace(_rec("repro", "u0.l0.repro1", "u0.l0", REPRO_SCRIPT), outcome="reproduced", round=1),
    ]
    write_trajectory(run / "synth" / "mean-empty" / "0" / "trajectory.jsonl", records)
    scripts: list[str | None] = []

    class Spy(Runner):
        def patch(self, tree, inst, changed, tests, script):  # type: ignore[no-untyped-def]
            scripts.append(script)
            return super().patch(tree, inst, changed, tests, script)

    with LocalSandbox(SandboxSettings(kind="local", timeout_s=60)) as box:
        report = reject([inst], run, Spy(box, 60))
    assert scripts == [REPRO_SCRIPT, REPRO_SCRIPT]
    assert report["checks"]["reproduction"] == {"checked": 2, "passed": 1}
    assert report["checks"]["patch"] == {"checked": 2, "passed": 1}
    sft = [json.loads(line) for line in (run / "reject" / "sft.jsonl").read_text().splitlines()]
    assert ("repro", "u0.l0.repro1") in [(r["stage"], r["candidate_id"]) for r in sft]
    assert ("repro", "u0.l0.repro0") not in [(r["stage"], r["candidate_id"]) for r in sft]
