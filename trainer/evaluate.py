"""`swe-train eval`: the server's Dev-Search over SWE-bench-format instances, as predictions.

For each instance, its repository at the base commit (from `--mirrors`, or its own `git_dir`) is
resolved with the server's `resolve` at each budget of `--budgets` (n samples per stage); the top
ranked candidate is the prediction. Outputs in `OUT/eval/`:

- `predictions-n<N>.jsonl` per budget and `predictions.jsonl` (the largest budget), in the
  SWE-bench harness format: `{"instance_id", "model_name_or_path", "model_patch"}`;
- `results.jsonl`: per instance and budget, the patch, whether it resolved (null: not scored, and
  `unscored` says why), whether its environment built (`environment`), the cost, and the `model`
  evaluated. Each instance's rows are appended as it finishes (`trainer.resume`), so a rerun into
  the same OUT resumes: what is already there is not run again (the same model only; another
  model's file is an error). `--ray` runs the instances as Ray tasks (`trainer.fanout`) into the
  same file;
- `report.json`: resolve rate per budget (the per-budget curve), cost per instance (tokens in and
  out, model calls, wall seconds), how many were scored, and per instance whether its environment
  built.

Scoring here is the SWE-bench harness's, on the project's sandbox: the environment is the one its
spec for the instance's repository version describes (`trainer.swebench_env.plan_for`, pinned for
the instance's tree when the sandbox is Docker), the tests are its test command on the files the
test patch touches, and the log is graded per test with its log parser. The instance's tests are
first run with the gold patch (and its test patch); only when that resolves (the environment is
right) are predictions scored, each with the test patch, resolved meaning every FAIL_TO_PASS and
PASS_TO_PASS test passes. The search's own verification runs in the same environment and never
sees the test patch. On a machine with the official images, score the same file with the SWE-bench
harness itself (see the README)::

    python -m swebench.harness.run_evaluation --dataset_name princeton-nlp/SWE-bench_Lite \\
        --predictions_path OUT/eval/predictions.jsonl --max_workers 8 --run_id swe-lsp
"""

from __future__ import annotations

import argparse
import json
import threading
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from swe_lsp.errors import SweLspError
from swe_lsp.search import Issue, ResolveRequest, resolve
from swe_lsp.search.runtime import Roles
from swe_lsp.search.verification import SandboxVerifier, Verifier
from swe_lsp.settings import Settings
from trainer import provenance
from trainer.instances import DataError, Instance, read_instances, write_jsonl
from trainer.repos import checkout_repo, file_at, instance_git_dir
from trainer.resume import ResultLog
from trainer.runs import Runner, all_tests_pass, failed_summary, patched_texts
from trainer.swebench_env import LOG_BYTES, test_command

STEP = "eval"
RESULTS = "results.jsonl"


@dataclass(frozen=True)
class Scoring:
    """How one instance's predictions are scored: the tree the sandbox runs (the base commit, in
    the environment of the harness's spec where the sandbox takes one), the gold and test patches'
    files, and whether the gold patch passes the instance's tests there (None: not checked, and
    `why` says why)."""

    tree: Path
    gold: dict[str, str | None]
    tests: dict[str, str | None]
    environment_ok: bool | None
    why: str = ""


def prepare_scoring(inst: Instance, tree: Path, git_dir: Path, runner: Runner) -> Scoring:
    """Pin the harness's environment for `tree` (where the sandbox takes one) and check it: the
    instance's tests must resolve with the gold patch, or no prediction can be told right or wrong."""

    def read(path: str) -> str | None:
        return file_at(git_dir, inst.base_commit, path)

    gold = patched_texts(inst.patch, read) or {}
    tests = patched_texts(inst.test_patch, read) or {}
    if not runner.enabled:
        return Scoring(tree, gold, tests, None, "no sandbox")
    try:
        if not test_command(inst):
            return Scoring(tree, gold, tests, None, "no FAIL_TO_PASS/PASS_TO_PASS tests")
        run = runner.environment(tree, inst, gold, tests)
    except SweLspError as exc:  # no spec for its version, or the environment image cannot be built
        return Scoring(tree, gold, tests, False, f"environment: {str(exc).splitlines()[0]}")
    if not all_tests_pass(inst, run):
        why = f"environment: the gold patch fails the tests: {failed_summary(inst, run)}"
        return Scoring(tree, gold, tests, False, why)
    return Scoring(tree, gold, tests, True)


