"""Benchmark the history ranker (issue 14) on SWE-bench Lite against the first stage and the fair BM25.

    SWE_LSP_BENCH_MIRRORS=/work/.mirror python bench/rank_history.py [--repos ...] [--jobs 2]

Strictly in the past, per repository: the workspace model is trained on the repository's commits
before the OLDEST base commit among its instances (its training snapshot), so no instance's fix nor
anything after it is ever seen; each instance then ranks with the history reachable from its own
base commit (the last MAX_COMMITS non-merge commits), as the product asks (`HistoryPoint.latest`). The prior
is measured leave-one-repository-out (trained on the eleven other repositories' training sets), as a
user's private repository is not among the shipped prior's. Systems, all in the same run on the same
indexes: the first stage (`ours`), the fair BM25 (`bm25_fair`), the LOO prior (`prior`), the
workspace model alone (`workspace`), and the workspace model boosted on top of the LOO prior
(`workspace+prior`, what the product trains), and what the product serves (`product`: per
repository the model `learning.choose` picks, its symbols re-weighed by the embedding model, and
`product_hand`, the same without that signal). Files and functions (the symbol stage over each
system's file order; the semantic signal only in `product`, where its cost is paid once), and the
fair BM25 with the issue's title weighted as the first stage weighs it (`bm25_fair_title`).
Per-instance records and training sets are cached under bench/.cache/rank/.
Summary: bench/results/rank_history.json.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

import git  # noqa: E402
from localize import (  # noqa: E402
    CACHE,
    FILE_KS,
    SYMBOL_KS,
    FairBaseline,
    FairTitleBaseline,
    add_selection_args,
    gold,
    materialize,
    mirror,
    recall,
    selected_rows,
)

from swe_lsp.workspace.history import MAX_COMMITS, History, read_commits  # noqa: E402
from swe_lsp.workspace.index import RepoIndex  # noqa: E402
from swe_lsp.workspace.learning import choose  # noqa: E402
from swe_lsp.workspace.rank_features import POOL, SYMBOL_FEATURES, HistoryPoint, features, pool  # noqa: E402
from swe_lsp.workspace.ranker import (  # noqa: E402
    SYMBOL_NEGATIVES,
    Ranker,
    TrainingSet,
    symbol_training_set,
    train,
    training_set,
)
from swe_lsp.workspace.retrieval import first_stage, retrieve  # noqa: E402
from swe_lsp.workspace.semantic import load_semantic  # noqa: E402

RESULTS = HERE / "results" / "rank_history.json"
STORE = CACHE / "rank"
# `product`: per repository, `workspace+prior` where `learning.choose` picked the workspace's model
# on its held-out newest commits, else `prior`; `product+symbols`: that, with the symbol prior
# (leave-one-repository-out) ordering the symbols.
# Bumped when the hand-weighted symbol stage changes, so `--refresh-symbols` ranks functions again:
# 2 = the issue naming the class a symbol is nested in counts (`retrieval.OWNER_NAMED`); 3 = the best
# candidates' similarity to the issue under the embedding model (`semantic.py`), in `product` only
# (`product_hand`: the same files, its symbols without that signal, to show what it adds); 4 = that
# similarity also re-weighs the product's top 10 files (`retrieval.FILES_BY_MEANING`; `product_hand`
# keeps the learned order); 5 = a symbol's file's place counts (`retrieval.FILE_RANK_WEIGHT`) and
# the best methods' classes are shown beside them (`retrieval.CLASSES_SHOWN`); 6 = the issue's title
# weighs more in a symbol's BM25 (`retrieval.TITLE_WEIGHT`, as in the file query) and the functions
# nested in the best function follow it (`retrieval.NESTED_SHOWN`); 7 = a file's similarity is read
# from the best 50 symbols only (`retrieval.FILE_SIMILAR_FROM`); 8 = a symbol whose string the issue
# quotes gains (`retrieval.QUOTED_WEIGHT`); 9 = a private helper that a function the issue names calls
# gains (`retrieval.HELPER_WEIGHT`); 10 = a file some of whose symbols the issue quotes gains
# (`retrieval.QUOTED_FILE_GAIN`), so every system's files are ranked again too; 11 = a traceback frame
# pins one symbol (`retrieval._framed_symbols`) and weighs more (`retrieval.TRACEBACK_WEIGHT`).
SYMBOL_STAGE = 11
SYSTEMS = ("ours", "prior", "workspace", "workspace+prior", "product")


def _git(repo: str, *args: str) -> str:
    return subprocess.run(["git", "--git-dir", str(mirror(repo)), *args], capture_output=True, text=True,
                          check=True).stdout.strip()  # fmt: skip


def _commit_time(repo: str, commit: str) -> int:
    return int(_git(repo, "show", "-s", "--format=%ct", commit))


def open_mirror(repo: str) -> git.Repo:
    """GitPython on a mirror: the fetch tool's mirrors have no `config`, so git must be told the
    git dir is the folder itself."""
    found = git.Repo(mirror(repo))
    found.git.update_environment(GIT_DIR=str(mirror(repo)))
    return found


def repo_history(repo: str, rows: list[dict]) -> History:
    """Every commit any instance of `repo` may see: MAX_COMMITS before the oldest base and all up to
    the newest base (each instance keeps only its own base's ancestors, `history_at`)."""
    bases = sorted(
        {r["base_commit"] for r in rows}, key=lambda c: int(_git(repo, "show", "-s", "--format=%ct", c))
    )
    span = int(_git(repo, "rev-list", "--count", "--no-merges", bases[-1], f"^{bases[0]}"))
    return read_commits(open_mirror(repo), bases[-1], "", MAX_COMMITS + span + 10)


def history_at(repo: str, full: History, commit: str) -> History:
    """The history as a workspace at `commit` reads it: its last MAX_COMMITS non-merge ancestors."""
    mine = set(_git(repo, "rev-list", "--no-merges", f"-n{MAX_COMMITS}", commit).split())
    return History(commit, tuple(c for c in full.commits if c.sha in mine))


def prepare_repo(repo: str, rows: list[dict], queries: int) -> dict:
    """The repository's training sets (files, then symbols) at its oldest base, cached."""
    out = STORE / "train" / f"{repo.replace('/', '+')}-{queries}.json"
    record = json.loads(out.read_text()) if out.exists() else {}
    if "symbols" in record:
        return record
    full = repo_history(repo, rows)
    oldest = min(rows, key=lambda r: _commit_time(repo, r["base_commit"]))
    snapshot = oldest["base_commit"]
    tree = materialize(repo, snapshot, CACHE / "trees" / f"rank-{repo.replace('/', '+')}")
    index = RepoIndex.build_or_load(tree, CACHE / "index", key=f"rank-{repo}")
    history = history_at(repo, full, snapshot)
    record.update(repo=repo, snapshot=snapshot, history_commits=len(history))
    if "data" not in record:
        started = time.perf_counter()
        record["data"] = training_set(index, history, open_mirror(repo), most=queries).to_json()
        record["seconds"] = round(time.perf_counter() - started, 1)
    started = time.perf_counter()
    record["symbols"] = symbol_training_set(index, history, open_mirror(repo), most=queries).to_json()
    record["symbol_seconds"] = round(time.perf_counter() - started, 1)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record))
    return record


