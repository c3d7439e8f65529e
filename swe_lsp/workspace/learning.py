"""Where the learned ranker meets a workspace: which model serves it, and training its own model from
its history in idle time.

Serving (`reorder_for`) never runs git nor trains: it takes the history and the model the cache
holds (the workspace's model when idle training made one, else the shipped prior), so a request
costs only the features of the first stage's top files. Training (`train_workspace`, run by the
indexer process after a build) reads the history (incrementally), computes the rows of the commits
it has not seen yet (newest first, until its deadline), keeps every query's rows in the cache, and
boosts the workspace model on top of the prior from all of them; that model serves only when it
beats the prior on the workspace's newest commits (`choose`).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from swe_lsp.workspace.history import History, cached_history, load_history
from swe_lsp.workspace.index import RepoIndex
from swe_lsp.workspace.rank_features import FEATURES
from swe_lsp.workspace.ranker import MIN_QUERIES, TRAIN_QUERIES, Ranker, TrainingSet, train, training_set
from swe_lsp.workspace.retrieval import Reorder

logger = logging.getLogger(__name__)

# Idle training stops computing new queries after this long (the rows it made are kept, and the next
# idle build goes on from there): about the time 400 django queries take on one core.
TRAIN_SECONDS = 180.0
# A workspace model is trained again once HEAD has this many new usable commits: a handful of
# commits do not move a model fitted on hundreds.
RETRAIN_AFTER = 25
# The newest share of a workspace's training queries held out to decide whether its own model
# beats the prior (a time split: the model is judged on commits after those it learned from).
VALIDATION_SHARE = 0.25
# Training queries computed between two writes of the cached rows.
SAVE_EVERY = 50
_ROWS_VERSION = 1


@dataclass(frozen=True)
class TrainReport:
    """What an idle training did: the model now serving (`workspace`, `prior` or `none`), the
    queries it was fitted on, those computed this time, and why it stopped short when it did."""

    model: str
    queries: int
    new_queries: int
    seconds: float
    note: str = ""


def model_path(cache_dir: Path, key: str) -> Path:
    """Where the workspace's model is kept."""
    return Path(cache_dir) / "ranker" / f"{_digest(key)}.txt"


def ranker_for(cache_dir: Path, key: str) -> Ranker | None:
    """The workspace's own model when one was trained, else the shipped prior (None when the package
    lost it: the first stage's order then serves)."""
    return Ranker.load(model_path(cache_dir, key)) or Ranker.prior()


@dataclass(frozen=True)
class LearnedOrder:
    """What `retrieve` takes from the learned ranker for one workspace: the file order and which
    model serves. Symbols keep the hand-weighted order (re-weighed by the embedding model's
    similarity, `semantic.py`, not by a model of the history): a symbol model learned the same way from
    history ranked SWE-bench's gold functions worse than the hand weights (function recall@10 0.33
    against 0.455, bench/results/rank_history.json `product+symbols`), so none serves."""

    files: Reorder | None
    name: str


def reorder_for(cache_dir: Path, key: str) -> LearnedOrder:
    """The learned order for a workspace, from what the cache holds."""
    ranker = ranker_for(cache_dir, key)
    if ranker is None:
        return LearnedOrder(None, "none")
    return LearnedOrder(ranker.reorder(cached_history(cache_dir, key)), str(ranker.info.get("name", "model")))


def train_workspace(
    workspace: Path,
    index: RepoIndex,
    cache_dir: Path,
    key: str,
    progress: Callable[[int, int], None] | None = None,
    budget_s: float = TRAIN_SECONDS,
) -> TrainReport:
    """Read the history, add the rows of commits not seen yet, train the workspace model when there
    are enough queries and something changed. Bounded by `budget_s` of computing rows."""
    import git

    started = time.monotonic()
    history = load_history(workspace, cache_dir, key)
    if history is None or not len(history):
        return TrainReport("prior", 0, 0, time.monotonic() - started, "no git history")
    store = _rows_path(cache_dir, key)
    known = _read_rows(store)
    made = TrainingSet()
    position = {c.sha: i for i, c in enumerate(history.commits)}
    wanted, skip = _wanted(history, known, position)
    if wanted:
        repo = git.Repo(workspace, search_parent_directories=True)
        top = Path(repo.working_tree_dir or workspace).resolve()
        prefix = os.path.relpath(workspace.resolve(), top).replace(os.sep, "/")
        # In chunks, each stored as it is done: an indexer ended mid-training (the editor closed)
        # loses one chunk at most, and the next idle build goes on from there.
        while len(made.groups) < wanted and time.monotonic() < started + budget_s:
            chunk = training_set(
                index,
                history,
                repo,
                "" if prefix == "." else prefix + "/",
                most=min(SAVE_EVERY, wanted - len(made.groups)),
                deadline=started + budget_s,
                progress=None if progress is None else _offset(progress, len(made.tried), wanted),
                skip=skip | set(made.tried),
            )
            if not chunk.tried:
                break
            known = _newest(known, chunk, position)
            made.extend(chunk)
            _write_rows(store, known)
        if progress is not None and made.tried:
            progress(len(made.tried), len(made.tried))  # done: fewer usable commits than wanted
    seconds = time.monotonic() - started
    if len(known.groups) < MIN_QUERIES:
        note = f"{len(known.groups)} usable commits, fewer than {MIN_QUERIES}"
        return TrainReport("prior", len(known.groups), len(made.groups), seconds, note)
    path = model_path(cache_dir, key)
    decided = _decision(path)
    if decided is not None and _newer_than(known, position, decided) < RETRAIN_AFTER:
        serves = str(decided.get("serves", "prior"))
        return TrainReport(serves, int(decided.get("queries", 0)), len(made.groups), seconds, _why(decided))
    model, validation = choose(known, Ranker.prior(), lambda sha: position.get(sha, -1))
    info = {"head": history.head, "queries": len(known.groups), "validation": validation}
    if model is not None:
        model.info.update(name="workspace", serves="workspace", **info)
        model.save(path)
    else:
        _write_json(path.with_suffix(".json"), {"features": list(FEATURES), "serves": "prior", **info})
        path.unlink(missing_ok=True)
    seconds = time.monotonic() - started
    serves = "workspace" if model is not None else "prior"
    logger.info("ranker for %s: %s (%s; %.0f s)", workspace, serves, validation, seconds)
    return TrainReport(serves, len(known.groups), len(made.groups), seconds, _why(info))


