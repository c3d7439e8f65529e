"""Choose the semantic signal's parameters on the product's own candidates, by halves (issue 14).

    SWE_LSP_BENCH_MIRRORS=/work/.mirror python bench/semantic_tune.py [--summary RANK_HISTORY_JSON]

Reads what `bench/rank_history.py` cached per instance (the product's file-ranker pool and feature
rows) and the models it trained, ranks each instance's functions with the product's file order and
the hand weights, and keeps its best SEMANTIC_TOP candidates with their hand scores and their
similarity to each of the issue's windows under the embedding model (`SemanticModel.
window_similarities`; the vectors come from the bench's store, so a run after rank_history's is
cheap). Dumped per instance under bench/.cache/semantic-tune/, then every setting of the grid
(weight, how many candidates are re-weighed, how the windows are combined) re-ranks those
candidates as `retrieval._add_semantic` does (and, a variant not served, the product's top files by
their best symbol's similarity), scored on two halves of the instances (alternate
instance ids): a setting is only worth serving if it wins on both. The served setting is checked to
reproduce rank_history's `product` functions first. Summary: bench/results/semantic_tune.json.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from localize import CACHE, FILE_KS, SYMBOL_KS, add_selection_args, materialize, recall, selected_rows  # noqa: E402
from rank_history import STORE  # noqa: E402

from swe_lsp.workspace.files import read_text  # noqa: E402
from swe_lsp.workspace.index import RepoIndex  # noqa: E402
from swe_lsp.workspace.ranker import Ranker  # noqa: E402
from swe_lsp.workspace.retrieval import (  # noqa: E402
    FILE_SEMANTIC_WEIGHT,
    SEMANTIC_TOP,
    SEMANTIC_WEIGHT,
    first_stage,
    retrieve,
)
from swe_lsp.workspace.semantic import load_semantic, symbol_text  # noqa: E402

DUMPS = CACHE / "semantic-tune"
RESULTS = HERE / "results" / "semantic_tune.json"
WEIGHTS = (0.0, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0)
TOPS = (50, 100, 200)
# How a candidate's similarities to the issue's windows become one number: the best window (served),
# the first window only (the title and the start of the report), their mean.
COMBINE = ("max", "first", "mean")


def product_instance(
    row: dict, queries: int, product_model: Path
) -> tuple[dict, RepoIndex, Callable[[object], dict[str, float]]] | None:
    """What rank_history cached of the instance, its index at its base commit, and the product's
    learned order of its pool (from the cached feature rows); None when it has not cached it."""
    cached_path = STORE / f"instances-q{queries}" / f"{row['instance_id']}.json"
    if not cached_path.exists():
        return None
    record = json.loads(cached_path.read_text())
    repo = row["repo"]
    tree = materialize(repo, row["base_commit"], CACHE / "trees" / f"rank-{repo.replace('/', '+')}")
    index = RepoIndex.build_or_load(tree, CACHE / "index", key=f"rank-{repo}")
    model = Ranker.load(product_model)
    assert model is not None, product_model

    def reorder(_: object) -> dict[str, float]:
        return dict(zip(record["pool"], model.scores(record["rows"]), strict=True))

    return record, index, reorder


def dump(row: dict, queries: int, product_model: Path) -> dict | None:
    """The instance's best SEMANTIC_TOP functions in the product's hand order, with their window
    similarities, written under DUMPS; None when rank_history has not cached the instance."""
    out = DUMPS / f"{row['instance_id']}.json"
    found_instance = product_instance(row, queries, product_model)
    if found_instance is None:
        return None
    record, index, reorder = found_instance
    issue = row["problem_statement"]
    found = retrieve(index, issue, max(FILE_KS), SEMANTIC_TOP, reorder, stage=first_stage(index, issue))
    head = found.symbols
    lines = {h.file: (read_text(index.root, h.file) or "").splitlines() for h in head}
    texts = [symbol_text(h, lines[h.file]) for h in head]
    sims = load_semantic(cache_dir=CACHE).window_similarities(issue, texts)
    data = {
        "instance_id": row["instance_id"],
        "gold_symbols": record["gold_symbols"],
        "product_symbols": record["product_symbols"],
        "gold_files": record["gold_files"],
        "top_files": [[h.path, h.score] for h in found.files],
        "names": [f"{h.file}::{h.name}" for h in head],
        "files": [h.file for h in head],
        "starts": [h.start for h in head],
        "hand": [h.score for h in head],
        "sims": [[round(float(x), 5) for x in r] for r in sims],
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data))
    print(f"{row['instance_id']}: {len(head)} candidates, {sims.shape[1] if len(head) else 0} windows",
          file=sys.stderr, flush=True)  # fmt: skip
    return data


def rerank(data: dict, weight: float, top: int, combine: str) -> list[str]:
    """The functions in the order `retrieval._add_semantic` gives with these parameters."""
    n = min(top, len(data["names"]))
    if n == 0:
        return []
    sims = data["sims"][:n]
    agg = [max(s) if combine == "max" else s[0] if combine == "first" else sum(s) / len(s) for s in sims]
    mean = sum(agg) / n
    spread = math.sqrt(sum((a - mean) ** 2 for a in agg) / n) or 1.0
    scored = [
        (round(data["hand"][i] + (weight * (agg[i] - mean) / spread if i < n else 0.0), 4), i)
        for i in range(len(data["names"]))
    ]
    scored.sort(key=lambda t: (-t[0], data["files"][t[1]], data["starts"][t[1]]))
    return [data["names"][i] for _, i in scored]


def rerank_files(data: dict, weight: float) -> list[str]:
    """The product's top files re-weighed by their best symbol's similarity to the issue (the best
    window), standardized over those files, as the symbol stage does for symbols: a file-level
    variant, measured here, not served."""
    best: dict[str, float] = {}
    for name, sims in zip(data["names"], data["sims"], strict=True):
        path = name.split("::", 1)[0]
        best[path] = max(best.get(path, -1.0), max(sims))
    files = data["top_files"]
    known = [best[p] for p, _ in files if p in best]
    if not known:
        return [p for p, _ in files]
    floor = min(known)
    agg = [best.get(p, floor) for p, _ in files]
    mean = sum(agg) / len(agg)
    spread = math.sqrt(sum((a - mean) ** 2 for a in agg) / len(agg)) or 1.0
    scored = [
        (score + weight * (a - mean) / spread, i)
        for i, ((_, score), a) in enumerate(zip(files, agg, strict=True))
    ]
    scored.sort(key=lambda t: (-t[0], t[1]))
    return [files[i][0] for _, i in scored]


def file_score(dumps: list[dict], weight: float) -> dict[str, float | None]:
    records = [{"gold": d["gold_files"], "ranked": rerank_files(d, weight)} for d in dumps]
    return {f"file@{k}": recall(records, "gold", "ranked", k) for k in FILE_KS}


def score(dumps: list[dict], weight: float, top: int, combine: str) -> dict[str, float | None]:
    records = [{"gold": d["gold_symbols"], "ranked": rerank(d, weight, top, combine)} for d in dumps]
    return {f"function@{k}": recall(records, "gold", "ranked", k) for k in SYMBOL_KS}


def product_args(description: str, results: Path) -> argparse.Namespace:
    """The command line of a bench that tunes a stage on the product's candidates (this one,
    `symbol_tune.py`, `trace_signal.py`): the instances, rank_history's training size and summary,
    the output."""
    parser = argparse.ArgumentParser(description=description)
    add_selection_args(parser)
    parser.add_argument("--queries", type=int, default=400, help="rank_history's training size")
    parser.add_argument(
        "--summary",
        type=Path,
        default=HERE / "results" / "rank_history.json",
        help="rank_history's summary (which model the product serves per repository)",
    )
    parser.add_argument("--out", type=Path, default=results)
    return parser.parse_args()


def served_model(summary: Path, queries: int, repo: str) -> Path:
    """The model file the product serves `repo` (rank_history's `summary` decides which)."""
    serves = json.loads(summary.read_text())["decisions"][repo]["serves"]
    return STORE / f"models-q{queries}" / repo.replace("/", "+") / f"{serves}.txt"


def product_dumps(
    args: argparse.Namespace, dump: Callable[[dict, int, Path], dict | None], cached: Path
) -> list[dict]:
    """Each selected instance's dump: the one `cached` holds (`<instance id>.json`), else `dump(row,
    queries, the model the product serves the row's repository)` (None where rank_history has not
    cached the instance), sorted by instance id (the halves alternate on it)."""
    dumps = []
    for row in selected_rows(args):
        kept = cached / f"{row['instance_id']}.json"
        if kept.exists():
            dumps.append(json.loads(kept.read_text()))
            continue
        found = dump(row, args.queries, served_model(args.summary, args.queries, row["repo"]))
        if found is not None:
            dumps.append(found)
    return sorted(dumps, key=lambda d: d["instance_id"])


def main() -> int:
    args = product_args(__doc__.split("\n\n")[0], RESULTS)
    dumps = product_dumps(args, dump, DUMPS)
    served = [rerank(d, SEMANTIC_WEIGHT, SEMANTIC_TOP, "max")[: max(SYMBOL_KS)] for d in dumps]
    same = sum(s == d["product_symbols"][: max(SYMBOL_KS)] for s, d in zip(served, dumps, strict=True))
    # The files as served (rank_history's `product` since its SYMBOL_STAGE 4), from its current records.
    current = [
        json.loads((STORE / f"instances-q{args.queries}" / f"{d['instance_id']}.json").read_text())
        for d in dumps
    ]
    same_files = sum(
        rerank_files(d, FILE_SEMANTIC_WEIGHT) == r["product_files"][: max(FILE_KS)]
        for d, r in zip(dumps, current, strict=True)
    )
    halves = {"a": dumps[0::2], "b": dumps[1::2]}
    grid = []
    for combine in COMBINE:
        for top in TOPS:
            for weight in WEIGHTS:
                grid.append({
                    "combine": combine, "top": top, "weight": weight,
                    **{half: score(part, weight, top, combine) for half, part in halves.items()},
                    "all": score(dumps, weight, top, combine),
                })  # fmt: skip
    files = [
        {
            "weight": w,
            **{half: file_score(part, w) for half, part in halves.items()},
            "all": file_score(dumps, w),
        }
        for w in WEIGHTS
    ]
    best = {
        half: max(grid, key=lambda g, h=half: (g[h]["function@10"] or 0) + (g[h]["function@20"] or 0))
        for half in halves
    }
    summary = {
        "instances": len(dumps),
        "served": {
            "combine": "max",
            "top": SEMANTIC_TOP,
            "weight": SEMANTIC_WEIGHT,
            "files": FILE_SEMANTIC_WEIGHT,
        },
        "served_reproduces_rank_history": f"{same} of {len(dumps)}",
        "served_files_reproduce_rank_history": f"{same_files} of {len(dumps)}",
        "best_on_half": {h: {k: g[k] for k in ("combine", "top", "weight")} for h, g in best.items()},
        "grid": grid,
        "files": files,
    }
    args.out.write_text(json.dumps(summary, indent=1) + "\n")
    for g in grid:
        shown = "  ".join(f"{h} {g[h]['function@10']}/{g[h]['function@20']}" for h in ("a", "b", "all"))
        print(f"{g['combine']:>5} top {g['top']:>3} w {g['weight']:<4}  {shown}")
    for f in files:
        shown = "  ".join(
            f"{h} " + "/".join(str(f[h][f"file@{k}"]) for k in FILE_KS) for h in ("a", "b", "all")
        )
        print(f"files w {f['weight']:<4}  {shown}")
    print(json.dumps({k: v for k, v in summary.items() if k not in ("grid", "files")}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
