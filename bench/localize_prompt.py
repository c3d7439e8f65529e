"""What the localization prompt shows of the gold functions (issue 14, point 3), per listed count.

    SWE_LSP_BENCH_MIRRORS=/work/.mirror python bench/localize_prompt.py [--repos ...] [--jobs 2]

The localization stage asks the model where the code must change, showing the issue, the chosen
files' skeletons (cut at `context.SKELETON_LINES` lines each) and, since this bench, the symbols
retrieval ranked (`limits.symbols_listed`: the best of the chosen files and the best overall,
`JobContext.ranked_symbols`). A strong model can still look a symbol up with a tool call, but only
one it knows to ask for; so this measures, per SWE-bench Lite instance with gold functions, which of
them the first localization prompt names: its header inside a chosen file's shown skeleton, or its
`path::Name` in the ranked list. The prompt is the product's (`JobContext`, `localize_messages`,
`localize.first_prompt`), on the product's retrieval (the learned file order `bench/rank_history.py`
chose and cached per repository, and the embedding model), for two file choices: the gold files (a
perfect understanding stage) and retrieval's top 3 (a typical answer). Listed counts 0 (the
skeletons alone), 10, 20, 30, 50; the prompt's added characters with them. The understanding
prompt is measured too: which gold functions its ranked files name beside their file
(`limits.symbols_per_file`: 0, 1, 2, 3, 5).

Needs `bench/rank_history.py`'s cache (its models and per-instance pool rows). Per-instance
records: bench/.cache/localize_prompt/; summary: bench/results/localize_prompt.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from localize import CACHE, add_selection_args, gold, materialize, selected_rows  # noqa: E402
from rank_history import RESULTS as RANK_RESULTS  # noqa: E402
from rank_history import STORE  # noqa: E402

from swe_lsp.llm.limits import Limits  # noqa: E402
from swe_lsp.search.context import SKELETON_LINES, JobContext, SearchConfig  # noqa: E402
from swe_lsp.search.localize import first_prompt  # noqa: E402
from swe_lsp.search.prompts import understand_messages  # noqa: E402
from swe_lsp.settings import SearchSettings  # noqa: E402
from swe_lsp.workspace.index import RepoIndex  # noqa: E402
from swe_lsp.workspace.learning import LearnedOrder  # noqa: E402
from swe_lsp.workspace.pysymbols import skeleton  # noqa: E402
from swe_lsp.workspace.ranker import Ranker  # noqa: E402
from swe_lsp.workspace.semantic import load_semantic  # noqa: E402

RESULTS = HERE / "results" / "localize_prompt.json"
OUT = CACHE / "localize_prompt"
LISTED = (0, 10, 20, 30, 50)
CHOICES = ("gold_files", "top3")
PER_FILE = (0, 1, 2, 3, 5)  # best symbols named beside each file of the understanding prompt
MARK = "  # swe-lsp-bench-gold"
CONTEXT = 32768  # the strong models' context (their manifests')


def skeleton_line(tree: Path, path: str, start: int) -> int | None:
    """Where a symbol's header (source line `start`) falls in its file's skeleton (0-based), found by
    marking that line: the skeleton keeps every header line as it is."""
    lines = (tree / path).read_text(encoding="utf-8", errors="replace").splitlines()
    lines[start - 1] += MARK
    return next((n for n, line in enumerate(skeleton("\n".join(lines)).splitlines()) if MARK in line), None)


def shown(
    ctx: JobContext, files: Sequence[str], gold_symbols: list[str], where: dict[str, int | None]
) -> dict:
    """For each listed count, which gold functions the first localization prompt on `files` names
    (`localize.first_prompt` under a strong model's 32k context and default settings), and its
    length."""
    out = {}
    for listed in LISTED:
        limits = Limits(symbols_listed=listed)
        ctx.limits = limits
        cfg = SearchConfig.from_settings(SearchSettings(), limits=limits, context_length=CONTEXT)
        _, user = first_prompt(ctx, cfg, files, limits.max_locations)
        whole = ctx.skeletons(files) in user.content  # not cut to fit the context
        found = [
            g
            for g in gold_symbols
            if f"{g}  (lines " in user.content
            or (
                whole
                and g.split("::")[0] in files
                and (line := where.get(g)) is not None
                and line < SKELETON_LINES
            )
        ]
        out[str(listed)] = {"shown": found, "chars": len(user.content)}
    return out


def understanding(ctx: JobContext, gold_files: Sequence[str], gold_symbols: Sequence[str]) -> dict:
    """For each count of best symbols per file, which gold functions the understanding prompt
    names beside their file in its ranked list (`JobContext.file_choices`, `understand_messages`, as
    `understand.understand` asks a strong model), where the gold files are listed, and its length."""
    out = {}
    for per_file in PER_FILE:
        ctx.limits = Limits(symbols_per_file=per_file)
        listed = ctx.file_choices()[: ctx.limits.files_listed]
        (_, user) = understand_messages(ctx.issue, ctx.tree, listed, ctx.limits.max_files, any_file=True)
        why = dict(listed)
        named = [
            g
            for g in gold_symbols
            if g.split("::")[1] in why.get(g.split("::")[0], "").partition("; best: ")[2].split(", ")
        ]
        places = [next((n for n, (p, _) in enumerate(listed) if p == f), None) for f in gold_files]
        out[str(per_file)] = {"named": named, "gold_places": places, "chars": len(user.content)}
    return out


def run_repo(repo: str, rows: list[dict], serves: str) -> list[dict]:
    """Every instance of `repo` with gold functions (cached per instance)."""
    model = Ranker.load(STORE / "models-q400" / repo.replace("/", "+") / f"{serves}.txt")
    assert model is not None, f"{repo}: run bench/rank_history.py first"
    semantic = load_semantic(cache_dir=CACHE)
    records = []
    for row in rows:
        out = OUT / f"{row['instance_id']}.json"
        done = json.loads(out.read_text()) if out.exists() else {}
        if "understanding" in done:
            records.append(done)
            continue
        cached = json.loads((STORE / "instances-q400" / f"{row['instance_id']}.json").read_text())
        tree = materialize(repo, row["base_commit"], CACHE / "trees" / f"rank-{repo.replace('/', '+')}")
        index = RepoIndex.build_or_load(tree, CACHE / "index", key=f"rank-{repo}")

        def reorder(
            _: object, files: list = cached["pool"], rows_: list = cached["rows"]
        ) -> dict[str, float]:
            return dict(zip(files, model.scores(rows_), strict=True))

        ctx = JobContext(
            row["problem_statement"], index, learned=LearnedOrder(reorder, serves), semantic=semantic
        )
        gold_files, gold_symbols = gold(row["patch"], index)
        record: dict = {"instance_id": row["instance_id"], "repo": repo, "gold_files": gold_files,
                        "gold_symbols": gold_symbols}  # fmt: skip
        record["understanding"] = understanding(ctx, gold_files, gold_symbols)
        if "skeleton_line" in done:  # measured before the understanding prompt was: kept
            record.update({k: v for k, v in done.items() if k not in record})
        elif gold_symbols:
            where = {}
            for label in gold_symbols:
                path, name = label.split("::")
                entry = index.file(path)
                symbol = next((s for s in entry.symbols if s.name == name), None) if entry else None
                where[label] = skeleton_line(tree, path, symbol.start) if symbol else None
            record["skeleton_line"] = where
            top3 = [h.path for h in ctx.hits[:3]]
            record["top3"] = top3
            record["gold_files_prompt"] = shown(ctx, gold_files, gold_symbols, where)
            record["top3_prompt"] = shown(ctx, top3, gold_symbols, where)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(record))
        records.append(record)
        print(f"{row['instance_id']}: {len(gold_symbols)} gold functions", file=sys.stderr, flush=True)
    return records


def summarize(records: list[dict]) -> dict:
    """Per file choice and listed count: the share of gold functions named, of instances with all of
    them named, and the median characters the list adds to the prompt."""
    with_gold = [r for r in records if r["gold_symbols"]]
    total = sum(len(r["gold_symbols"]) for r in with_gold)
    summary: dict = {"instances": len(with_gold), "gold_functions": total}
    for choice in CHOICES:
        table = {}
        for listed in map(str, LISTED):
            named = [r[f"{choice}_prompt"][listed]["shown"] for r in with_gold]
            table[listed] = {
                "functions_named": round(sum(map(len, named)) / total, 3),
                "instances_all_named": round(
                    sum(len(n) == len(r["gold_symbols"]) for n, r in zip(named, with_gold, strict=True))
                    / len(with_gold),
                    3,
                ),
                "median_chars_added": statistics.median(
                    r[f"{choice}_prompt"][listed]["chars"] - r[f"{choice}_prompt"]["0"]["chars"]
                    for r in with_gold
                ),
            }
        summary[choice] = table
    per_repo: dict[str, dict] = {}
    for repo in sorted({r["repo"] for r in with_gold}):
        mine = [r for r in with_gold if r["repo"] == repo]
        n = sum(len(r["gold_symbols"]) for r in mine)
        per_repo[repo] = {
            "gold_functions": n,
            **{
                f"{choice}@{listed}": round(
                    sum(len(r[f"{choice}_prompt"][listed]["shown"]) for r in mine) / n, 3
                )
                for choice in CHOICES
                for listed in ("0", "30")
            },
        }
    summary["per_repo"] = per_repo
    summary["understanding"] = summarize_understanding(records)
    return summary


def summarize_understanding(records: list[dict]) -> dict:
    """Per count of best symbols per file: the share of gold functions the understanding prompt
    names beside their file, of all and of those whose file it lists, and the characters added."""
    with_gold = [r for r in records if r["gold_symbols"]]
    total = sum(len(r["gold_symbols"]) for r in with_gold)
    listed = sum(
        1
        for r in with_gold
        for g in r["gold_symbols"]
        if r["understanding"]["0"]["gold_places"][r["gold_files"].index(g.split("::")[0])] is not None
    )
    out: dict = {
        "gold_files_listed": round(
            sum(p is not None for r in records for p in r["understanding"]["0"]["gold_places"])
            / sum(len(r["gold_files"]) for r in records),
            3,
        ),
        "gold_functions_in_listed_files": listed,
    }
    for per_file in map(str, PER_FILE):
        named = sum(len(r["understanding"][per_file]["named"]) for r in with_gold)
        out[per_file] = {
            "functions_named": round(named / total, 3),
            "functions_named_of_listed_files": round(named / max(1, listed), 3),
            "median_chars_added": statistics.median(
                r["understanding"][per_file]["chars"] - r["understanding"]["0"]["chars"] for r in records
            ),
        }
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_selection_args(parser)
    parser.add_argument("--jobs", type=int, default=1, help="repositories in parallel")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    decisions = json.loads(RANK_RESULTS.read_text())["decisions"]
    by_repo: dict[str, list[dict]] = {}
    for row in selected_rows(args):
        by_repo.setdefault(row["repo"], []).append(row)
    order = sorted(by_repo, key=lambda r: -len(by_repo[r]))
    items = [(r, by_repo[r], decisions[r]["serves"]) for r in order]
    if args.jobs <= 1:
        done = [run_repo(*item) for item in items]
    else:
        with ProcessPoolExecutor(args.jobs) as pool:
            done = list(pool.map(run_repo, *zip(*items, strict=True)))
    summary = {
        "what": "gold functions the first localization prompt names (skeleton or ranked list)",
        "skeleton_lines": SKELETON_LINES,
        **summarize([r for chunk in done for r in chunk]),
    }
    args.out.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps({k: v for k, v in summary.items() if k != "per_repo"}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
