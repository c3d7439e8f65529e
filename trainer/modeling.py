"""The base model every step trains on: resolved once per run, loaded for training with or
without LoRA, and the trl arguments that mean the same on CPU and GPU.

The run folder's `base.json` records which base the run trains (manifest name, local folder, chat
template), so `sft`, `prm`, `orm` and `export` agree without repeating `--base`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from swe_lsp.errors import SettingsError
from swe_lsp.llm import ChatTemplate, get_manifest, prepare
from swe_lsp.llm.manifest import BUILTIN_DIR
from trainer.config import TrainConfig

BASE_FILE = "base.json"
SFT_OUTPUT = Path("sft") / "adapter"  # the LoRA adapter, or the whole model after `sft --full`


@dataclass(frozen=True)
class BaseModel:
    """The run's base: the local weights folder, the manifest it came from (None for a bare
    folder), and the chat template's name and text."""

    path: Path
    manifest: str | None
    template_name: str
    template_text: str

    @property
    def template(self) -> ChatTemplate:
        """The template the server renders prompts with."""
        return ChatTemplate(self.template_text)


def resolve_base(out: Path, base: str | None, cache_dir: Path) -> BaseModel:
    """The run's base: `base` (a manifest name or a local folder) recorded in `out/base.json`, or,
    with `base` None, the one recorded there by an earlier step."""
    record = out / BASE_FILE
    if base is None:
        if not record.is_file():
            raise SettingsError(f"{out}: no base model recorded yet; pass --base (a manifest name or folder)")
        data = json.loads(record.read_text())
        return BaseModel(Path(data["path"]), data["manifest"], data["template_name"], data["template_text"])
    folder = Path(base).expanduser()
    if (folder / "config.json").is_file():
        template_name = "chatml"
        found = BaseModel(
            folder.resolve(),
            None,
            template_name,
            (BUILTIN_DIR / "templates" / f"{template_name}.jinja").read_text(),
        )
    else:
        manifest = get_manifest(base)
        prepared = prepare(manifest, cache_dir)
        if prepared.path is None:
            raise SettingsError(f"model {base!r} is served by an endpoint: the trainer needs local weights")
        found = BaseModel(prepared.path, manifest.name, manifest.chat_template, manifest.template_text())
    out.mkdir(parents=True, exist_ok=True)
    record.write_text(
        json.dumps(
            {
                "path": str(found.path),
                "manifest": found.manifest,
                "template_name": found.template_name,
                "template_text": found.template_text,
            },
            indent=2,
        )
        + "\n"
    )
    return found


def is_full_checkpoint(folder: Path) -> bool:
    """Whether `folder` holds a whole saved model (what `sft --full` leaves), not a LoRA adapter."""
    return (folder / "config.json").is_file() and not (folder / "adapter_config.json").is_file()


def policy_base(run: Path, base: BaseModel) -> BaseModel:
    """The base the run's adapters share: after `sft --full`, the fine-tuned policy itself, else
    `base`. The server keeps one base in memory with the PRM and ORM as adapters on it, so after a
    full fine-tune they must be trained on (and the ORM's reference must be) the model it loads."""
    full = run / SFT_OUTPUT
    return replace(base, path=full.resolve()) if is_full_checkpoint(full) else base


def cache_dir() -> Path:
    """The cache the server prepares models into (settings and `SWE_LSP_*` variables apply)."""
    from swe_lsp.settings import load_settings

    return load_settings().settings.cache_path()


def load_tokenizer(base: BaseModel) -> Any:
    """The base's tokenizer, with a pad token (the end-of-turn token when it has none)."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(str(base.path))
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer


def load_model(base: BaseModel, cfg: TrainConfig) -> Any:
    """The base model for training (fp32 on CPU; bf16 or 4-bit on GPU as configured)."""
    import torch
    from transformers import AutoModelForCausalLM

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    kwargs: dict[str, Any] = {"dtype": torch.bfloat16 if cfg.bf16 else torch.float32}
    if cfg.load_in_4bit:
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.bfloat16
        )
    return AutoModelForCausalLM.from_pretrained(str(base.path), **kwargs)


def lora_config(cfg: TrainConfig) -> Any:
    """The peft LoRA config, or None for full fine-tuning."""
    if not cfg.lora:
        return None
    from peft import LoraConfig

    return LoraConfig(
        r=cfg.lora_r,
        lora_alpha=cfg.lora_alpha,
        lora_dropout=cfg.lora_dropout,
        target_modules=list(cfg.target_modules),
        task_type="CAUSAL_LM",
    )


def common_args(cfg: TrainConfig, output_dir: Path) -> dict[str, Any]:
    """The `transformers.TrainingArguments` fields every step sets, CPU-safe: trl's configs default
    to bf16 and gradient checkpointing, which a CPU run must turn off explicitly."""
    import torch

    return {
        "output_dir": str(output_dir),
        "learning_rate": cfg.learning_rate,
        "num_train_epochs": cfg.epochs,
        "max_steps": cfg.max_steps,
        "per_device_train_batch_size": cfg.batch_size,
        "gradient_accumulation_steps": cfg.grad_accum,
        "bf16": cfg.bf16,
        "gradient_checkpointing": cfg.gradient_checkpointing,
        "use_cpu": not torch.cuda.is_available(),
        "save_strategy": "steps",
        "save_steps": cfg.save_steps,
        "save_total_limit": 1,
        "logging_steps": 1,
        "report_to": "none",
        "seed": cfg.seed,
        "disable_tqdm": False,
        "dataloader_num_workers": 0,
    }


def last_checkpoint(output_dir: Path) -> str | None:
    """The checkpoint to resume from, if an earlier run of this step left one."""
    if not output_dir.is_dir():
        return None
    from transformers.trainer_utils import get_last_checkpoint

    return get_last_checkpoint(str(output_dir))


def finish_step(run: Path, step: str, report: dict[str, Any], cfg: TrainConfig, base: BaseModel) -> None:
    """Write the step's `report.json` and record its settings and versions in the run."""
    from trainer import provenance

    (run / step / "report.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    provenance.record(run, step, {**cfg.__dict__, "base": str(base.path)})


def save_trained(trainer: Any, dest: Path) -> Path:
    """Save the adapter (LoRA) or the whole model (full), with the tokenizer; returns `dest`."""
    dest.mkdir(parents=True, exist_ok=True)
    trainer.model.save_pretrained(str(dest))
    trainer.processing_class.save_pretrained(str(dest))
    return dest
