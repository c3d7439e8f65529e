"""Steps 4-7 on a tiny random Qwen2 (two optimizer steps each), then the server's loader and
backend on the exported manifest: the trained PRM and ORM adapters score differently from the base."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from swe_lsp.llm import ScoreRequest, open_backend
from swe_lsp.llm.manifest import load_manifest_file
from swe_lsp.search import BackendORM, BackendPRM
from swe_lsp.search.prompts import orm_messages, understand_messages
from swe_lsp.settings import ModelSettings
from trainer.cli import main
from trainer.config import load_config

REPO = Path(__file__).resolve().parents[2]
CPU = REPO / "configs" / "cpu-tiny.toml"
ISSUE = "mean() of an empty list raises ZeroDivisionError"
GOOD = "--- a/pkg/core.py\n+++ b/pkg/core.py\n@@ -1 +1,2 @@\n+if not values: raise ValueError\n x = 1\n"
BAD = "--- a/pkg/core.py\n+++ b/pkg/core.py\n@@ -1 +1 @@\n-x = 1\n+x = 0\n"


def _write(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))


def _reject_outputs(run: Path) -> None:
    messages = [{"role": m.role, "content": m.content} for m in understand_messages(ISSUE, "pkg/", [])]
    step = {"instance_id": "a", "stage": "understand", "candidate_id": "u0", "round": 0, "messages": messages}
    _write(
        run / "reject" / "sft.jsonl", [{**step, "think": "mean is in core", "answer": '["pkg/core.py"]'}] * 2
    )
    row = {"instance_id": "a", "stage": "understand", "issue": ISSUE, "reason": "", "source": "synth"}
    labels = [
        {
            **row,
            "candidate_id": f"u{i}",
            "step": "pkg/core.py" if i % 2 else "pkg/other.py",
            "label": bool(i % 2),
        }
        for i in range(8)
    ]
    _write(run / "reject" / "labels.jsonl", labels)
    pair = {"instance_id": "a", "issue": ISSUE, "chosen": GOOD, "rejected": BAD, "source": "reject"}
    _write(run / "reject" / "pairs.jsonl", [pair] * 4)


def test_config_refuses_an_lm_head_lora(tmp_path: Path) -> None:
    bad = tmp_path / "c.toml"
    bad.write_text('target_modules = ["q_proj", "lm_head"]\n')
    from swe_lsp.errors import SettingsError

    with pytest.raises(SettingsError, match="lm_head"):
        load_config(bad, "sft")
    assert load_config(CPU, "orm").beta == 0.1 and load_config(CPU, "sft").max_steps == 2


def test_sft_prm_orm_export_and_the_server_scores_with_the_adapters(tiny_model: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    _reject_outputs(run)
    common = ["--out", str(run), "--config", str(CPU)]
    assert main(["sft", *common, "--base", str(tiny_model)]) == 0
    assert main(["prm", *common]) == 0
    assert main(["orm", *common]) == 0
    for step in ("sft", "prm", "orm"):
        adapter = json.loads((run / step / "adapter" / "adapter_config.json").read_text())
        assert "lm_head" not in adapter["target_modules"]
        assert adapter["r"] == 8
    prm = json.loads((run / "prm" / "report.json").read_text())
    assert prm["train"] == 6 and prm["heldout"] == 2 and prm["heldout_positive"] == 1
    assert prm["auc"] is not None and prm["metrics"]["train_runtime"] > 0
    orm = json.loads((run / "orm" / "report.json").read_text())
    assert orm["pairs"] == 4 and orm["heldout"] == 1 and orm["pairwise_accuracy"] is not None
    steps = [e["step"] for e in json.loads((run / "provenance.json").read_text())]
    assert steps == ["sft", "prm", "orm"]

    models = tmp_path / "models"
    assert main(["export", "tiny-trained", "--out", str(run), "--models", str(models)]) == 0
    manifest = load_manifest_file(models / "tiny-trained.toml")
    assert {r: s.kind for r, s in manifest.roles.items()} == {
        "policy": "adapter",
        "prm": "adapter",
        "orm": "adapter",
    }
    assert manifest.roles["orm"].beta == 0.1
    assert (models / "tiny-trained" / "provenance.json").is_file()

    settings = ModelSettings(backend="transformers", device="cpu", threads=1)
    with open_backend(manifest, settings, tmp_path / "cache") as backend:
        prompt = BackendPRM(backend, manifest)
        scored = prompt.score("understand", ISSUE, ["pkg/core.py"])[0].value
        from swe_lsp.search.prompts import prm_messages

        judge = backend.p_yes([ScoreRequest(prm_messages("understand", ISSUE, "pkg/core.py"))])[0].value
        assert scored != judge  # the trained PRM adapter, not the untrained judge
        tuned = backend.logprob([ScoreRequest(orm_messages(ISSUE), GOOD, adapter="orm")])[0].value
        base = backend.logprob([ScoreRequest(orm_messages(ISSUE), GOOD)])[0].value
        assert tuned != base
        assert 0.0 < BackendORM(backend, manifest).score(ISSUE, [GOOD])[0].value < 1.0
