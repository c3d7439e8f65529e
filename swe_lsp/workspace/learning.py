"""Where the learned ranker meets a workspace: which model serves it, and training its own model from
its history in idle time.

Serving (`reorder_for`) never runs git nor trains: it takes the history and the model the cache
holds (the workspace's model when idle training made one, else the shipped prior), so a request
costs only the features of the first stage's top files. Training (`train_workspace`, run by the
indexer process after a build) reads the history (incrementally), computes the rows of the commits
it has not seen yet (newest first, until its deadline), keeps every query's rows in the cache, and
boosts the workspace model on top of the prior from all of them.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from swe_lsp.workspace.history import cached_history, load_history
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


def reorder_for(cache_dir: Path, key: str) -> tuple[Reorder | None, str]:
    """`retrieve`'s reorder for a workspace, from what the cache holds, and which model it is."""
    ranker = ranker_for(cache_dir, key)
    if ranker is None:
        return None, "none"
    return ranker.reorder(cached_history(cache_dir, key)), str(ranker.info.get("name", "model"))


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
    if len(known.groups) < TRAIN_QUERIES:
        repo = git.Repo(workspace, search_parent_directories=True)
        top = Path(repo.working_tree_dir or workspace).resolve()
        prefix = os.path.relpath(workspace.resolve(), top).replace(os.sep, "/")
        wanted = TRAIN_QUERIES - len(known.groups)
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
                skip=set(known.tried),
            )
            if not chunk.tried:
                break
            known.extend(chunk)
            made.extend(chunk)
            _write_rows(store, known)
        if progress is not None and made.tried:
            progress(len(made.tried), len(made.tried))  # done: fewer usable commits than wanted
    seconds = time.monotonic() - started
    if len(known.groups) < MIN_QUERIES:
        note = f"{len(known.groups)} usable commits, fewer than {MIN_QUERIES}"
        return TrainReport("prior", len(known.groups), len(made.groups), seconds, note)
    path = model_path(cache_dir, key)
    current = Ranker.load(path)
    if current is not None and len(known.groups) - int(current.info.get("queries", 0)) < RETRAIN_AFTER:
        return TrainReport("workspace", int(current.info["queries"]), len(made.groups), seconds)
    prior = Ranker.prior()
    model = train(known, init=prior, info={"name": "workspace", "head": history.head})
    model.save(path)
    logger.info(
        "workspace ranker trained on %d queries (%.0f s)", len(known.groups), time.monotonic() - started
    )
    return TrainReport("workspace", len(known.groups), len(made.groups), time.monotonic() - started)


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