def run_repo(repo: str, rows: list[dict], models: dict[str, dict[str, str]], queries: int,
             refresh: bool = False) -> list[dict]:  # fmt: skip
    """Every instance of `repo`: each system's files and functions (cached per instance and per
    training size `queries`). `refresh`: the symbol stage changed, so each cached record's functions
    are ranked again (from its cached file scores, without recomputing the features)."""
    loaded = {name: Ranker.load(Path(path)) for name, path in models[repo].items() if name != "symbols"}
    symbol_model = Ranker.load(Path(models[repo]["symbols"]), SYMBOL_FEATURES)
    assert symbol_model is not None
    full = None
    fair, fair_title = FairBaseline(), FairTitleBaseline()
    records = []
    for row in rows:
        out = STORE / f"instances-q{queries}" / f"{row['instance_id']}.json"
        cached = json.loads(out.read_text()) if out.exists() else {}
        if refresh and "product+symbols_files" in cached and cached.get("symbols_refreshed") != SYMBOL_STAGE:
            records.append(refresh_symbols(repo, row, cached, loaded, out))
            continue
        if "product+symbols_files" in cached:
            records.append(cached)
            continue
        if full is None:
            full = repo_history(repo, rows)
        tree = materialize(repo, row["base_commit"], CACHE / "trees" / f"rank-{repo.replace('/', '+')}")
        index = RepoIndex.build_or_load(tree, CACHE / "index", key=f"rank-{repo}")
        history = history_at(repo, full, row["base_commit"])
        issue = row["problem_statement"]
        gold_files, gold_symbols = gold(row["patch"], index)
        # A record from before a system was added keeps what it has; only the missing systems run.
        record: dict = {**cached, "instance_id": row["instance_id"], "gold_files": gold_files,
                        "gold_symbols": gold_symbols}  # fmt: skip
        if "ours_files" not in record:
            started = time.perf_counter()
            loc = retrieve(index, issue, top=max(FILE_KS), top_symbols=max(SYMBOL_KS))
            record["first_stage_s"] = round(time.perf_counter() - started, 3)
            record["ours_files"] = [h.path for h in loc.files]
            record["ours_symbols"] = [f"{h.file}::{h.name}" for h in loc.symbols]
        stage = first_stage(index, issue)
        record["pool"] = pool(stage)
        record["gold_in_pool"] = set(gold_files) <= set(record["pool"])
        point = HistoryPoint.latest(history)
        started = time.perf_counter()
        rows_ = features(stage, record["pool"], point)
        record["features_s"] = round(time.perf_counter() - started, 3)
        record["rows"] = rows_  # so models can be compared again without re-indexing
        for name, model in loaded.items():
            assert model is not None, name
            if f"{name}_files" in record:
                continue
            started = time.perf_counter()

            def reorder(_: object, model: Ranker = model, files: list = record["pool"],
                        rows: list = rows_) -> dict[str, float]:  # fmt: skip
                return dict(zip(files, model.scores(rows), strict=True))

            loc = retrieve(index, issue, top=max(FILE_KS), top_symbols=max(SYMBOL_KS), reorder=reorder)
            record[f"{name}_s"] = round(time.perf_counter() - started + record["features_s"], 3)
            record[f"{name}_files"] = [h.path for h in loc.files]
            record[f"{name}_symbols"] = [f"{h.file}::{h.name}" for h in loc.symbols]
        if "product+symbols_files" not in record:
            product = loaded["product"]
            assert product is not None

            def product_order(_: object, files: list = record["pool"], rows: list = rows_,
                              model: Ranker = product) -> dict[str, float]:  # fmt: skip
                return dict(zip(files, model.scores(rows), strict=True))

            loc = retrieve(index, issue, max(FILE_KS), max(SYMBOL_KS), product_order,
                           symbol_model.reorder_symbols(history))  # fmt: skip
            record["product+symbols_files"] = [h.path for h in loc.files]
            record["product+symbols_symbols"] = [f"{h.file}::{h.name}" for h in loc.symbols]
        for name, baseline in (("bm25_fair", fair), ("bm25_fair_title", fair_title)):
            if f"{name}_files" not in record:
                files_, symbols_ = baseline.rank(index, issue)
                record[f"{name}_files"], record[f"{name}_symbols"] = files_[: max(FILE_KS)], symbols_
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(record))
        record = refresh_symbols(repo, row, record, loaded, out)  # the current symbol stage's functions
        records.append(record)
        print(f"{row['instance_id']}: gold {gold_files} ours {record['ours_files'][:1]} "
              f"ws+prior {record.get('workspace+prior_files', [''])[:1]}", flush=True)  # fmt: skip
    return records


