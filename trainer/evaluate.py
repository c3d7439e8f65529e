"""`swe-train eval`: the server's Dev-Search over SWE-bench-format instances, as predictions.

For each instance, its repository at the base commit (from `--mirrors`, or its own `git_dir`) is
resolved with the server's `resolve` at each budget of `--budgets` (n samples per stage); the top
ranked candidate is the prediction. Outputs in `OUT/eval/`:

- `predictions-n<N>.jsonl` per budget and `predictions.jsonl` (the largest budget), in the
  SWE-bench harness format: `{"instance_id", "model_name_or_path", "model_patch"}`;
- `results.jsonl`: per instance and budget, the patch, whether it resolved, the cost;
- `report.json`: resolve rate per budget (the per-budget curve), cost per instance (tokens in and
  out, model calls, wall seconds), and how many were scored.

Scoring here uses the project's own verification: with FAIL_TO_PASS / PASS_TO_PASS given, the
prediction plus the instance's test patch is run in the sandbox (`--sandbox docker` to isolate) and
resolved means those tests pass. On a machine with the official images, score the same file with
the SWE-bench harness instead::

    python -m swebench.harness.run_evaluation --dataset_name princeton-nlp/SWE-bench_Lite \\
        --predictions_path OUT/eval/predictions.jsonl --max_workers 8 --run_id swe-lsp
"""

from __future__ import annotations

import argparse
import json
import threading
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from swe_lsp.search import Issue, ResolveRequest, resolve
from swe_lsp.settings import Settings
from trainer import provenance
from trainer.instances import Instance, read_instances, write_jsonl
from trainer.repos import checkout_repo, file_at, instance_git_dir
from trainer.runs import Runner, patched_texts, test_argv

STEP = "eval"


def score(inst: Instance, patch: str, tree: Path, git_dir: Path, runner: Runner) -> bool | None:
    """Whether `patch` resolves `inst` (its FAIL_TO_PASS and PASS_TO_PASS pass with it); None when
    it cannot be told (no tests listed, or no sandbox)."""
    if not runner.enabled or not test_argv(inst):
        return None
    if not patch.strip():
        return False

    def read(path: str) -> str | None:
        return file_at(git_dir, inst.base_commit, path)

    changed = patched_texts(patch, read)
    if changed is None:
        return False
    tests = patched_texts(inst.test_patch, read) or {}
    _, ran = runner.patch(tree, inst, changed, tests, None)
    return bool(ran is not None and ran.ok)


