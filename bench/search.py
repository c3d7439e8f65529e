"""Benchmark `resolve` on the example workspace: tokens, model calls, sandbox and wall time per job
at budgets 1, 2, 4, 8, for Dev-Search against the comparison strategies at equal budget.

    python bench/search.py [--budgets 1 2 4 8] [--strategies devsearch exec orm_exec vote]
                           [--backend transformers] [--max-tokens 96] [--rounds 1] [--sandbox bwrap]

The model is loaded once and every job runs on a fresh snapshot of examples/statsmini. With the
embedded 135M model this measures the cost of the search machinery (how the budget turns into
tokens, calls and time per strategy), not its success rate, which needs a trained 32B model. The
summary goes to bench/results/search.json (one row per strategy and budget, plus the machine).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from swe_lsp.llm import get_manifest, open_backend  # noqa: E402
from swe_lsp.search import Issue, ResolveRequest, resolve  # noqa: E402
from swe_lsp.settings import Settings  # noqa: E402

EXAMPLE = HERE.parent / "examples" / "statsmini"
RESULTS = HERE / "results" / "search.json"
CACHE = HERE.parent / ".cache" / "test-models"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budgets", type=int, nargs="+", default=[1, 2, 4, 8])
    parser.add_argument("--strategies", nargs="+", default=["devsearch", "exec", "orm_exec", "vote"])
    parser.add_argument("--backend", default="transformers")
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--max-tokens", type=int, default=96)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--beam", type=int, default=2)
    parser.add_argument("--sandbox", default="bwrap")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()

    base = Settings.model_validate(
        {
            "cache_dir": str(CACHE),
            "model": {"name": args.model, "backend": args.backend, "threads": args.threads, "seed": 0},
            "search": {
                "max_tokens": args.max_tokens,
                "max_localization_rounds": args.rounds,
                "max_refinements": 1,
            },
            "sandbox": {"kind": args.sandbox, "timeout_s": 120},
        }
    )
    issue = Issue((EXAMPLE / "ISSUE.md").read_text())
    rows: list[dict] = []
    started = time.perf_counter()

    def summary(load_s: float) -> dict:
        return {
            "what": "resolve on examples/statsmini: cost per job by strategy and budget (n per stage)",
            "model": args.model,
            "backend": args.backend,
            "threads": args.threads,
            "max_tokens": args.max_tokens,
            "localization_rounds": args.rounds,
            "sandbox": args.sandbox,
            "machine": f"{platform.machine()}, {os.cpu_count()} cores (shared), {platform.python_version()}",
            "load_average": round(os.getloadavg()[0], 1),
            "model_load_seconds": round(load_s, 1),
            "complete": len(rows) == len(args.budgets) * len(args.strategies),
            "rows": rows,
        }

    with open_backend(get_manifest(args.model), base.model, CACHE) as backend:
        load_s = time.perf_counter() - started
        for budget in args.budgets:
            for strategy in args.strategies:
                request = ResolveRequest(
                    f"bench-{strategy}-{budget}",
                    EXAMPLE,
                    issue,
                    budget=budget,
                    beam=min(args.beam, budget),
                    strategy=strategy,
                    out_dir=CACHE.parent / "bench-search" / f"{strategy}-{budget}",
                )
                report = resolve(request, backend, base, lambda p: None, threading.Event())
                total = report.cost.total
                row = {
                    "strategy": strategy,
                    "budget": budget,
                    "beam": min(args.beam, budget),
                    "state": report.state,
                    "error": report.error,
                    "prompt_tokens": total.prompt_tokens,
                    "completion_tokens": total.completion_tokens,
                    "model_calls": total.model_calls,
                    "sandbox_seconds": round(total.sandbox_seconds, 2),
                    "wall_seconds": round(report.cost.wall_seconds, 2),
                    "candidates": len(report.candidates),
                    "verified": sum(1 for c in report.candidates if c.evidence.verified),
                }
                rows.append(row)
                print(json.dumps(row), flush=True)
                # Written after every job, so a long run that is stopped keeps what it measured.
                args.out.parent.mkdir(parents=True, exist_ok=True)
                args.out.write_text(json.dumps(summary(load_s), indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