def refresh_symbols(repo: str, row: dict, record: dict, loaded: dict[str, Ranker | None], out: Path) -> dict:
    """`record` with the files and functions of every system that uses the hand-weighted symbol
    stage ranked again by the current code, from the same first stage (its pool checked against the
    cached one) and the models' scores of the cached pool rows: the symbol stage's quoted files move
    the files too (`retrieval.QUOTED_FILE_GAIN`). The semantic signal (embedding every instance's
    best 200 symbols takes 10-60 s on this machine) is measured on the product's file order only:
    `product` with it (its symbols, and its top 10 files re-weighed), `product_hand` without it;
    the other systems rank functions by the hand weights. `product+symbols` (the learned symbol
    order, not served) keeps what it had (its files from before the quoted files' gain)."""
    tree = materialize(repo, row["base_commit"], CACHE / "trees" / f"rank-{repo.replace('/', '+')}")
    index = RepoIndex.build_or_load(tree, CACHE / "index", key=f"rank-{repo}")
    issue = row["problem_statement"]
    stage = first_stage(index, issue)
    loc = retrieve(index, issue, top=max(FILE_KS), top_symbols=max(SYMBOL_KS), stage=stage)
    assert pool(stage) == record["pool"], row["instance_id"]
    record["ours_files"] = [h.path for h in loc.files]
    record["ours_symbols"] = [f"{h.file}::{h.name}" for h in loc.symbols]
    for name, model in loaded.items():
        assert model is not None, name

        def reorder(_: object, model: Ranker = model, files: list = record["pool"],
                    rows: list = record["rows"]) -> dict[str, float]:  # fmt: skip
            return dict(zip(files, model.scores(rows), strict=True))

        loc = retrieve(index, issue, max(FILE_KS), max(SYMBOL_KS), reorder, stage=stage)
        record[f"{name}_files"] = [h.path for h in loc.files]
        record[f"{name}_symbols"] = [f"{h.file}::{h.name}" for h in loc.symbols]
        if name == "product":
            record["product_hand_files"] = [h.path for h in loc.files]
            record["product_hand_symbols"] = record["product_symbols"]
            started = time.perf_counter()
            semantic = load_semantic(cache_dir=CACHE)
            loc = retrieve(index, issue, max(FILE_KS), max(SYMBOL_KS), reorder, stage=stage,
                           semantic=semantic)  # fmt: skip
            record["semantic_s"] = round(time.perf_counter() - started, 3)
            record["product_files"] = [h.path for h in loc.files]
            record["product_symbols"] = [f"{h.file}::{h.name}" for h in loc.symbols]
    record["symbols_refreshed"] = SYMBOL_STAGE
    out.write_text(json.dumps(record))
    print(f"{row['instance_id']}: functions ranked again ({record['semantic_s']} s semantic)", flush=True)
    return record


