"""Each step's Ray task and driver: `swe-train eval`, `synth` and `reject` with one task per
instance (how it works, what runs where, and the limits: `trainer.fanout`). A task runs the step's
own per-instance function in a scratch folder and returns what it wrote; the driver writes it into
the run folder as it comes back and ends with the step's own `finish` / `summarize`.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from swe_lsp.sandbox import open_sandbox
from swe_lsp.settings import SandboxSettings, Settings
from trainer import evaluate, judge, reject, synth
from trainer.fanout import RayOptions, WorkerModel, connect, fan_out, files_under, raise_failures, write_files
from trainer.instances import Instance
from trainer.runs import Runner


def eval_task(
    inst: Instance,
    model: WorkerModel,
    settings: Settings,
    budgets: Sequence[int],
    mirrors: Path | None,
    sandbox: bool,
) -> tuple[list[dict[str, Any]], dict[str, bytes]]:
    """One instance of `swe-train eval`, on a worker (`sandbox` False: nothing runs): its rows of
    `results.jsonl` and its job folders' files (relative to `eval/jobs`)."""
    with tempfile.TemporaryDirectory(prefix="swe-train-eval-") as scratch, ExitStack() as stack:
        box = stack.enter_context(open_sandbox(settings.sandbox)) if sandbox else None
        backend = stack.enter_context(model.open())
        folder = Path(scratch) / evaluate.STEP
        runner = Runner(box, settings.sandbox.timeout_s)
        rows = evaluate.evaluate_instance(inst, backend, settings, folder, budgets, runner, mirrors)
        return rows, files_under(folder / "jobs")


def evaluate_on_ray(
    instances: list[Instance],
    model: WorkerModel,
    settings: Settings,
    out: Path,
    budgets: list[int],
    model_name: str,
    options: RayOptions,
    mirrors: Path | None = None,
    advance: Callable[[str], None] = lambda _m: None,
    sandbox: bool = True,
) -> dict[str, Any]:
    """`evaluate.evaluate` with one Ray task per instance still missing from `results.jsonl`
    (`sandbox` False: nothing runs in a sandbox, as with `--sandbox none`). Returns the report."""
    log = evaluate.open_results(out, model_name)
    jobs = []
    for inst in instances:
        todo = evaluate.missing_budgets(log, inst, budgets)
        if todo:
            jobs.append((inst.instance_id, (inst, model, settings, todo, mirrors, sandbox)))
        else:
            advance(f"{inst.instance_id} done before")

    def merge(key: str, value: tuple[list[dict[str, Any]], dict[str, bytes]]) -> None:
        rows, files = value
        write_files(out / evaluate.STEP / "jobs", files)
        log.add({**r, "model": model_name} for r in rows)
        advance(f"{key} done")

    with connect(options):
        failures = fan_out(eval_task, jobs, options, merge)
    report = evaluate.finish(log, instances, budgets, model_name, sandbox)
    raise_failures(failures, len(jobs))
    return report


def synth_task(
    inst: Instance,
    todo: Sequence[int],
    model: WorkerModel,
    settings: Settings,
    max_tokens: int,
    mirrors: Path | None,
    sandbox: bool,
) -> tuple[int, dict[str, bytes]]:
    """Samples `todo` of one instance of `swe-train synth`, on a worker (`sandbox` False: nothing
    is verified): how many failed, and their folders' files (relative to `synth/<instance_id>`)."""
    with tempfile.TemporaryDirectory(prefix="swe-train-synth-") as scratch, ExitStack() as stack:
        box = stack.enter_context(open_sandbox(settings.sandbox)) if sandbox else None
        backend = stack.enter_context(model.open())
        out = Path(scratch)
        failed = synth.synthesize_instance(inst, todo, backend, settings, out, max_tokens, box, mirrors)
        return failed, files_under(out / synth.STEP / inst.instance_id)