def evaluate(
    instances: list[Instance],
    backend: Any,
    settings: Settings,
    out: Path,
    budgets: list[int],
    runner: Runner,
    model_name: str,
    mirrors: Path | None = None,
    advance: Any = lambda _m: None,
) -> dict[str, Any]:
    """Resolve every instance at every budget, score, write the step's files; returns the report."""
    folder = out / STEP
    results = []
    for inst in instances:
        git_dir = instance_git_dir(inst, mirrors)
        tree = checkout_repo(git_dir, inst.base_commit, folder / ".work" / inst.instance_id)
        for n in budgets:
            advance(f"{inst.instance_id} n={n}")
            job = ResolveRequest(
                f"{inst.instance_id}-n{n}",
                tree,
                Issue(inst.problem_statement),
                budget=n,
                out_dir=folder / "jobs" / f"{inst.instance_id}-n{n}",
            )
            report = resolve(job, backend, settings, lambda _p: None, threading.Event())
            patch = report.candidates[0].diff if report.candidates else ""
            total = report.cost.total
            results.append(
                {
                    "instance_id": inst.instance_id,
                    "budget": n,
                    "state": report.state,
                    "model_patch": patch,
                    "resolved": score(inst, patch, tree, git_dir, runner),
                    "prompt_tokens": total.prompt_tokens,
                    "completion_tokens": total.completion_tokens,
                    "model_calls": total.model_calls,
                    "wall_seconds": report.cost.wall_seconds,
                }
            )
    write_jsonl(folder / "results.jsonl", results)
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
    curve = {}
    for n in budgets:
        at = [r for r in results if r["budget"] == n]
        scored = [r for r in at if r["resolved"] is not None]
        curve[str(n)] = {
            "instances": len(at),
            "scored": len(scored),
            "resolved": sum(bool(r["resolved"]) for r in scored),
            "resolve_rate": sum(bool(r["resolved"]) for r in scored) / len(scored) if scored else None,
            "cost_per_instance": {
                k: sum(r[k] for r in at) / max(len(at), 1)
                for k in ("prompt_tokens", "completion_tokens", "model_calls", "wall_seconds")
            },
        }
    report = {"model": model_name, "budgets": curve, "sandbox": runner.enabled}
    (folder / "report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report


def register(subparsers: Any) -> None:
    """Add the `eval` subcommand."""
    p = subparsers.add_parser("eval", help="predictions.jsonl and resolve rate per budget (step 8)")
    p.add_argument("--out", type=Path, required=True, help="the run folder")
    p.add_argument("--instances", type=Path, default=None, help="SWE-bench JSONL (default: collect's)")
    p.add_argument("--model", required=True, help="the manifest to evaluate (e.g. one `export` wrote)")
    p.add_argument("--backend", choices=["auto", "vllm", "transformers", "openai"], default="auto")
    p.add_argument("--base-url", default=None, help="an OpenAI-compatible endpoint serving the model")
    p.add_argument("--budgets", default="1,2,4,8", help="comma-separated budgets n (the curve)")
    p.add_argument("--sandbox", choices=["auto", "docker", "bwrap", "local", "none"], default="docker")
    p.add_argument("--mirrors", type=Path, default=None, help="folder of git mirrors")
    p.add_argument("--limit", type=int, default=None, help="only the first N instances")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Open the model and sandbox, evaluate with a progress bar, print the curve."""
    from rich.progress import Progress

    from swe_lsp.llm import get_manifest, open_backend
    from swe_lsp.sandbox import open_sandbox
    from swe_lsp.settings import load_settings

    budgets = sorted({int(b) for b in args.budgets.split(",") if b.strip()})
    model = {
        "name": args.model,
        "backend": args.backend,
        **({"base_url": args.base_url} if args.base_url else {}),
    }
    sandbox = {"kind": args.sandbox} if args.sandbox != "none" else {}
    settings = load_settings(None, {"model": model, "sandbox": sandbox}).settings
    if args.sandbox == "none":
        settings = settings.with_overrides({"search": {"strategy": "vote"}})  # nothing may run
    instances = read_instances(args.instances or args.out / "collect" / "instances.jsonl")[: args.limit]
    manifest = get_manifest(args.model, settings.models_dirs)
    provenance.record(
        args.out,
        STEP,
        {
            "model": args.model,
            "budgets": budgets,
            "search": settings.search.model_dump(),
            "sandbox": args.sandbox,
        },
    )
    with ExitStack() as stack, Progress() as bar:
        box = stack.enter_context(open_sandbox(settings.sandbox)) if args.sandbox != "none" else None
        backend = stack.enter_context(open_backend(manifest, settings.model, settings.cache_path()))
        task = bar.add_task("eval", total=len(instances) * len(budgets))
        report = evaluate(
            instances,
            backend,
            settings,
            args.out,
            budgets,
            Runner(box),
            manifest.name,
            args.mirrors,
            lambda m: bar.update(task, advance=1, description=m),
        )
    for n, row in report["budgets"].items():
        print(
            f"n={n:>3}  resolved {row['resolved']}/{row['scored']} scored of {row['instances']}  "
            f"calls/instance {row['cost_per_instance']['model_calls']:.1f}"
        )
    print(f"predictions: {args.out / STEP / 'predictions.jsonl'}")
    return 0