def _symbol_set(record: dict) -> TrainingSet:
    """A repository's cached symbol set as `symbol_training_set` returns it now (cut to the hardest
    negatives; a set cached before the cut existed is cut here, the same way)."""
    data = TrainingSet.from_json(record["symbols"])
    return data.hardest(SYMBOL_FEATURES.index("hand_score"), SYMBOL_NEGATIVES)


def train_models(
    sets: dict[str, dict], models_dir: Path, decisions: dict[str, dict]
) -> dict[str, dict[str, str]]:
    """Per repository: the leave-one-out prior, the workspace model, and the workspace model on top of
    the prior; paths of the saved models. `decisions` gets which one the product would serve."""
    out: dict[str, dict[str, str]] = {}
    for repo, record in sets.items():
        others = TrainingSet()
        for other, rec in sets.items():
            if other != repo:
                others.extend(TrainingSet.from_json(rec["data"]))
        own = TrainingSet.from_json(record["data"])
        others_symbols = TrainingSet()
        for other, rec in sets.items():
            if other != repo:
                others_symbols.extend(_symbol_set(rec))
        symbols = train(others_symbols, names=SYMBOL_FEATURES, info={"name": f"symbol-prior-without-{repo}"})
        paths = {"symbols": str(models_dir / repo.replace("/", "+") / "symbols.txt")}
        symbols.save(Path(paths["symbols"]))
        prior = train(others, info={"name": f"prior-without-{repo}"})
        # What the product decides for this workspace (learning.choose: the newest quarter of its
        # queries held out); training_set lists queries newest first.
        position = {sha: -i for i, sha in enumerate(own.queries)}
        chosen, validation = choose(own, prior, position.__getitem__)
        decisions[repo] = {"serves": "workspace+prior" if chosen is not None else "prior", **validation}
        for name, model in (
            ("prior", prior),
            ("workspace", train(own, info={"name": f"workspace-{repo}"})),
            ("workspace+prior", train(own, init=prior, info={"name": f"workspace+prior-{repo}"})),
        ):
            path = models_dir / repo.replace("/", "+") / f"{name}.txt"
            model.save(path)
            paths[name] = str(path)
        paths["product"] = paths[decisions[repo]["serves"]]
        out[repo] = paths
        print(f"trained {repo}: own {len(own.groups)} queries, others {len(others.groups)}", flush=True)
    return out


def write_prior(sets: dict[str, dict], queries: int) -> Path:
    """Train the shipped prior on every repository's training set and write it, with what it was
    trained on and how, to the package's data folder."""
    from swe_lsp.workspace.ranker import PRIOR, PRIOR_ROUNDS

    data = TrainingSet()
    for record in sets.values():
        data.extend(TrainingSet.from_json(record["data"]))
    info = {
        "name": "prior",
        "command": f"SWE_LSP_BENCH_MIRRORS=D python bench/rank_history.py --write-prior --queries {queries}",
        "rounds": PRIOR_ROUNDS,
        "training": {
            repo: {"snapshot": rec["snapshot"], "history_commits": rec["history_commits"],
                   "queries": len(rec["data"]["groups"])}
            for repo, rec in sorted(sets.items())
        },
        "note": "queries are commit messages before each repository's oldest SWE-bench Lite (dev) base "
        "commit; positives the non-test code files each commit changed, its files as they were before it",
    }  # fmt: skip
    train(data, info=info).save(PRIOR)
    return PRIOR


