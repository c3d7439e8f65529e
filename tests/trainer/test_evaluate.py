"""Step 8, `eval`, on the two-issue repository: a scripted policy writes a wrong fix at budget 1 and
the right one at budget 2; the search verifies in the local sandbox, and the predictions are scored
by the instance's FAIL_TO_PASS test, which only the test patch adds, graded per test from its log."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from repo_fixture import REPRO_SCRIPT, WRONG_DIFF

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "search"))

from scripted import ContainsScorer, ScriptedPolicy, answer, roles

from swe_lsp.sandbox.local_sandbox import LocalSandbox
from swe_lsp.settings import SandboxSettings, Settings
from trainer.cli import main
from trainer.evaluate import Scoring, evaluate, prepare_scoring, score
from trainer.instances import Instance, read_instances
from trainer.repos import checkout_repo, git_dir_of
from trainer.runs import Runner

RIGHT = """### pkg/core.py
<<<<<<< SEARCH
    values = list(values)
    return sum(values) / len(values)
=======
    values = list(values)
    if not values:
        raise ValueError("mean() of no data")
    return sum(values) / len(values)
>>>>>>> REPLACE
"""
WRONG = RIGHT.replace('    if not values:\n        raise ValueError("mean() of no data")\n', "").replace(
    "/ len(values)\n>>>>>>>", "/ max(len(values), 1)\n>>>>>>>"
)
REPRO = f'```python\n{REPRO_SCRIPT}print("ISSUE REPRODUCED"); sys.exit(1)\n```'


@pytest.fixture
def instance(pr_list: Path, tmp_path: Path) -> Instance:
    run = tmp_path / "run"
    assert main(["collect", "--git", str(pr_list), "--out", str(run)]) == 0
    found = {i.instance_id: i for i in read_instances(run / "collect" / "instances.jsonl")}
    return found["mean-empty"]


def test_eval_resolves_scores_and_writes_the_per_budget_curve(instance: Instance, tmp_path: Path) -> None:
    assert instance.FAIL_TO_PASS == ("tests/test_core.py::test_mean_empty",)
    # The same issue once more, with a FAIL_TO_PASS test the gold patch does not make pass: its
    # environment "does not build", and its predictions must come out unscored, not unresolved.
    broken = Instance(
        **{**instance.to_json(), "instance_id": "broken-env", "FAIL_TO_PASS": ("tests/test_core.py::nope",)}
    )
    policy = ScriptedPolicy(
        {
            "understand": [answer('["pkg/core.py"]')],
            "localize": [answer("LOCATIONS\npkg/core.py::mean")],
            # Cycled across jobs: budget 1 gets WRONG; budget 2 gets RIGHT and WRONG.
            "patch": [answer(WRONG), answer(RIGHT), answer(WRONG)],
            "repro": [answer(REPRO)],
        }
    )
    flat = ContainsScorer([], 0.5)  # the rewards cannot tell the patches apart: verification must
    settings = Settings.model_validate(
        {
            "cache_dir": str(tmp_path / "cache"),
            "model": {"seed": 0},
            "search": {"beam": 2, "max_localization_rounds": 1, "max_refinements": 0},
            "sandbox": {"kind": "local", "timeout_s": 60},
        }
    )
    out = tmp_path / "run"
    with LocalSandbox(SandboxSettings(kind="local", timeout_s=60)) as box:
        report = evaluate(
            [instance, broken],
            None,
            settings,
            out,
            [1, 2],
            Runner(box, 60),
            "scripted",
            roles=roles(policy, flat, flat),
        )
    assert report["environment"]["mean-empty"] == "builds"
    assert report["environment"]["broken-env"].startswith("environment: the gold patch fails the tests")
    one, two = report["budgets"]["1"], report["budgets"]["2"]
    assert (one["instances"], one["scored"], one["resolved"], one["resolve_rate"]) == (2, 1, 0, 0.0)
    assert (two["instances"], two["scored"], two["resolved"], two["resolve_rate"]) == (2, 1, 1, 1.0)
    assert two["cost_per_instance"]["model_calls"] > one["cost_per_instance"]["model_calls"] > 0
    assert two["cost_per_instance"]["sandbox_seconds"] > 0  # the search verified in the sandbox

    results = [json.loads(line) for line in (out / "eval" / "results.jsonl").read_text().splitlines()]
    by = {(r["instance_id"], r["budget"]): r for r in results}
    assert (
        by["mean-empty", 2]["resolved"] is True and "raise ValueError" in by["mean-empty", 2]["model_patch"]
    )
    assert (
        by["mean-empty", 1]["resolved"] is False
        and "max(len(values), 1)" in by["mean-empty", 1]["model_patch"]
    )
    assert by["broken-env", 2]["resolved"] is None and by["broken-env", 2]["unscored"].startswith(
        "environment"
    )
    predictions = [json.loads(line) for line in (out / "eval" / "predictions.jsonl").read_text().splitlines()]
    assert [sorted(p) for p in predictions] == [["instance_id", "model_name_or_path", "model_patch"]] * 2
    assert predictions[0] == {
        "instance_id": "mean-empty",
        "model_name_or_path": "scripted",
        "model_patch": by["mean-empty", 2]["model_patch"],
    }
    assert (out / "eval" / "predictions-n1.jsonl").is_file()
    # The prediction is a diff against the upstream tree: `git apply` takes it at the base commit.
    assert predictions[0]["model_patch"].startswith("diff --git a/pkg/core.py b/pkg/core.py")


def test_score_needs_an_environment_where_the_gold_patch_passes(instance: Instance, tmp_path: Path) -> None:
    git_dir = git_dir_of(Path(instance.git_dir or ""))
    tree = checkout_repo(git_dir, instance.base_commit, tmp_path / "tree")
    with LocalSandbox(SandboxSettings(kind="local", timeout_s=60)) as box:
        runner = Runner(box, 60)
        scoring = prepare_scoring(instance, tree, git_dir, runner)
        assert scoring.environment_ok is True and scoring.tree == tree
        assert score(instance, instance.patch, scoring, git_dir, runner) is True
        assert score(instance, WRONG_DIFF, scoring, git_dir, runner) is False
        assert score(instance, "", scoring, git_dir, runner) is False
    unchecked = prepare_scoring(instance, tree, git_dir, Runner(None))
    assert unchecked.environment_ok is None and unchecked.why == "no sandbox"
    assert score(instance, instance.patch, unchecked, git_dir, Runner(None)) is None
    assert (
        score(instance, instance.patch, Scoring(tree, {}, {}, False, "environment"), git_dir, runner) is None
    )
