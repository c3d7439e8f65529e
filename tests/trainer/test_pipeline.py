"""The whole CPU pipeline on the embedded SmolLM2-135M: collect -> synth (the embedded model as the
teacher, in process) -> reject (local sandbox) -> sft -> prm -> orm (2 steps each) -> export, then
the server's library API loads the exported manifest and scores with the new PRM and ORM adapters."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from swe_lsp.llm import get_manifest, open_backend, prepare
from swe_lsp.search import BackendORM, BackendPRM, roles_for
from swe_lsp.search.prompts import prm_messages
from swe_lsp.settings import ModelSettings, load_settings
from trainer.cli import main
from trainer.instances import read_instances
from trainer.synth import synthesize

REPO = Path(__file__).resolve().parents[2]
CPU = str(REPO / "configs" / "cpu-tiny.toml")


@pytest.mark.slow
def test_collect_to_export_then_the_server_scores_with_the_trained_adapters(
    pr_list: Path, tmp_path: Path, model_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SWE_LSP_CACHE_DIR", str(model_cache))
    run = tmp_path / "run"
    assert main(["collect", "--git", str(pr_list), "--out", str(run)]) == 0
    instances = read_instances(run / "collect" / "instances.jsonl")
    assert len(instances) == 2

    manifest = get_manifest("smollm2-135m")
    prepare(manifest, model_cache)
    overrides = {
        "model": {"name": "smollm2-135m", "backend": "transformers", "threads": 1, "device": "cpu"},
        "search": {
            "budget": 2,
            "beam": 1,
            "max_tokens": 64,
            "max_localization_rounds": 1,
            "max_refinements": 0,
        },
        "sandbox": {"kind": "local", "timeout_s": 60},
    }
    settings = load_settings(None, overrides).settings
    with open_backend(manifest, settings.model, model_cache) as backend:
        summary = synthesize(instances, backend, settings, run, samples=1)
        assert (summary.run, summary.skipped, summary.failed) == (2, 0, 0)
        # The tiny model thinks past 64 tokens: the summary says how often it was cut.
        assert summary.max_tokens == 64 and summary.generations > 0 and summary.cut_rate is not None
        again = synthesize(instances, backend, settings, run, samples=1)
        assert again.skipped == 2 and again.generations == summary.generations  # resumable
    trajectory = run / "synth" / "mean-empty" / "0" / "trajectory.jsonl"
    rows = [json.loads(line) for line in trajectory.read_text().splitlines()]
    assert {"understand", "localize"} <= {r["stage"] for r in rows}
    prompts = [m["content"] for r in rows for m in r["messages"]]
    assert not [p for p in prompts if "test_mean_empty" in p]  # the hidden test never reaches a prompt

    assert main(["reject", "--out", str(run), "--sandbox", "local", "--timeout", "60"]) == 0
    report = json.loads((run / "reject" / "report.json").read_text())
    assert report["checks"]["environment"] == {"checked": 2, "passed": 2}  # the gold patches pass their tests
    assert report["checks"]["understanding"]["checked"] >= 2
    assert report["prm_labels"] > report["prm_positive"] > 0  # gold steps at least, and some failures

    # The server's flywheel: a pair exported from its job store (a user applied the first patch).
    gold = instances[0].patch
    wrong = gold.replace("raise ValueError", "return 0  #")
    feedback = tmp_path / "pairs.jsonl"
    pair = {"job_id": "j1", "prompt": instances[0].problem_statement, "chosen": gold, "rejected": wrong}
    feedback.write_text(json.dumps(pair) + "\n")

    base = ["--out", str(run), "--config", CPU]
    assert main(["sft", *base, "--base", "smollm2-135m"]) == 0
    assert main(["prm", *base]) == 0
    assert main(["orm", *base, "--feedback", str(feedback)]) == 0
    models = tmp_path / "models"
    assert main(["export", "smollm2-trained", "--out", str(run), "--models", str(models)]) == 0

    trained = get_manifest("smollm2-trained", [models])
    assert trained.base == manifest.base  # the same embedded base, de-quantized once
    model_settings = ModelSettings(backend="transformers", device="cpu", threads=1)
    with open_backend(trained, model_settings, model_cache) as backend:
        roles = roles_for(backend, trained)
        assert isinstance(roles.prm, BackendPRM) and roles.prm.adapter == "prm"
        issue = instances[0].problem_statement
        new = roles.prm.score("understand", issue, ["pkg/core.py"])[0].value
        old = backend.p_yes([_judge_request(issue)])[0].value
        assert new != old
        assert isinstance(roles.orm, BackendORM) and roles.orm.adapter == "orm"
        scores = [s.value for s in roles.orm.score(issue, [gold, wrong])]
        assert all(0 < s < 1 for s in scores) and scores[0] != 0.5  # tuned - base is not zero


def _judge_request(issue: str):
    from swe_lsp.llm import ScoreRequest

    return ScoreRequest(prm_messages("understand", issue, "pkg/core.py"))
