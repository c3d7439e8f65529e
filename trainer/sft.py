"""`swe-train sft`: supervised fine-tuning of the policy on the accepted steps (trl `SFTTrainer`).

Input, `OUT/reject/sft.jsonl`, one accepted step per line::

    instance_id, stage, candidate_id, round   where the step came from
    messages    [{"role", "content"}, ...]     the prompt as the server sent it
    think, answer                              the step's reasoning and answer

Every step is its own example: its prompt with earlier assistant turns pruned to their answers,
its think and answer as the completion (the only tokens with loss). Output: `OUT/sft/adapter/`
(a LoRA adapter, or the full model with `--full`, which `prm` and `orm` then train their adapters
on and `export` makes the served base), `OUT/sft/report.json`.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from swe_lsp.llm import Message
from trainer.config import TrainConfig, add_train_arguments, load_config
from trainer.examples import fits, sft_example
from trainer.instances import DataError, read_jsonl
from trainer.modeling import (
    BaseModel,
    cache_dir,
    common_args,
    finish_step,
    last_checkpoint,
    load_model,
    load_tokenizer,
    lora_config,
    resolve_base,
    save_trained,
)

STEP = "sft"


def build_sft_examples(
    rows: Sequence[dict[str, Any]], base: BaseModel, tokenizer: Any, max_length: int
) -> tuple[list[dict[str, list[int]]], int]:
    """Tokenized examples from accepted-step rows, and how many were too long."""
    template = base.template
    out, dropped = [], 0
    for row in rows:
        messages = tuple(Message(m["role"], m["content"]) for m in row["messages"])
        example = sft_example(template, tokenizer, messages, row["think"], row["answer"])
        if fits(example, max_length):
            out.append(example)
        else:
            dropped += 1
    return out, dropped


def train_on_examples(
    examples: list[dict[str, list[int]]], base: BaseModel, cfg: TrainConfig, step_dir: Path, tokenizer: Any
) -> tuple[Any, dict[str, Any]]:
    """Train with trl's `SFTTrainer` on pre-tokenized examples (loss on the completion only);
    resumes from the step's last checkpoint; returns the trainer and its metrics."""
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    if not examples:
        raise DataError(
            f"no training examples for {step_dir.name}: run `swe-train reject` first, or add data"
        )
    args = SFTConfig(
        **common_args(cfg, step_dir / "checkpoints"),
        max_length=cfg.max_length,
        completion_only_loss=True,
        packing=False,
    )
    trainer = SFTTrainer(
        model=load_model(base, cfg),
        args=args,
        train_dataset=Dataset.from_list(examples),
        processing_class=tokenizer,
        peft_config=lora_config(cfg),
    )
    result = trainer.train(resume_from_checkpoint=last_checkpoint(step_dir / "checkpoints"))
    return trainer, dict(result.metrics)


def register(subparsers: Any) -> None:
    """Add the `sft` subcommand."""
    p = subparsers.add_parser("sft", help="fine-tune the policy on accepted steps (step 4)")
    add_train_arguments(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Build the examples, train, save the adapter and the report."""
    cfg = load_config(args.config, STEP).with_overrides(
        max_steps=args.max_steps, threads=args.threads, lora=False if args.full else None
    )
    base = resolve_base(args.out, args.base, cache_dir())
    tokenizer = load_tokenizer(base)
    rows = list(read_jsonl(args.out / "reject" / "sft.jsonl"))
    examples, too_long = build_sft_examples(rows, base, tokenizer, cfg.max_length)
    step_dir = args.out / STEP
    trainer, metrics = train_on_examples(examples, base, cfg, step_dir, tokenizer)
    save_trained(trainer, step_dir / "adapter")
    report = {"examples": len(examples), "too_long": too_long, "metrics": metrics, "lora": cfg.lora}
    finish_step(args.out, STEP, report, cfg, base)
    print(f"sft: {len(examples)} examples ({too_long} too long) -> {step_dir / 'adapter'}")
    return 0