def score(inst: Instance, patch: str, scoring: Scoring, git_dir: Path, runner: Runner) -> bool | None:
    """Whether `patch` resolves `inst` (its FAIL_TO_PASS and PASS_TO_PASS pass with it and the test
    patch, graded per test as the harness does); None when it cannot be told (no tests, no
    sandbox, or an environment where the gold patch fails)."""
    if not scoring.environment_ok:
        return None
    if not patch.strip():
        return False

    def read(path: str) -> str | None:
        return file_at(git_dir, inst.base_commit, path)

    changed = patched_texts(patch, read)
    if changed is None:
        return False
    _, ran = runner.patch(scoring.tree, inst, changed, scoring.tests, None)
    return all_tests_pass(inst, ran)


def verifier_factory(
    runner: Runner, scoring: Scoring, settings: Settings, job_id: str
) -> Callable[[Path], Verifier | None]:
    """The search's verifier for one job: the server's own (its reproduction script and the tests
    it selects, never the instance's hidden tests) on the scoring tree, so it runs in the
    harness's environment; none when there is no sandbox or the environment is known to fail."""

    def make(_root: Path) -> Verifier | None:
        if runner.sandbox is None or scoring.environment_ok is False:
            return None
        box = settings.sandbox
        return SandboxVerifier(
            runner.sandbox, scoring.tree, box.test_command, box.timeout_s, runner.cancel, job_id
        )

    return make


def evaluate_instance(
    inst: Instance,
    backend: Any,
    settings: Settings,
    folder: Path,
    budgets: Sequence[int],
    runner: Runner,
    mirrors: Path | None = None,
    advance: Callable[[str], None] = lambda _m: None,
    roles: Roles | None = None,
) -> list[dict[str, Any]]:
    """Resolve one instance at each of `budgets` and score the top candidate; returns its rows of
    `results.jsonl` (one per budget). Its checkout and job folders go under `folder`. The one
    function both the sequential loop and a Ray task (`trainer.fanout`) run per instance."""
    git_dir = instance_git_dir(inst, mirrors)
    tree = checkout_repo(git_dir, inst.base_commit, folder / ".work" / inst.instance_id / "tree")
    advance(f"{inst.instance_id} environment")
    scoring = prepare_scoring(inst, tree, git_dir, runner)
    environment = "builds" if scoring.environment_ok else scoring.why
    rows = []
    for n in budgets:
        advance(f"{inst.instance_id} n={n}")
        job_id = f"{inst.instance_id}-n{n}"
        job = ResolveRequest(
            job_id, tree, Issue(inst.problem_statement), budget=n, out_dir=folder / "jobs" / job_id
        )
        report = resolve(
            job,
            backend,
            settings,
            lambda _p: None,
            threading.Event(),
            roles=roles,
            verifier_factory=verifier_factory(runner, scoring, settings, job_id),
        )
        patch = report.candidates[0].diff if report.candidates else ""
        total = report.cost.total
        resolved = score(inst, patch, scoring, git_dir, runner)
        rows.append(
            {
                "instance_id": inst.instance_id,
                "budget": n,
                "state": report.state,
                "error": report.error,
                "model_patch": patch,
                "resolved": resolved,
                "unscored": scoring.why if resolved is None else None,
                "environment": environment,
                "prompt_tokens": total.prompt_tokens,
                "completion_tokens": total.completion_tokens,
                "model_calls": total.model_calls,
                "sandbox_seconds": total.sandbox_seconds,
                "wall_seconds": report.cost.wall_seconds,
            }
        )
    return rows


def open_results(out: Path, model_name: str) -> ResultLog:
    """`OUT/eval/results.jsonl` as a `ResultLog` keyed by (instance, budget), each row stamped
    with the model it evaluated. Rows of another model are an error rather than reused: a rerun
    resumes one model's evaluation, it never mixes two."""
    log = ResultLog(out / STEP / RESULTS, lambda r: (r["instance_id"], r["budget"]))
    others = sorted({str(r.get("model")) for r in log.rows()} - {model_name})
    if others:
        raise DataError(
            f"{log.path} holds results of {', '.join(others)}, not {model_name}: "
            "evaluate into another --out, or delete the file to start over"
        )
    return log