def synthesize_on_ray(
    instances: Sequence[Instance],
    model: WorkerModel,
    settings: Settings,
    out: Path,
    samples: int,
    options: RayOptions,
    mirrors: Path | None = None,
    advance: Callable[[str], None] = lambda _m: None,
    no_sandbox: bool = False,
) -> synth.SynthSummary:
    """`synth.synthesize` with one Ray task per instance that still owes samples (`no_sandbox`:
    nothing is verified, as with `--sandbox none`). Returns the summary."""
    counts = {"run": 0, "skipped": 0, "failed": 0}
    max_tokens = synth.synth_max_tokens(settings)
    jobs = []
    for inst in instances:
        todo = synth.todo_samples(out, inst, samples)
        counts["skipped"] += samples - len(todo)
        if todo:
            jobs.append(
                (inst.instance_id, (inst, todo, model, settings, max_tokens, mirrors, not no_sandbox))
            )
    owed = {key: len(args[1]) for key, args in jobs}

    def merge(key: str, value: tuple[int, dict[str, bytes]]) -> None:
        failed, files = value
        write_files(out / synth.STEP / key, files, last=synth.REPORT)
        counts["run"] += owed[key]
        counts["failed"] += failed
        advance(f"{key} done")

    with connect(options):
        failures = fan_out(synth_task, jobs, options, merge)
    summary = synth.summarize(out, counts, max_tokens)
    raise_failures(failures, len(jobs))
    return summary


def reject_task(
    inst: Instance,
    trajectories: Mapping[str, bytes],
    sandbox: SandboxSettings | None,
    timeout_s: float,
    mirrors: Path | None,
    gold_steps: bool,
    attempts: Sequence[judge.OneShot] | None,
) -> dict[str, Any]:
    """One instance of `swe-train reject`, on a worker: its trajectories (sent by the driver) are
    written to a scratch run folder and judged there (`sandbox` None: nothing runs); returns its
    judgment, the row of `reject/instances.jsonl`."""
    with tempfile.TemporaryDirectory(prefix="swe-train-reject-") as scratch, ExitStack() as stack:
        out = Path(scratch)
        write_files(out / synth.STEP / inst.instance_id, trajectories)
        box = stack.enter_context(open_sandbox(sandbox)) if sandbox is not None else None
        return judge.judge_instance(inst, out, Runner(box, timeout_s), mirrors, gold_steps, attempts)


def reject_on_ray(
    instances: Sequence[Instance],
    out: Path,
    sandbox: SandboxSettings | None,
    timeout_s: float,
    options: RayOptions,
    mirrors: Path | None = None,
    gold_steps: bool = True,
    advance: Callable[[str], None] = lambda _m: None,
    one_shot: Mapping[str, Sequence[judge.OneShot]] | None = None,
) -> dict[str, Any]:
    """`reject.reject` with one Ray task per instance not yet judged with the same inputs
    (`reject.judgment_key`). Returns the report."""
    log = reject.open_judgments(out)
    keys: dict[str, str] = {}
    jobs = []
    for inst in instances:
        attempts = None if one_shot is None else list(one_shot.get(inst.instance_id, ()))
        trajectories = reject.trajectories_of(out, inst)
        key = reject.judgment_key(inst, trajectories, sandbox is not None, gold_steps, attempts)
        done = log.get(inst.instance_id)
        if done is not None and done.get("key") == key:
            advance(f"{inst.instance_id} done before")
            continue
        keys[inst.instance_id] = key
        args = (inst, trajectories, sandbox, timeout_s, mirrors, gold_steps, attempts)
        jobs.append((inst.instance_id, args))

    def merge(key: str, row: dict[str, Any]) -> None:
        log.add([{**row, "key": keys[key]}])
        advance(f"{key} done")

    with connect(options):
        failures = fan_out(reject_task, jobs, options, merge)
    report = reject.finish(log, instances, sandbox is not None)
    raise_failures(failures, len(jobs))
    return report
