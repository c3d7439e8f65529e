"""`swe-train reject`: development-contextualized rejection sampling of the synthesized trajectories.

Each stage output (understanding, localization, reproduction, patch) is checked against the
instance's ground truth and counted apart; the environment and complexity checks drop instances;
the correct prefix of each trajectory is kept. How one instance is judged: `trainer.judge`.

Outputs in `OUT/reject/`:
- `sft.jsonl`: accepted steps (`instance_id, stage, candidate_id, round, messages, think, answer`);
- `labels.jsonl`: PRM rows (`instance_id, stage, candidate_id, issue, step, label, reason, source`)
  for every final understand/localize/patch output that was checked, plus the gold steps as
  positives (source "gold"; `--no-gold-steps` leaves them out);
- `pairs.jsonl`: ORM pairs (`instance_id, issue, chosen, rejected, source`): the gold patch and the
  patches that passed over the patches that failed;
- `report.json`: per check, how many outputs were checked and passed;
- `instances.jsonl`: each instance's judgment (its rows and tallies), appended as it finishes, which
  the files above are made from. A rerun reuses a judgment whose inputs are unchanged (the
  instance's trajectories, the sandbox on or off, the gold-steps option, its one-shot attempts:
  `judgment_key`) and judges the rest, so it resumes (delete the file to judge everything again,
  e.g. after the checks themselves changed); `--ray` judges one instance per Ray task
  (`trainer.fanout`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from trainer import provenance
from trainer.instances import Instance, read_instances, write_jsonl
from trainer.judge import STEP, OneShot, Tally, judge_instance, read_one_shot
from trainer.resume import ResultLog
from trainer.runs import Runner
from trainer.swebench_env import LOG_BYTES
from trainer.synth import STEP as SYNTH

JUDGED = "instances.jsonl"


def judgment_key(
    inst: Instance, trajectories: Mapping[str, bytes], sandbox: bool, gold_steps: bool, attempts: Any
) -> str:
    """What an instance's judgment depends on, as a digest: its trajectories' bytes (by sample
    path), whether a sandbox ran, the gold-steps option and its one-shot attempts. A judgment on
    disk with the same key is reused; a new sample from `synth`, or other options, redo it. (The
    sandbox's kind and timeout are not in it: a rerun with another sandbox reuses the verdicts.)"""
    digest = hashlib.sha256()
    for name in sorted(trajectories):
        digest.update(name.encode() + b"\0" + hashlib.sha256(trajectories[name]).digest())
    options = [inst.instance_id, sandbox, gold_steps, attempts]
    digest.update(json.dumps(options, default=lambda a: [a.patch, a.resolved]).encode())
    return digest.hexdigest()


def trajectories_of(out: Path, inst: Instance) -> dict[str, bytes]:
    """The instance's `trajectory.jsonl` files under `out/synth`, by path relative to its folder."""
    folder = out / SYNTH / inst.instance_id
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.glob("*/trajectory.jsonl"))
    }


def open_judgments(out: Path) -> ResultLog:
    """`OUT/reject/instances.jsonl`: one judged instance per line (its rows, its tallies, its
    `key`), appended as each finishes; the step's files are made from it (`finish`)."""
    return ResultLog(out / STEP / JUDGED, lambda r: r["instance_id"])


def reject(
    instances: Sequence[Instance],
    out: Path,
    runner: Runner,
    mirrors: Path | None = None,
    gold_steps: bool = True,
    advance: Callable[[str], None] = lambda _m: None,
    one_shot: Mapping[str, Sequence[OneShot]] | None = None,
) -> dict[str, Any]:
    """Judge every instance not yet judged with the same inputs (`judgment_key`), appending each
    to `instances.jsonl`; write the step's files from it; returns the report. With `one_shot`
    (instance id -> the base model's attempts), instances it solves are dropped."""
    log = open_judgments(out)
    for inst in instances:
        advance(inst.instance_id)
        attempts = None if one_shot is None else list(one_shot.get(inst.instance_id, ()))
        key = judgment_key(inst, trajectories_of(out, inst), runner.enabled, gold_steps, attempts)
        done = log.get(inst.instance_id)
        if done is not None and done.get("key") == key:
            continue
        row = judge_instance(inst, out, runner, mirrors, gold_steps, attempts)
        log.add([{**row, "key": key}])
    return finish(log, instances, runner.enabled)


