"""Choose the symbol stage's settings on the product's own candidates, by halves (issue 14).

    SWE_LSP_BENCH_MIRRORS=/work/.mirror python bench/symbol_tune.py [--summary RANK_HISTORY_JSON]

Reads what `bench/rank_history.py` cached per instance (the product's pool and feature rows) and the
models it trained, and dumps every symbol candidate of the product's best FILES_FOR_SYMBOLS files
(`retrieval.symbol_candidates`) with its hand score with the issue's title weighted in the symbol
BM25 and without (`retrieval.TITLE_WEIGHT`) and that score's parts (for other hand weights), its
similarity to the issue (the hand order's best SIMILAR candidates; the vectors come from the bench's
store, so a run after rank_history's is cheap) and the names its lines call. Dumped per instance
under bench/.cache/symbol-tune/; then each variant replays the stage's order on those candidates
with the product's own functions (`retrieval._rank_symbols`: the semantic re-weighing of the best
SEMANTIC_TOP, the file place, the classes beside the best methods, the functions nested in the best
function; and the files' quoted gain and semantic re-weighing, `retrieval._files_quoted` and
`retrieval._files_by_meaning`) and is scored on two halves of the instances (alternate instance
ids): a setting is only worth serving if it gains on both. The served setting is checked to
reproduce rank_history's `product` functions and files: a cached dump is not computed again, so
after a change to the stage delete bench/.cache/symbol-tune/ (the check says when one is stale).
Summary: bench/results/symbol_tune.json.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Collection
from dataclasses import replace
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from localize import CACHE, FILE_KS, SYMBOL_KS, recall  # noqa: E402
from rank_history import STORE  # noqa: E402
from semantic_tune import product_args, product_dumps, product_instance  # noqa: E402

from swe_lsp.workspace import retrieval  # noqa: E402
from swe_lsp.workspace.files import read_text  # noqa: E402
from swe_lsp.workspace.model import SymbolHit  # noqa: E402
from swe_lsp.workspace.semantic import load_semantic, symbol_text  # noqa: E402

DUMPS = CACHE / "symbol-tune"
RESULTS = HERE / "results" / "symbol_tune.json"
# Candidates whose similarity is dumped: twice SEMANTIC_TOP, so a variant that moves a candidate into
# the re-weighed best has its similarity.
SIMILAR = 2 * retrieval.SEMANTIC_TOP


def dump(
    row: dict, queries: int, product_model: Path, executed: Collection[str] = (), under: Path = DUMPS
) -> dict | None:
    """The instance's candidates with what the variants need, written under `under`; None when
    rank_history has not cached the instance. `executed`: the `file::name` of the symbols the
    issue's example called (`bench/trace_signal.py`), whose files beyond the best are drawn in after
    them (measured, not served: the README's "Not served")."""
    out = under / f"{row['instance_id']}.json"
    found_instance = product_instance(row, queries, product_model)
    if found_instance is None:
        return None
    record, index, reorder = found_instance
    issue = row["problem_statement"]
    stage = retrieval.first_stage(index, issue)
    # The files the symbol stage draws from and the scores it weighs them by, as `retrieve` has them.
    ranked, scores, _ = retrieval.learned_order(stage, reorder)
    drawn = {name.partition("::")[0] for name in executed}
    files = ranked[: retrieval.FILES_FOR_SYMBOLS]
    files += [p for p in ranked[retrieval.FILES_FOR_SYMBOLS :] if p in drawn]
    weighted = retrieval.symbol_candidates(index, stage, files, scores)
    served_weight = retrieval.TITLE_WEIGHT
    try:
        retrieval.TITLE_WEIGHT = 0.0  # the symbol BM25 without the title (the files stay as served)
        plain = retrieval.symbol_candidates(index, stage, files, scores)
    finally:
        retrieval.TITLE_WEIGHT = served_weight
    texts: dict[str, list[str]] = {}
    cands = []
    for c, p in zip(weighted, plain, strict=True):
        sym = c.symbol
        if sym.file not in texts:
            texts[sym.file] = (read_text(index.root, sym.file) or "").splitlines()
        own = "\n".join(texts[sym.file][sym.start - 1 : sym.end])
        cands.append({
            "file": sym.file, "name": sym.name, "kind": sym.kind, "start": sym.start, "end": sym.end,
            "hand": round(retrieval.hand_score(c)[0], 4), "hand_plain": round(retrieval.hand_score(p)[0], 4),
            "calls": sorted(set(retrieval._CALLED.findall(own))),
            "parts": {"bm25": c.bm25, "bm25_plain": p.bm25, "file_score": c.file_score,
                      "traceback": c.traceback, "dotted": c.dotted, "named": c.named, "owner": c.owner_named,
                      "quoted": c.quoted, "helper": c.helper},
        })  # fmt: skip
    best = sorted(range(len(cands)), key=lambda i: (-cands[i]["hand"], cands[i]["file"], cands[i]["start"]))
    head = best[:SIMILAR]
    sims = load_semantic(cache_dir=CACHE).similarities(
        issue, [symbol_text(_hit(cands[i]), texts[cands[i]["file"]]) for i in head]
    )
    for i, sim in zip(head, sims, strict=True):
        cands[i]["sim"] = round(sim, 5)
    data = {
        "instance_id": row["instance_id"],
        "gold_symbols": record["gold_symbols"],
        "gold_files": record["gold_files"],
        "files": files,
        "file_scores": [scores[p] for p in files],
        "cands": cands,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(data))
    print(f"{row['instance_id']}: {len(cands)} candidates", file=sys.stderr, flush=True)
    return data


def _hit(c: dict, score: float = 0.0) -> SymbolHit:
    """A dumped candidate as the stage holds it."""
    return SymbolHit(c["file"], c["name"], c["kind"], c["start"], c["end"], score)


# The hand weights (`retrieval.hand_score`) as served, which a variant's `weights` move one at a time
# (with the title in the symbol BM25); `main` checks that they give back every dumped hand score.
HAND_WEIGHTS = {
    "file": retrieval.FILE_SCORE_WEIGHT,
    "bm25": 1.0,
    "traceback": retrieval.TRACEBACK_WEIGHT,
    "dotted": retrieval.DOTTED_WEIGHT,
    "named": retrieval.NAMED_WEIGHT,
    "owner": retrieval.OWNER_NAMED,
    "quoted": retrieval.QUOTED_WEIGHT,
    "helper": retrieval.HELPER_WEIGHT,
}


def _hand(c: dict, weights: dict[str, float]) -> float:
    """A candidate's hand score from its dumped parts under other weights (`retrieval.hand_score`)."""
    p, w = c["parts"], {**HAND_WEIGHTS, **weights}
    score = w["file"] * p["file_score"] + w["bm25"] * p["bm25"] + w["traceback"] * p["traceback"]
    score += w["dotted"] if p["dotted"] else w["named"] * p["named"]
    for part in ("owner", "quoted", "helper"):  # one at a time, in hand_score's order
        score += w[part] * p[part]
    return round(score, 4)


def replay(
    data: dict,
    title: bool = True,
    nested: int = retrieval.NESTED_SHOWN,
    callee: float = 0.0,
    private: bool = False,
    weights: dict[str, float] | None = None,
    semantic: float = retrieval.SEMANTIC_WEIGHT,
    file_rank: float = retrieval.FILE_RANK_WEIGHT,
) -> list[str]:
    """The stage's order of the dumped candidates under a variant (`retrieval._rank_symbols` with the
    similarities read from the dump): `title` (the symbol BM25 weighs the issue's title), `nested`
    (retrieval.NESTED_SHOWN), `callee` (not served: what the functions the best symbol calls gain),
    `weights` (hand weights other than HAND_WEIGHTS), `semantic` (retrieval.SEMANTIC_WEIGHT),
    `file_rank` (retrieval.FILE_RANK_WEIGHT)."""
    key = "hand" if title else "hand_plain"
    # Each hit with its dumped similarity (kept by position: a property and its setter share a name).
    pairs = sorted(
        ((_hit(c, _hand(c, weights) if weights else c[key]), c.get("sim")) for c in data["cands"]),
        key=lambda p: _order(p[0]),
    )
    head, rest = pairs[: retrieval.SEMANTIC_TOP], [h for h, _ in pairs[retrieval.SEMANTIC_TOP :]]
    hits = rest
    if head:
        known = [sim for _, sim in head if sim is not None]
        floor = sum(known) / len(known) if known else 0.0
        z = retrieval._standardized([floor if sim is None else sim for _, sim in head])
        moved = [
            replace(h, score=round(h.score + semantic * v, 4)) for (h, _), v in zip(head, z, strict=True)
        ]
        hits = sorted(moved, key=_order) + rest
    served_rank = retrieval.FILE_RANK_WEIGHT
    try:
        retrieval.FILE_RANK_WEIGHT = file_rank
        hits = retrieval._by_file_place(hits, data["files"])
    finally:
        retrieval.FILE_RANK_WEIGHT = served_rank
    if callee and hits:
        calls = {(c["file"], c["name"]): set(c["calls"]) for c in data["cands"]}
        called = calls[hits[0].file, hits[0].name]
        hits = sorted(
            (
                replace(h, score=round(h.score + callee, 4))
                if n
                and h.name.rpartition(".")[2] in called
                and not h.name.rpartition(".")[2].startswith("__")
                and (not private or h.name.rpartition(".")[2].startswith("_"))
                else h
                for n, h in enumerate(hits)
            ),
            key=_order,
        )
    served = retrieval.NESTED_SHOWN
    try:
        retrieval.NESTED_SHOWN = nested
        shown = retrieval._nested_after_functions(retrieval._classes_beside_methods(hits))
    finally:
        retrieval.NESTED_SHOWN = served
    return [f"{h.file}::{h.name}" for h in shown]


def _order(hit: SymbolHit) -> tuple[float, str, int]:
    return -hit.score, hit.file, hit.start


def replay_files(
    data: dict,
    title: bool = True,
    file_from: int = retrieval.FILE_SIMILAR_FROM,
    weights: dict[str, float] | None = None,
    quoted_gain: float = retrieval.QUOTED_FILE_GAIN,
) -> list[str]:
    """The product's files after the quoted files' gain (`retrieval._files_quoted`, by the factor
    1 + `quoted_gain`) and the semantic step (`retrieval._files_by_meaning`) under a variant: each
    file's similarity is its best symbol's among the `file_from` (retrieval.FILE_SIMILAR_FROM) best
    candidates of the hand order, which the symbol BM25's title weight and the hand `weights`
    change."""
    c = data["cands"]
    key = "hand" if title else "hand_plain"
    hand = [_hand(x, weights) if weights else x[key] for x in c]
    order = sorted(range(len(c)), key=lambda i: (-hand[i], c[i]["file"], c[i]["start"]))
    similar: dict[str, float] = {}
    for i in order[: min(retrieval.SEMANTIC_TOP, file_from)]:
        if "sim" in c[i]:
            similar[c[i]["file"]] = max(similar.get(c[i]["file"], c[i]["sim"]), c[i]["sim"])
    scores = dict(zip(data["files"], data["file_scores"], strict=True))
    quoted = {x["file"] for x in c if x["parts"]["quoted"]}
    served = retrieval.QUOTED_FILE_GAIN
    try:
        retrieval.QUOTED_FILE_GAIN = quoted_gain
        ranked = retrieval._files_quoted(list(data["files"]), scores, {}, quoted)
    finally:
        retrieval.QUOTED_FILE_GAIN = served
    return retrieval._files_by_meaning(ranked, scores, {}, similar)


VARIANTS: dict[str, dict] = {
    "served": {},
    "no title in the symbol BM25": {"title": False},
    "no nested shown": {"nested": 0},
    "neither": {"title": False, "nested": 0},
    "the stage before (neither, files from the best 200)": {"title": False, "nested": 0, "file_from": 200},
    "nested 2": {"nested": 2},
    "nested 10": {"nested": 10},
    "file similarity from the best 25": {"file_from": 25},
    "file similarity from the best 100": {"file_from": 100},
    "file similarity from the best 200": {"file_from": 200},
    "callee of the best 0.4 (not served)": {"callee": 0.4},
    "callee of the best 0.8 (not served)": {"callee": 0.8},
    **{
        f"private callee of the best {v} (not served)": {"callee": v, "private": True}
        for v in (0.3, 0.4, 0.6)
    },
    # Each hand weight moved alone.
    **{
        f"hand weight {k} {v}": {"weights": {k: v}}
        for k, vs in {
            "file": (0.3, 0.8, 1.0),
            "bm25": (0.7, 1.3),
            "traceback": (0.8, 1.0, 1.4, 1.6),
            "dotted": (0.4, 1.6),
            "named": (1.0, 2.0),
            "owner": (0.2, 0.6),
            "quoted": (0.0, 0.4, 0.8, 1.0),
            "helper": (0.0, 0.4, 0.6, 0.8),
        }.items()
        for v in vs
    },
    **{f"semantic weight {v}": {"semantic": v} for v in (0.3, 0.4, 0.6, 0.8)},
    **{f"quoted file gain {v}": {"quoted_gain": v} for v in (0.0, 0.1, 0.2, 0.4, 0.5)},
    **{f"file place weight {v}": {"file_rank": v} for v in (0.0, 0.1, 0.3)},
}


def score(dumps: list[dict], variant: dict) -> dict[str, float | None]:
    """A variant's files and functions; `file_from` and `quoted_gain` move only the files; the title
    and the hand weights both; the rest only the functions."""
    symbol_variant = {k: v for k, v in variant.items() if k not in ("file_from", "quoted_gain")}
    file_variant = {k: v for k, v in variant.items() if k in ("title", "file_from", "weights", "quoted_gain")}
    records = [{"gold": d["gold_symbols"], "ranked": replay(d, **symbol_variant)} for d in dumps]
    files = [{"gold": d["gold_files"], "ranked": replay_files(d, **file_variant)} for d in dumps]
    return {
        **{f"file@{k}": recall(files, "gold", "ranked", k) for k in FILE_KS},
        **{f"function@{k}": recall(records, "gold", "ranked", k) for k in SYMBOL_KS},
    }


def main() -> int:
    args = product_args(__doc__.split("\n\n")[0], RESULTS)
    dumps = product_dumps(args, dump, DUMPS)
    current = [
        json.loads((STORE / f"instances-q{args.queries}" / f"{d['instance_id']}.json").read_text())
        for d in dumps
    ]
    top = max(SYMBOL_KS)
    same = sum(replay(d)[:top] == r["product_symbols"][:top] for d, r in zip(dumps, current, strict=True))
    same_files = sum(
        replay_files(d)[: max(FILE_KS)] == r["product_files"][: max(FILE_KS)]
        for d, r in zip(dumps, current, strict=True)
    )
    astray = sum(_hand(c, {}) != c["hand"] for d in dumps for c in d["cands"])
    if astray:
        sys.exit(f"HAND_WEIGHTS no longer give retrieval.hand_score's scores ({astray} candidates differ)")
    halves = {"a": dumps[0::2], "b": dumps[1::2]}
    results = {
        name: {**{h: score(part, v) for h, part in halves.items()}, "all": score(dumps, v)}
        for name, v in VARIANTS.items()
    }
    summary = {
        "instances": len(dumps),
        "served": {
            "title_weight": retrieval.TITLE_WEIGHT,
            "nested_shown": retrieval.NESTED_SHOWN,
            "file_similar_from": retrieval.FILE_SIMILAR_FROM,
            "quoted_file_gain": retrieval.QUOTED_FILE_GAIN,
        },
        "served_reproduces_rank_history": f"{same} of {len(dumps)}",
        "served_files_reproduce_rank_history": f"{same_files} of {len(dumps)}",
        "variants": results,
    }
    args.out.write_text(json.dumps(summary, indent=1) + "\n")
    for name, r in results.items():
        shown = "  ".join(
            f"{h} " + "/".join(str(r[h][m]) for m in ("file@1", "file@5", "function@10", "function@20"))
            for h in ("a", "b", "all")
        )
        print(f"{name:38s} {shown}")
    print(summary["served_reproduces_rank_history"], "reproduce rank_history's product functions,",
          summary["served_files_reproduce_rank_history"], "its files")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
