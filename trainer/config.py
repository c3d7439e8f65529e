"""The training knobs of `sft`, `prm` and `orm` (one frozen dataclass, one TOML file per setup).

`configs/*.toml` hold the setups: `cpu-tiny.toml` (tests, 2 steps), `gpu-1x-lora.toml` (one GPU,
LoRA or QLoRA on a 32B base) and `gpu-multi-fsdp.toml` (accelerate with FSDP). A TOML file has a
table per step (`[sft]`, `[prm]`, `[orm]`) over shared top-level keys; command-line flags override.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any

from swe_lsp.errors import SettingsError

# Every linear layer of the attention and MLP blocks; never lm_head: vLLM's prompt-logprob path
# mishandles an lm_head LoRA (vllm#16668), and the ORM is scored through exactly that path.
TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")


@dataclass(frozen=True)
class TrainConfig:
    """One training step's settings. `max_steps > 0` overrides `epochs`. `load_in_4bit` is QLoRA
    (bitsandbytes, GPU only). `beta` is DPO's (ORM only), recorded in the exported manifest."""

    lora: bool = True
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    target_modules: tuple[str, ...] = TARGET_MODULES
    learning_rate: float = 1e-4
    epochs: float = 1.0
    max_steps: int = -1
    batch_size: int = 1
    grad_accum: int = 1
    max_length: int = 8192
    bf16: bool = False
    gradient_checkpointing: bool = False
    load_in_4bit: bool = False
    save_steps: int = 200
    threads: int | None = None
    seed: int = 0
    heldout_fraction: float = 0.2
    beta: float = 0.1

    def with_overrides(self, **values: Any) -> TrainConfig:
        """A copy with the non-None `values` set."""
        known = {f.name for f in fields(self)}
        unknown = sorted(set(values) - known)
        if unknown:
            raise SettingsError(f"unknown training setting(s): {', '.join(unknown)}")
        return replace(self, **{k: v for k, v in values.items() if v is not None})


def load_config(path: Path | None, step: str) -> TrainConfig:
    """The settings for `step` from a TOML file (its top-level keys, then its `[step]` table)."""
    if path is None:
        return TrainConfig()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SettingsError(f"{path}: cannot read the training config: {exc}") from None
    shared = {k: v for k, v in raw.items() if not isinstance(v, dict)}
    values = {**shared, **raw.get(step, {})}
    if "target_modules" in values:
        values["target_modules"] = tuple(values["target_modules"])
        if "lm_head" in values["target_modules"]:
            raise SettingsError(f"{path}: LoRA must not target lm_head (vLLM cannot score it; vllm#16668)")
    return TrainConfig().with_overrides(**values)


def add_train_arguments(parser: Any) -> None:
    """The flags every training step shares."""
    parser.add_argument("--out", type=Path, required=True, help="the run folder")
    parser.add_argument("--base", default=None, help="base model: a manifest name or a local HF folder")
    parser.add_argument("--config", type=Path, default=None, help="training config TOML (configs/)")
    parser.add_argument("--max-steps", type=int, default=None, help="optimizer steps (overrides epochs)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--full", action="store_true", help="full fine-tuning instead of LoRA")
