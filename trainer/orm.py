"""`swe-train orm`: the outcome reward model, DPO (trl `DPOTrainer`) with a LoRA adapter.

Inputs: `OUT/reject/pairs.jsonl` and, with `--feedback`, the accepted/rejected pairs exported from
the server's job store (`swe_lsp.server.store.JobStore.preference_pairs`, or a JSONL of them). One
pair per line::

    instance_id  str   where it came from (a job id for the store's pairs)
    issue        str   the issue text (the store's `prompt`)
    chosen       str   a patch (unified diff) that passes
    rejected     str   a patch that fails (or that the user did not apply)
    source       str   reject | store
    chosen_hunks list  (store only) the hunks the user applied, when not the whole candidate:
                       `chosen` is then the diff of those hunks alone

The ORM sees only the issue and the patch: the DPO prompt is the server's ORM prompt
(`orm_messages(issue)`, rendered with the generation prompt) and the completions are the diffs,
which is what the server scores with `logprob(adapter="orm")` minus the base, times beta (recorded
in the exported manifest); `trainer.dpo` makes trl train on exactly the token sequences the server
scores (no EOS after the diff). LoRA's reference model is the base with the adapter disabled; the base
is the run's (after `sft --full`, the fine-tuned policy, which the server then loads as the base).
Output: `OUT/orm/adapter/`, `OUT/orm/report.json` with the held-out pairwise accuracy.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from trainer.config import add_train_arguments, load_config
from trainer.examples import orm_pair
from trainer.instances import DataError, read_jsonl
from trainer.modeling import (
    cache_dir,
    common_args,
    finish_step,
    last_checkpoint,
    load_model,
    load_tokenizer,
    lora_config,
    policy_base,
    resolve_base,
    save_trained,
)
from trainer.scoring import base_only, logprob, pairwise_accuracy, split_heldout

STEP = "orm"


def store_pairs(source: Path) -> list[dict[str, Any]]:
    """Pairs from the server's job store (a `jobs.sqlite3` file) or from a JSONL export of it."""
    if source.suffix == ".jsonl":
        rows = list(read_jsonl(source))
    else:
        from swe_lsp.server.store import JobStore

        store = JobStore(source)
        try:
            rows = list(store.preference_pairs())
        finally:
            store.close()
    return [
        {
            "instance_id": r.get("job_id", ""),
            "issue": r["prompt"],
            "chosen": r["chosen"],
            "rejected": r["rejected"],
            "source": "store",
            "chosen_hunks": r.get("chosen_hunks"),
        }
        for r in rows
    ]


def register(subparsers: Any) -> None:
    """Add the `orm` subcommand."""
    p = subparsers.add_parser("orm", help="train the ORM with DPO; held-out pairwise accuracy (step 6)")
    add_train_arguments(p)
    p.add_argument("--feedback", type=Path, default=None, help="the server's job store, or its pairs JSONL")
    p.add_argument("--beta", type=float, default=None, help="DPO beta (default from the config: 0.1)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Gather the pairs, train with DPO, measure the held-out accuracy, save the adapter."""
    from datasets import Dataset
    from trl import DPOConfig

    from trainer.dpo import ServedDPOTrainer

    cfg = load_config(args.config, STEP).with_overrides(
        max_steps=args.max_steps, threads=args.threads, beta=args.beta
    )
    base = resolve_base(args.out, args.base, cache_dir())
    if args.base is None:  # on the run's policy: the full fine-tune when `sft --full` made one
        base = policy_base(args.out, base)
    pairs_file = args.out / "reject" / "pairs.jsonl"
    pairs = list(read_jsonl(pairs_file)) if pairs_file.is_file() else []
    if args.feedback is not None:
        pairs += store_pairs(args.feedback)
    if not pairs:
        raise DataError(
            f"no preference pairs: run `swe-train reject` (writes {pairs_file}) or pass --feedback"
        )
    train_rows, held = split_heldout(pairs, cfg.heldout_fraction, key="source")
    if not train_rows:
        train_rows = held
    template = base.template
    tokenizer = load_tokenizer(base)
    dataset = Dataset.from_list(
        [orm_pair(template, r["issue"], r["chosen"], r["rejected"]) for r in train_rows]
    )
    step_dir = args.out / STEP
    trainer = ServedDPOTrainer(
        model=load_model(base, cfg),
        args=DPOConfig(
            **common_args(cfg, step_dir / "checkpoints"), beta=cfg.beta, max_length=cfg.max_length
        ),
        train_dataset=dataset,
        processing_class=tokenizer,
        peft_config=lora_config(cfg),
    )
    metrics = dict(trainer.train(resume_from_checkpoint=last_checkpoint(step_dir / "checkpoints")).metrics)
    save_trained(trainer, step_dir / "adapter")
    chosen, rejected = [], []
    for r in held:
        prompt = orm_pair(template, r["issue"], "", "")["prompt"]
        scores = []
        for diff in (r["chosen"], r["rejected"]):
            tuned = logprob(trainer.model, tokenizer, prompt, diff)
            with base_only(trainer.model):
                ref = logprob(trainer.model, tokenizer, prompt, diff)
            scores.append(cfg.beta * (tuned - ref))
        chosen.append(scores[0])
        rejected.append(scores[1])
    report = {
        "pairs": len(pairs),
        "train": len(train_rows),
        "heldout": len(held),
        "pairwise_accuracy": pairwise_accuracy(chosen, rejected),
        "beta": cfg.beta,
        "metrics": metrics,
    }
    finish_step(args.out, STEP, report, cfg, base)
    print(
        f"orm: {len(train_rows)} train pairs, {len(held)} held out, "
        f"pairwise accuracy {report['pairwise_accuracy']} -> {step_dir / 'adapter'}"
    )
    return 0
