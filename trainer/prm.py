"""`swe-train prm`: the process reward model as a Yes/No LoRA adapter on the policy's base.

Input, `OUT/reject/labels.jsonl`, one judged stage output per line::

    instance_id, stage, candidate_id   where it came from (stage: understand | localize | patch)
    issue       str                    the issue as the server quotes it
    step        str                    the candidate rendered as the server renders it for the PRM
    label       bool                   the rejection check's verdict
    reason      str                    why

Each row becomes the server's PRM prompt (`prm_messages(stage, issue, step)`, rendered with the
chat template) followed by the one label token "Yes" or "No", trained with `SFTTrainer` (loss on
that token only); every backend then scores it with `p_yes(adapter="prm")`, and vLLM serves it as
a LoRA. The base is the run's (after `sft --full`, the fine-tuned policy). Rows are split by label
into train and held out; the report gives the held-out AUC of the adapter and of the untrained
judge (the base model on the same prompt).
Output: `OUT/prm/adapter/`, `OUT/prm/report.json`.
"""

from __future__ import annotations

import argparse
from typing import Any

from swe_lsp.search.prompts import prm_messages
from trainer.config import add_train_arguments, load_config
from trainer.examples import fits, prm_example
from trainer.instances import read_jsonl
from trainer.modeling import cache_dir, finish_step, load_tokenizer, policy_base, resolve_base, save_trained
from trainer.scoring import auc, base_only, p_yes, split_heldout
from trainer.sft import train_on_examples

STEP = "prm"


def register(subparsers: Any) -> None:
    """Add the `prm` subcommand."""
    p = subparsers.add_parser("prm", help="train the PRM Yes/No adapter; held-out AUC (step 5)")
    add_train_arguments(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Split, train, score the held-out rows, save the adapter and the report."""
    cfg = load_config(args.config, STEP).with_overrides(max_steps=args.max_steps, threads=args.threads)
    if args.full:
        print("prm: --full ignored; the PRM is always an adapter on the shared base")
    base = resolve_base(args.out, args.base, cache_dir())
    if args.base is None:  # on the run's policy: the full fine-tune when `sft --full` made one
        base = policy_base(args.out, base)
    tokenizer = load_tokenizer(base)
    template = base.template
    rows = list(read_jsonl(args.out / "reject" / "labels.jsonl"))
    train_rows, held = split_heldout(rows, cfg.heldout_fraction, key="label")
    examples = [
        e
        for r in train_rows
        if fits(
            e := prm_example(template, tokenizer, r["stage"], r["issue"], r["step"], bool(r["label"])),
            cfg.max_length,
        )
    ]
    step_dir = args.out / STEP
    trainer, metrics = train_on_examples(examples, base, cfg, step_dir, tokenizer)
    save_trained(trainer, step_dir / "adapter")
    prompts = [template.render(prm_messages(r["stage"], r["issue"], r["step"])) for r in held]
    labels = [bool(r["label"]) for r in held]
    tuned = p_yes(trainer.model, tokenizer, prompts)
    with base_only(trainer.model):
        judge = p_yes(trainer.model, tokenizer, prompts)
    report = {
        "train": len(examples),
        "heldout": len(held),
        "heldout_positive": sum(labels),
        "auc": auc(tuned, labels),
        "auc_untrained_judge": auc(judge, labels),
        "by_stage": {s: sum(1 for r in rows if r["stage"] == s) for s in sorted({r["stage"] for r in rows})},
        "metrics": metrics,
    }
    finish_step(args.out, STEP, report, cfg, base)
    print(
        f"prm: {len(examples)} train, {len(held)} held out, AUC {report['auc']} "
        f"(untrained judge {report['auc_untrained_judge']}) -> {step_dir / 'adapter'}"
    )
    return 0