def choose(
    data: TrainingSet, prior: Ranker | None, position: Callable[[str], int]
) -> tuple[Ranker | None, dict[str, float | int]]:
    """The workspace's model, or None when the prior serves it better: a candidate trained (on top
    of the prior) on the older queries must rank the newest VALIDATION_SHARE of them better than the
    prior does (mean reciprocal rank of the first changed file), i.e. the repository's own past must
    predict its future better than other repositories do. Measured on SWE-bench Lite, a workspace
    model fitted on ~350 commits did not always (bench/results/rank_history.json); this is how a
    workspace finds out for itself, without the benchmark. The chosen model is refitted on all."""
    order = sorted(range(len(data.groups)), key=lambda g: position(data.queries[g]))
    cut = int(len(order) * (1 - VALIDATION_SHARE))
    older, newer = data.subset(order[:cut]), data.subset(order[cut:])
    candidate = train(older, init=prior)
    mine = candidate.mrr(newer)
    theirs = prior.mrr(newer) if prior is not None else newer.first_stage_mrr()
    validation: dict[str, float | int] = {"held_out": len(newer.groups), "mrr_workspace": round(mine, 4),
                                          "mrr_prior": round(theirs, 4)}  # fmt: skip
    if mine <= theirs:
        return None, validation
    return train(data, init=prior), validation


def _wanted(history: History, known: TrainingSet, position: Mapping[str, int]) -> tuple[int, set[str]]:
    """How many new training queries to compute, and the commits not to try: until TRAIN_QUERIES are
    known, any commit not tried yet (newest first); after that only those newer than the newest
    commit tried, each of which will push the oldest query out (`_newest`), so the model keeps up
    with the repository instead of freezing on its first 400 commits."""
    skip = set(known.tried)
    if len(known.groups) < TRAIN_QUERIES:
        return TRAIN_QUERIES - len(known.groups), skip
    newest = max((position.get(sha, -1) for sha in known.tried), default=-1)
    skip.update(c.sha for c in history.commits[: newest + 1])
    return min(TRAIN_QUERIES, len(history.commits) - 1 - newest), skip


def _newest(known: TrainingSet, chunk: TrainingSet, position: Mapping[str, int]) -> TrainingSet:
    """`known` with `chunk` added, cut to the TRAIN_QUERIES newest queries (commits no longer in the
    history, after a rebase, go first); every commit tried stays recorded, so none is tried again."""
    both = TrainingSet()
    both.extend(known)
    both.extend(chunk)
    order = sorted(range(len(both.groups)), key=lambda g: -position.get(both.queries[g], -1))
    kept = both.subset(sorted(order[:TRAIN_QUERIES]))
    kept.tried = both.tried
    return kept


def _newer_than(known: TrainingSet, position: Mapping[str, int], decided: dict) -> int:
    """How many known queries came from commits after the HEAD the last training decided at (all of
    them when that HEAD is gone from the history)."""
    head = position.get(str(decided.get("head", "")), -1)
    return sum(position.get(sha, -1) > head for sha in known.queries)


def _why(info: dict) -> str:
    validation = info.get("validation") or {}
    if not validation:
        return ""
    return (f"on its newest {validation['held_out']} commits the workspace model ranks with mean reciprocal "
            f"rank {validation['mrr_workspace']}, the prior {validation['mrr_prior']}")  # fmt: skip


def _decision(path: Path) -> dict | None:
    """What the last training decided (the model's info, or the record that the prior serves)."""
    try:
        info = json.loads(path.with_suffix(".json").read_text())
    except (OSError, ValueError):
        return None
    return info if info.get("features") == list(FEATURES) and "serves" in info else None


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(data, indent=2) + "\n")
    os.replace(tmp, path)


def _offset(progress: Callable[[int, int], None], done: int, total: int) -> Callable[[int, int], None]:
    """A chunk's progress as the whole training's."""
    return lambda n, _: progress(min(total, done + n), total)


def _rows_path(cache_dir: Path, key: str) -> Path:
    return Path(cache_dir) / "ranker" / f"{_digest(key)}.rows.json.gz"


def _read_rows(path: Path) -> TrainingSet:
    try:
        data = json.loads(gzip.decompress(path.read_bytes()))
    except (OSError, ValueError, EOFError):
        return TrainingSet()
    if data.get("version") != _ROWS_VERSION or data.get("features") != list(FEATURES):
        return TrainingSet()
    return TrainingSet.from_json(data)


def _write_rows(path: Path, data: TrainingSet) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    payload = {"version": _ROWS_VERSION, "features": list(FEATURES), **data.to_json()}
    tmp.write_bytes(gzip.compress(json.dumps(payload).encode(), compresslevel=5))
    os.replace(tmp, path)


def _digest(key: str) -> str:
    return hashlib.sha1(key.encode()).hexdigest()[:16]
