"""Steps 4-7 on a tiny random Qwen2 (two optimizer steps each), then the server's loader and
backend on the exported manifest: the trained PRM and ORM adapters score differently from the base."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from swe_lsp.llm import ScoreRequest, open_backend
from swe_lsp.llm.manifest import load_manifest_file
from swe_lsp.search import BackendORM, BackendPolicy, BackendPRM
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
    messages = [{"role": m.role, "content": m.content} for m in understand_messages(ISSUE, "pkg/", [], 5)]
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


def test_export_after_a_full_fine_tune_serves_the_policy_as_the_base(
    tiny_model: Path, tmp_path: Path
) -> None:
    from safetensors.torch import load_file

    from swe_lsp.errors import SettingsError
    from swe_lsp.llm import GenerateRequest, SamplingConfig
    from trainer.export import export
    from trainer.modeling import is_full_checkpoint

    run = tmp_path / "run"
    _reject_outputs(run)
    common = ["--out", str(run), "--config", str(CPU)]
    models = tmp_path / "models"
    # A PRM trained before the full fine-tune sits on the original base: exporting it would serve
    # it on a model it never saw.
    assert main(["prm", *common, "--base", str(tiny_model)]) == 0
    assert main(["sft", *common, "--full"]) == 0
    full = run / "sft" / "adapter"
    assert is_full_checkpoint(full)
    with pytest.raises(SettingsError, match="prm adapter was trained on"):
        export(run, "tiny-full", models)

    shutil.rmtree(run / "prm")
    assert main(["prm", *common]) == 0
    assert main(["orm", *common]) == 0
    for step in ("prm", "orm"):  # both trained on the full fine-tune, as the server will load them
        config = json.loads((run / step / "adapter" / "adapter_config.json").read_text())
        assert Path(config["base_model_name_or_path"]).resolve() == full.resolve()
    assert main(["export", "tiny-full", "--out", str(run), "--models", str(models)]) == 0

    manifest = load_manifest_file(models / "tiny-full.toml")
    assert manifest.base.kind == "hf" and manifest.base.path == "tiny-full/policy"
    assert {r: s.kind for r, s in manifest.roles.items()} == {
        "policy": "base",
        "prm": "adapter",
        "orm": "adapter",
    }
    served = load_file(str(models / "tiny-full" / "policy" / "model.safetensors"))
    original = load_file(str(tiny_model / "model.safetensors"))
    assert any(not served[k].equal(original[k]) for k in original)  # the fine-tuned weights, not the base

    settings = ModelSettings(backend="transformers", device="cpu", threads=1)
    with open_backend(manifest, settings, tmp_path / "cache") as backend:
        policy = BackendPolicy(backend, manifest)
        (generation,) = policy.generate(
            [GenerateRequest(understand_messages(ISSUE, "pkg/", [], 5), SamplingConfig(max_tokens=4))]
        )
        assert generation.samples[0].text is not None and policy.adapter is None
        scored = BackendPRM(backend, manifest).score("understand", ISSUE, ["pkg/core.py"])[0].value
        from swe_lsp.search.prompts import prm_messages

        judge = backend.p_yes([ScoreRequest(prm_messages("understand", ISSUE, "pkg/core.py"))])[0].value
        assert scored != judge
        assert 0.0 < BackendORM(backend, manifest).score(ISSUE, [GOOD])[0].value < 1.0


def test_dpo_trains_on_the_token_sequences_the_server_scores(tiny_model: Path, tmp_path: Path) -> None:
    """The ORM's DPO rows, once trl has prepared them, are the very tokens a backend's `logprob`
    scores for the same issue and diff: same ids, no EOS after the diff, the same log-probability."""
    import torch
    from datasets import Dataset
    from trl import DPOConfig, DPOTrainer

    from swe_lsp.llm import get_manifest
    from trainer.dpo import ServedDPOTrainer
    from trainer.examples import orm_pair
    from trainer.modeling import cache_dir, common_args, load_model, load_tokenizer, lora_config, resolve_base
    from trainer.scoring import base_only

    cfg = load_config(CPU, "orm")
    base = resolve_base(tmp_path / "run", str(tiny_model), cache_dir())
    tokenizer = load_tokenizer(base)
    rows = Dataset.from_list([orm_pair(base.template, ISSUE, GOOD, BAD)])

    def prepared(cls: type) -> dict:
        args = DPOConfig(
            **common_args(cfg, tmp_path / cls.__name__), beta=cfg.beta, max_length=cfg.max_length
        )
        trainer = cls(
            model=load_model(base, cfg),
            args=args,
            train_dataset=rows,
            processing_class=tokenizer,
            peft_config=lora_config(cfg),
        )
        return {"row": trainer.train_dataset[0], "model": trainer.model}

    stock = prepared(DPOTrainer)["row"]
    assert stock["chosen_ids"][-1] == tokenizer.eos_token_id  # what trl does on its own
    served = prepared(ServedDPOTrainer)
    row, model = served["row"], served["model"]
    assert tokenizer.eos_token_id not in (row["chosen_ids"][-1], row["rejected_ids"][-1])

    manifest_file = tmp_path / "tiny.toml"
    manifest_file.write_text(
        f'name = "tiny"\n[base]\nkind = "hf"\npath = "{tiny_model}"\n'
        '[roles]\npolicy = "base"\nprm = "judge"\norm = "judge"\n'
    )
    manifest = get_manifest("tiny", [tmp_path])
    settings = ModelSettings(backend="transformers", device="cpu", threads=1)
    with open_backend(manifest, settings, tmp_path / "cache") as backend:
        for diff, ids in ((GOOD, row["chosen_ids"]), (BAD, row["rejected_ids"])):
            request = ScoreRequest(orm_messages(ISSUE), diff)
            prompt_ids = backend.tokenizer.encode(backend.render(request.prompt), add_special_tokens=False)
            assert row["prompt_ids"] == prompt_ids
            assert ids == backend.tokenizer.encode(diff, add_special_tokens=False)
            (scored,) = backend.logprob([request])
            assert scored.usage.prompt_tokens == len(row["prompt_ids"]) + len(ids)
            # The log-probability DPO's policy term is built from, on the base (LoRA off): the same.
            sequence = torch.tensor([row["prompt_ids"] + ids])
            with base_only(model), torch.no_grad():
                logits = model(input_ids=sequence).logits[0].float()
            logp = torch.log_softmax(logits[len(row["prompt_ids"]) - 1 : -1], dim=-1)
            trained = float(logp.gather(1, torch.tensor(ids)[:, None]).sum())
            assert abs(trained - scored.value) < 1e-3