def missing_budgets(log: ResultLog, inst: Instance, budgets: Sequence[int]) -> list[int]:
    """The budgets `inst` has no row for yet (all of them on a fresh run)."""
    return [n for n in budgets if (inst.instance_id, n) not in log]


def evaluate(
    instances: list[Instance],
    backend: Any,
    settings: Settings,
    out: Path,
    budgets: list[int],
    runner: Runner,
    model_name: str,
    mirrors: Path | None = None,
    advance: Callable[[str], None] = lambda _m: None,
    roles: Roles | None = None,
) -> dict[str, Any]:
    """Resolve and score every instance at every budget not yet in `results.jsonl` (appending
    each instance's rows as it finishes, so a rerun resumes), then write the step's files from it
    (`finish`); returns the report. `roles` replaces the backend's policy, PRM and ORM (as in
    `resolve`; tests script them)."""
    folder = out / STEP
    log = open_results(out, model_name)
    for inst in instances:
        todo = missing_budgets(log, inst, budgets)
        if not todo:
            for _ in range(len(budgets) + 1):  # the progress bar counts the steps it skips
                advance(f"{inst.instance_id} done before")
            continue
        rows = evaluate_instance(inst, backend, settings, folder, todo, runner, mirrors, advance, roles)
        log.add({**r, "model": model_name} for r in rows)
    return finish(log, instances, budgets, model_name, runner.enabled)