def summarize(records: list[dict], sets: dict[str, dict]) -> dict:
    systems = (*SYSTEMS, "product_hand", "product+symbols", "bm25_fair", "bm25_fair_title")
    summary: dict = {
        "dataset": "shared/swebench/lite_dev.jsonl",
        "instances": len(records),
        "pool": POOL,
        "gold_files_in_pool": round(sum(r["gold_in_pool"] for r in records) / max(1, len(records)), 4),
    }
    for who in systems:
        summary[who] = {
            **{f"file_recall@{k}": recall(records, "gold_files", f"{who}_files", k) for k in FILE_KS},
            **{
                f"function_recall@{k}": recall(records, "gold_symbols", f"{who}_symbols", k)
                for k in SYMBOL_KS
            },
        }
    summary["per_repo"] = {}
    for repo in sorted({r["instance_id"].split("__")[0] for r in records}):
        mine = [r for r in records if r["instance_id"].split("__")[0] == repo]
        summary["per_repo"][repo] = {
            "instances": len(mine),
            **{who: {f"file@{k}": recall(mine, "gold_files", f"{who}_files", k) for k in FILE_KS}
               | {f"function@{k}": recall(mine, "gold_symbols", f"{who}_symbols", k) for k in SYMBOL_KS}
               for who in systems},
        }  # fmt: skip
    # Per-request cost is measured warm by bench/rank_cost.py: here each instance's first retrieval
    # also builds its index's BM25, which would make the ranker look free.
    summary["median_features_s"] = statistics.median(r["features_s"] for r in records)
    summary["training"] = {
        repo: {
            "snapshot": rec["snapshot"],
            "history_commits": rec["history_commits"],
            "queries": len(rec["data"]["groups"]),
            "seconds": rec["seconds"],
            "symbol_queries": len(rec["symbols"]["groups"]),
            "symbol_seconds": rec["symbol_seconds"],
        }
        for repo, rec in sets.items()
    }
    return summary


def _parallel(jobs: int, fn: Callable, items: list) -> list:
    if jobs <= 1:
        return [fn(*item) for item in items]
    with ProcessPoolExecutor(jobs) as pool_:
        return list(pool_.map(fn, *zip(*items, strict=True)))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_selection_args(parser)
    parser.add_argument("--queries", type=int, default=400, help="training queries per repository")
    parser.add_argument("--jobs", type=int, default=1, help="repositories in parallel")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument("--write-prior", action="store_true", help="only train and write the shipped prior")
    parser.add_argument("--refresh-symbols", action="store_true",
                        help="rank cached functions again with the current symbol stage")  # fmt: skip
    args = parser.parse_args()
    rows = selected_rows(args)
    by_repo: dict[str, list[dict]] = {}
    for row in rows:
        by_repo.setdefault(row["repo"], []).append(row)
    # Training sets come from every repository of the data, even when --repos narrows the test.
    all_rows: dict[str, list[dict]] = {}
    for row in selected_rows(argparse.Namespace(data=args.data, repos=None, per_repo=None, limit=None,
                                                instances=None)):  # fmt: skip
        all_rows.setdefault(row["repo"], []).append(row)
    order = sorted(all_rows, key=lambda r: -len(all_rows[r]))
    records_ = _parallel(args.jobs, prepare_repo, [(r, all_rows[r], args.queries) for r in order])
    sets = {rec["repo"]: rec for rec in records_}
    if args.write_prior:
        print(f"wrote {write_prior(sets, args.queries)}")
        return 0
    decisions: dict[str, dict] = {}
    models = train_models(sets, STORE / f"models-q{args.queries}", decisions)
    biggest_first = sorted(by_repo, key=lambda r: -len(by_repo[r]))
    done = _parallel(
        args.jobs,
        run_repo,
        [(r, by_repo[r], models, args.queries, args.refresh_symbols) for r in biggest_first],
    )
    records = [rec for chunk in done for rec in chunk]
    summary = summarize(records, sets)
    summary["decisions"] = decisions
    args.out.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps({k: v for k, v in summary.items() if k not in ("per_repo",)}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