def finish(log: ResultLog, instances: Sequence[Instance], sandbox: bool) -> dict[str, Any]:
    """The step's files from the judged instances of `instances` (in their order): the rows
    concatenated, the checks and counts summed. Returns the report."""
    tally = Tally()
    sft, labels, pairs = [], [], []
    for inst in instances:
        row = log.get(inst.instance_id)
        if row is None:  # its Ray task failed: left out until a rerun judges it
            continue
        for check, c in row["checks"].items():
            tally.checks[check]["checked"] += c["checked"]
            tally.checks[check]["passed"] += c["passed"]
        for key, n in row["counts"].items():
            tally.count(key, n)
        sft += row["sft"]
        labels += row["labels"]
        pairs += row["pairs"]
    folder = log.path.parent
    report = {
        "checks": tally.checks,
        "counts": tally.counts,
        "sft_steps": write_jsonl(folder / "sft.jsonl", sft),
        "prm_labels": write_jsonl(folder / "labels.jsonl", labels),
        "prm_positive": sum(bool(r["label"]) for r in labels),
        "orm_pairs": write_jsonl(folder / "pairs.jsonl", pairs),
        "sandbox": sandbox,
    }
    (folder / "report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report


def register(subparsers: Any) -> None:
    """Add the `reject` subcommand."""
    p = subparsers.add_parser("reject", help="rejection sampling of the trajectories (step 3)")
    p.add_argument("--out", type=Path, required=True, help="the run folder")
    p.add_argument("--sandbox", choices=["auto", "docker", "bwrap", "local", "none"], default="auto")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per sandbox run")
    p.add_argument("--mirrors", type=Path, default=None, help="folder of git mirrors (SWE-bench instances)")
    p.add_argument("--no-gold-steps", action="store_true", help="no gold answers as PRM positives")
    p.add_argument(
        "--one-shot",
        type=Path,
        default=None,
        help="the base model's one-shot attempts (predictions or eval results JSONL): drop what it solves",
    )
    from trainer.fanout import add_ray_arguments

    add_ray_arguments(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Open the sandbox, judge with a progress bar (here, or as Ray tasks with
    `--ray`/`--ray-address`: `trainer.fanout`), print the per-check counts."""
    from contextlib import ExitStack

    from swe_lsp.cli.common import counting_bar
    from swe_lsp.sandbox import open_sandbox
    from swe_lsp.settings import load_settings
    from trainer.fanout import ray_options, ray_provenance
    from trainer.ray_steps import reject_on_ray

    instances = read_instances(args.out / "collect" / "instances.jsonl")
    options = ray_options(args)
    box_settings = None
    if args.sandbox != "none":
        # The tests are graded per test from their whole log.
        box = {"kind": args.sandbox, "max_output_bytes": LOG_BYTES}
        box_settings = load_settings(None, {"sandbox": box}).settings.sandbox
    one_shot = read_one_shot(args.one_shot) if args.one_shot else None
    with ExitStack() as stack, counting_bar("reject", len(instances)) as advance:
        if options is not None:  # each task opens its own sandbox on its node
            report = reject_on_ray(
                instances,
                args.out,
                box_settings,
                args.timeout,
                options,
                args.mirrors,
                not args.no_gold_steps,
                advance,
                one_shot,
            )
        else:
            sandbox = stack.enter_context(open_sandbox(box_settings)) if box_settings is not None else None
            report = reject(
                instances,
                args.out,
                Runner(sandbox, args.timeout),
                args.mirrors,
                not args.no_gold_steps,
                advance,
                one_shot,
            )
    provenance.record(
        args.out,
        STEP,
        {
            "sandbox": args.sandbox,
            "timeout_s": args.timeout,
            "one_shot": str(args.one_shot) if args.one_shot else None,
            **ray_provenance(options),
        },
    )
    for name, c in report["checks"].items():
        print(f"{name:<14} checked {c['checked']:>6}  passed {c['passed']:>6}")
    dropped = {k: v for k, v in report["counts"].items() if k.startswith("instances_dropped")}
    if dropped:
        print(
            ", ".join(
                f"{k.removeprefix('instances_dropped_')}: {v} instance(s) dropped" for k, v in dropped.items()
            )
        )
    print(
        f"sft steps {report['sft_steps']}, PRM labels {report['prm_labels']}, ORM pairs {report['orm_pairs']}"
    )
    return 0
