"""What the history ranker costs on a real repository: idle training (time, peak memory) and the
latency it adds to a request on a warm index (issue 14).

    python bench/rank_cost.py --workspace /tmp/django-ws [--issues 20]

`--workspace` is a git checkout (e.g. django cloned from its mirror and checked out at a SWE-bench
base commit). Steps, each in a fresh process so peak memory is its own: the index build; the idle
training (`learning.train_workspace` as the indexer runs it: history read, rows, LambdaRank on top of
the prior) from an empty ranker cache; then, per issue (the repository's SWE-bench Lite problem
statements), a job's retrieval with and without the learned order, the ranker's model and cached
history loaded per job as the engine does. Then the semantic signal (`semantic.py`): the idle
embedding ahead (`embed_ahead`, as the indexer runs it, one thread, for `--embed-budget` seconds),
and per issue what the signal adds to a job's retrieval with the vectors stored so far (how many of
its 200 candidates it had to embed itself), then again once they are all stored (a warm store).
Results: bench/results/rank_cost.json.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

RESULTS = HERE / "results" / "rank_cost.json"
DATA = HERE.parent.parent / "shared" / "swebench" / "lite_dev.jsonl"


def _job_retrieve(index: Any, issue: str, **kwargs: Any) -> Any:
    """Retrieval as a job asks for it (`search.context.JobContext`): its files_listed files and its
    RANKED_SYMBOLS symbols, so the cost measured is the one a request pays."""
    from swe_lsp.llm.limits import Limits
    from swe_lsp.search.context import RANKED_SYMBOLS
    from swe_lsp.workspace import retrieve

    return retrieve(index, issue, top=Limits().files_listed, top_symbols=RANKED_SYMBOLS, **kwargs)


def _issues(issues: int) -> list[str]:
    rows = [json.loads(line) for line in DATA.read_text().splitlines() if line.strip()]
    return [r["problem_statement"] for r in rows if r["repo"] == "django/django"][:issues]


def semantic_step(index: Any, cache: Path, issues: int, budget: float) -> dict:
    """Embedding ahead for `budget` seconds, then each issue's retrieval with the signal twice: with
    what was stored ahead, and again with everything it needed stored."""
    import torch

    from swe_lsp.workspace.embed_ahead import EmbedAhead, files_in_order
    from swe_lsp.workspace.history import load_history
    from swe_lsp.workspace.semantic import load_semantic

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the indexer process does
    started = time.perf_counter()
    model = load_semantic(None, cache, device="cpu")
    load_s = time.perf_counter() - started
    history = load_history(index.root, cache, key=str(index.root))  # the indexer's, read before training
    ahead = EmbedAhead(index, model, files_in_order(index, history), budget)
    while ahead.step():
        pass
    report = ahead.report()
    torch.set_num_threads(threads)  # a job's process uses every core
    texts = _issues(issues)
    _job_retrieve(index, texts[0])  # warm: the BM25 and the symbol map are built once per index
    encode = model._model.encode_document
    embedded: list[int] = []

    def counted(batch: list[str], **kwargs: object) -> object:
        embedded[-1] += len(batch)
        return encode(batch, **kwargs)

    model._model.encode_document = counted
    first, warm = [], []
    for text in texts:
        started = time.perf_counter()
        _job_retrieve(index, text)
        plain = time.perf_counter() - started
        embedded.append(0)
        started = time.perf_counter()
        _job_retrieve(index, text, semantic=model)
        first.append(time.perf_counter() - started - plain)
        model._cache.clear()  # the next call reads the store, as a new job's process would
        started = time.perf_counter()
        _job_retrieve(index, text, semantic=model)
        warm.append(time.perf_counter() - started - plain)
    return {
        "model_load_s": round(load_s, 2),
        "ahead_budget_s": budget,
        "ahead_embedded": report.embedded,
        "ahead_total": report.total,
        "ahead_symbols_per_s": round(report.embedded / max(report.seconds, 1e-9), 2),
        "issues": len(texts),
        "median_embedded_by_job": statistics.median(embedded),
        "median_added_s_after_ahead": round(statistics.median(first), 3),
        "max_added_s_after_ahead": round(max(first), 3),
        "median_added_s_warm": round(statistics.median(warm), 3),
        "max_added_s_warm": round(max(warm), 3),
    }


def step(name: str, workspace: Path, cache: Path, issues: int, budget: float = 0.0) -> dict:
    """One measured step, in this process."""
    from swe_lsp.workspace import RepoIndex
    from swe_lsp.workspace.learning import reorder_for, train_workspace

    started = time.perf_counter()
    index = RepoIndex.build_or_load(workspace, cache, key=str(workspace))
    out: dict = {"index_s": round(time.perf_counter() - started, 2), "files": len(index)}
    if name == "train":
        started = time.perf_counter()
        report = train_workspace(workspace, index, cache, str(workspace))
        seconds = round(time.perf_counter() - started, 1)
        out.update(train_s=seconds, model=report.model, queries=report.queries, note=report.note)
    elif name == "semantic":
        out.update(semantic_step(index, cache, issues, budget))
    elif name == "serve":
        texts = _issues(issues)
        _job_retrieve(index, texts[0])  # warm: the BM25 and the symbol map are built once per index
        plain, learned, model = [], [], ""
        for text in texts:
            started = time.perf_counter()
            _job_retrieve(index, text)
            plain.append(time.perf_counter() - started)
            started = time.perf_counter()
            order = reorder_for(cache, str(workspace))
            model = order.name
            _job_retrieve(index, text, reorder=order.files)
            learned.append(time.perf_counter() - started)
        added = [b - a for a, b in zip(plain, learned, strict=True)]
        out.update(model=model, issues=len(texts))
        out["median_first_stage_s"] = round(statistics.median(plain), 3)
        out["median_learned_s"] = round(statistics.median(learned), 3)
        out["median_added_s"] = round(statistics.median(added), 3)
        out["max_added_s"] = round(max(added), 3)
    out["peak_rss_mib"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workspace", type=Path, required=True)
    parser.add_argument("--issues", type=int, default=20)
    parser.add_argument("--embed-budget", type=float, default=300.0,
                        help="seconds of embedding ahead before the semantic step's requests")  # fmt: skip
    parser.add_argument("--only", choices=("semantic",), help="measure only this step (after the index)")
    parser.add_argument("--step", choices=("index", "train", "serve", "semantic"), help=argparse.SUPPRESS)
    parser.add_argument("--cache", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    workspace = args.workspace.resolve()
    if args.step:
        print(json.dumps(step(args.step, workspace, args.cache, args.issues, args.embed_budget)))
        return 0
    cache = Path(tempfile.mkdtemp(prefix="rank-cost-"))
    try:
        summary: dict = {
            "workspace": str(workspace),
            "head": subprocess.run(
                ["git", "-C", str(workspace), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
            ).stdout.strip(),
        }
        summary = {**(json.loads(RESULTS.read_text()) if args.only and RESULTS.exists() else {}), **summary}
        steps = ("index", args.only) if args.only else ("index", "train", "serve", "semantic")
        for name in steps:
            done = subprocess.run(
                [sys.executable, __file__, "--workspace", str(workspace), "--issues", str(args.issues),
                 "--step", name, "--cache", str(cache), "--embed-budget", str(args.embed_budget)],
                capture_output=True, text=True, check=True,
            )  # fmt: skip
            summary[name] = json.loads(done.stdout.strip().splitlines()[-1])
            print(name, summary[name], file=sys.stderr, flush=True)
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    RESULTS.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