def finish(
    log: ResultLog, instances: Sequence[Instance], budgets: Sequence[int], model_name: str, sandbox: bool
) -> dict[str, Any]:
    """The step's files from the merged `results.jsonl`: the file itself in instance and budget
    order, the predictions per budget, and `report.json` over `instances` (an instance with no row
    yet, e.g. one whose Ray task failed, is left out of the curve). Returns the report."""
    folder = log.path.parent
    position = {inst.instance_id: i for i, inst in enumerate(instances)}
    log.rewrite(lambda r: (position.get(r["instance_id"], len(position)), r["instance_id"], r["budget"]))
    results = [
        row for inst in instances for n in budgets if (row := log.get((inst.instance_id, n))) is not None
    ]
    for n in budgets:
        rows = [
            {
                "instance_id": r["instance_id"],
                "model_name_or_path": model_name,
                "model_patch": r["model_patch"],
            }
            for r in results
            if r["budget"] == n
        ]
        write_jsonl(folder / f"predictions-n{n}.jsonl", rows)
        if n == max(budgets):
            write_jsonl(folder / "predictions.jsonl", rows)
    report = {
        "model": model_name,
        "instances": len(instances),
        "budgets": {str(n): budget_row([r for r in results if r["budget"] == n]) for n in budgets},
        "environment": {r["instance_id"]: r["environment"] for r in results},
        "sandbox": sandbox,
    }
    (folder / "report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report


def budget_row(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """One point of the per-budget curve: how many were scored and resolved, the resolve rate over
    the scored ones (None when none could be scored), and the mean cost per instance."""
    scored = [r for r in rows if r["resolved"] is not None]
    resolved = sum(bool(r["resolved"]) for r in scored)
    keys = ("prompt_tokens", "completion_tokens", "model_calls", "sandbox_seconds", "wall_seconds")
    return {
        "instances": len(rows),
        "scored": len(scored),
        "resolved": resolved,
        "resolve_rate": resolved / len(scored) if scored else None,
        "with_patch": sum(bool(r["model_patch"].strip()) for r in rows),
        "failed_jobs": sum(r["state"] != "done" for r in rows),
        "cost_per_instance": {k: round(sum(r[k] for r in rows) / max(len(rows), 1), 3) for k in keys},
    }


def register(subparsers: Any) -> None:
    """Add the `eval` subcommand."""
    p = subparsers.add_parser("eval", help="predictions.jsonl and resolve rate per budget (step 8)")
    p.add_argument("--out", type=Path, required=True, help="the run folder")
    p.add_argument("--instances", type=Path, default=None, help="SWE-bench JSONL (default: collect's)")
    p.add_argument("--model", required=True, help="the manifest to evaluate (e.g. one `export` wrote)")
    p.add_argument("--backend", choices=["auto", "vllm", "transformers", "openai"], default="auto")
    p.add_argument("--base-url", default=None, help="an OpenAI-compatible endpoint serving the model")
    p.add_argument("--budgets", default="1,2,4,8", help="comma-separated budgets n (the curve)")
    p.add_argument("--beam", type=int, default=None, help="kept per stage, k")
    p.add_argument("--max-tokens", type=int, default=None, help="tokens per answer")
    p.add_argument("--rounds", type=int, default=None, help="tool-call rounds per localization")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (local backends)")
    p.add_argument("--sandbox", choices=["auto", "docker", "bwrap", "local", "none"], default="docker")
    p.add_argument("--timeout", type=float, default=None, help="seconds per sandbox run")
    p.add_argument("--mirrors", type=Path, default=None, help="folder of git mirrors")
    p.add_argument("--limit", type=int, default=None, help="only the first N instances")
    from trainer.fanout import add_ray_arguments

    add_ray_arguments(p)
    p.set_defaults(run=run)


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The settings the command line sets (the rest come from the user's settings as usual)."""
    model: dict[str, Any] = {"name": args.model, "backend": args.backend}
    if args.base_url:
        model["base_url"] = args.base_url
    if args.threads:
        model["threads"] = args.threads
    search = {
        k: v
        for k, v in (
            ("beam", args.beam),
            ("max_tokens", args.max_tokens),
            ("max_localization_rounds", args.rounds),
        )
        if v is not None
    }
    # The whole test log is graded per test: a cut one would lose tests.
    sandbox: dict[str, Any] = (
        {} if args.sandbox == "none" else {"kind": args.sandbox, "max_output_bytes": LOG_BYTES}
    )
    if args.timeout and sandbox:
        sandbox["timeout_s"] = args.timeout
    if args.sandbox == "none":
        search["strategy"] = "vote"  # nothing may run
    return {"model": model, "search": search, "sandbox": sandbox}


def run(args: argparse.Namespace) -> int:
    """Open the model and sandbox, evaluate with a progress bar (here, or as Ray tasks with
    `--ray`/`--ray-address`: `trainer.fanout`), print the curve."""
    from swe_lsp.cli.common import counting_bar
    from swe_lsp.llm import get_manifest, open_backend
    from swe_lsp.sandbox import open_sandbox
    from swe_lsp.settings import load_settings
    from trainer.fanout import ray_model, ray_options, ray_provenance
    from trainer.ray_steps import evaluate_on_ray

    budgets = sorted({int(b) for b in args.budgets.split(",") if b.strip()})
    settings = load_settings(None, _overrides(args)).settings
    instances = read_instances(args.instances or args.out / "collect" / "instances.jsonl")[: args.limit]
    manifest = get_manifest(args.model, settings.models_dirs)
    options = ray_options(args)
    model = ray_model(options, manifest, settings)
    provenance.record(
        args.out,
        STEP,
        {
            "model": args.model,
            "budgets": budgets,
            "search": settings.search.model_dump(),
            "sandbox": args.sandbox,
            "seed": settings.model.seed,
            **ray_provenance(options),
        },
    )
    if options is not None and model is not None:
        with counting_bar("eval", len(instances)) as advance:
            report = evaluate_on_ray(
                instances,
                model,
                settings,
                args.out,
                budgets,
                manifest.name,
                options,
                args.mirrors,
                advance,
                sandbox=args.sandbox != "none",
            )
    else:
        with ExitStack() as stack, counting_bar("eval", len(instances) * (len(budgets) + 1)) as advance:
            box = stack.enter_context(open_sandbox(settings.sandbox)) if args.sandbox != "none" else None
            backend = stack.enter_context(open_backend(manifest, settings.model, settings.cache_path()))
            report = evaluate(
                instances,
                backend,
                settings,
                args.out,
                budgets,
                Runner(box, settings.sandbox.timeout_s),
                manifest.name,
                args.mirrors,
                advance,
            )
    for n, row in report["budgets"].items():
        print(
            f"n={n:>3}  resolved {row['resolved']}/{row['scored']} scored of {row['instances']}  "
            f"calls/instance {row['cost_per_instance']['model_calls']:.1f}  "
            f"tokens/instance {row['cost_per_instance']['prompt_tokens']:.0f} in, "
            f"{row['cost_per_instance']['completion_tokens']:.0f} out"
        )
    for instance_id, state in report["environment"].items():
        if state != "builds":
            print(f"{instance_id}: not scored ({state})")
    print(f"predictions: {args.out / STEP / 'predictions.jsonl'}")
    return 0
