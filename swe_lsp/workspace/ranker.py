"""The learned file ranker: LightGBM's LambdaRank over `rank_features`, trained on the repository's
own history (each past commit's message a query, the code files it changed the answer), re-ordering
the first stage's top files.

Two models exist for a workspace. The prior ships with the package (`data/prior_ranker.txt`,
trained across the histories of twelve open-source Python repositories, its data and command in
`data/prior_ranker.json`) and serves any workspace from the first request. The workspace's own model
is trained in idle time by the indexer process (`train_workspace`): it continues boosting from the
prior on the workspace's commits, so it starts where the prior is and takes over only with enough
history (MIN_QUERIES). Training reads only commits reachable from HEAD; each query sees the
history before its commit and its files as they were before it (`retrieval.Overrides`), so neither
the fix's text nor anything later can lead the model to the answer.
"""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from swe_lsp.workspace.extract import extract
from swe_lsp.workspace.history import Commit, History
from swe_lsp.workspace.index import RepoIndex
from swe_lsp.workspace.rank_features import (
    FEATURES,
    SYMBOL_FEATURES,
    HistoryPoint,
    features,
    pool,
    symbol_features,
)
from swe_lsp.workspace.retrieval import (
    _CODE_LANGUAGES,
    _TEST_PATH,
    FILES_FOR_SYMBOLS,
    FirstStage,
    Reorder,
    SymbolCandidate,
    SymbolReorder,
    first_stage,
    symbol_candidates,
)

if TYPE_CHECKING:
    import git
    import lightgbm

logger = logging.getLogger(__name__)

PRIOR = Path(__file__).parent / "data" / "prior_ranker.txt"
# Training queries a workspace model is fitted on: the newest commits first. 400 take about a minute
# of one core on django (first stage, features and the files' earlier text per query) and are as
# many as the prior learns from per repository.
TRAIN_QUERIES = 400
# Fewer usable commits than this and the workspace keeps the prior: a few dozen queries fit noise.
MIN_QUERIES = 100
# A commit changing more code files than this is a feature or a refactor, not a located fix; its
# message seldom points at any one of them.
MAX_POSITIVES = 3
# A message shorter than this many words ("Typo", "wip") is no query.
MIN_MESSAGE_WORDS = 3
# LambdaRank on tens of thousands of rows: small trees and a slow rate keep it from memorizing a
# repository's few hundred queries; one thread, so idle training never competes with a request.
PARAMS: dict[str, Any] = {
    "objective": "lambdarank",
    "metric": "ndcg",
    "ndcg_eval_at": [1, 5, 10],
    "learning_rate": 0.05,
    "num_leaves": 15,
    "min_data_in_leaf": 20,
    "feature_fraction": 0.9,
    "lambdarank_truncation_level": 20,
    "num_threads": 1,
    "deterministic": True,
    "force_row_wise": True,
    "verbose": -1,
}
# Symbol candidates kept per training query besides its positives: the best by the hand weights
# (about a fifth of a query's symbols; training on all of them took minutes per repository).
SYMBOL_NEGATIVES = 100
# Boosting rounds: the prior's from scratch; a workspace model's on top of the prior.
PRIOR_ROUNDS = 200
WORKSPACE_ROUNDS = 60


@dataclass
class TrainingSet:
    """Rows of FEATURES with 0/1 labels, grouped per query (`groups[i]` rows each), where each
    query came from (`queries`: commit shas), and every commit tried (`tried`: also those whose
    files the first stage did not bring into its pool, so an incremental run skips them too)."""

    rows: list[list[float]] = field(default_factory=list)
    labels: list[int] = field(default_factory=list)
    groups: list[int] = field(default_factory=list)
    queries: list[str] = field(default_factory=list)
    tried: list[str] = field(default_factory=list)

    def add(self, query: str, rows: list[list[float]], labels: list[int]) -> None:
        """One query's group."""
        self.rows.extend(rows)
        self.labels.extend(labels)
        self.groups.append(len(rows))
        self.queries.append(query)

    def extend(self, other: TrainingSet) -> None:
        """Append another set's groups (several repositories for the prior)."""
        self.rows.extend(other.rows)
        self.labels.extend(other.labels)
        self.groups.extend(other.groups)
        self.queries.extend(other.queries)
        self.tried.extend(other.tried)

    def subset(self, groups: Iterable[int]) -> TrainingSet:
        """The set of only these groups (by number), in that order."""
        starts = [0]
        for size in self.groups:
            starts.append(starts[-1] + size)
        out = TrainingSet()
        for g in groups:
            a, b = starts[g], starts[g + 1]
            out.add(self.queries[g], self.rows[a:b], self.labels[a:b])
        return out

    def by_group(self) -> Iterator[tuple[list[list[float]], list[int]]]:
        """Each query's rows and labels."""
        start = 0
        for size in self.groups:
            yield self.rows[start : start + size], self.labels[start : start + size]
            start += size

    def hardest(self, column: int, most: int) -> TrainingSet:
        """Each query cut to its positives and its `most` best rows by `column` (the hand-weighted
        score): the negatives a ranker must learn to pass over are the plausible ones; the rest of a
        query's hundreds of symbols teach it nothing and cost training time."""
        out = TrainingSet(tried=list(self.tried))
        for query, (rows, labels) in zip(self.queries, self.by_group(), strict=True):
            order = sorted(range(len(rows)), key=lambda i: -rows[i][column])
            keep = sorted(set(order[:most]) | {i for i, label in enumerate(labels) if label})
            out.add(query, [rows[i] for i in keep], [labels[i] for i in keep])
        return out

    def first_stage_mrr(self) -> float:
        """Mean reciprocal rank of the first positive in the first stage's own order."""
        column = FEATURES.index("first_score")
        return _mrr((([row[column] for row in rows], labels) for rows, labels in self.by_group()))

    def to_json(self) -> dict[str, list]:
        """Plain data, for caching a repository's set between runs (the benchmark's prior)."""
        return {
            "rows": self.rows,
            "labels": self.labels,
            "groups": self.groups,
            "queries": self.queries,
            "tried": self.tried,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, list]) -> TrainingSet:
        """The inverse of `to_json`."""
        return cls(*(list(data.get(k, ())) for k in ("rows", "labels", "groups", "queries", "tried")))


def is_target(path: str, index: RepoIndex) -> bool:
    """Whether a changed file counts as an answer: code, not a test (the files an issue's fix edits)."""
    entry = index.file(path)
    return entry is not None and entry.language in _CODE_LANGUAGES and not _TEST_PATH.search(path)


def training_set(
    index: RepoIndex,
    history: History,
    repo: git.Repo,
    prefix: str = "",
    most: int = TRAIN_QUERIES,
    deadline: float | None = None,
    progress: Callable[[int, int], None] | None = None,
    skip: Collection[str] = (),
) -> TrainingSet:
    """Queries from the newest usable commits of `history` (at most `most`, until `deadline` on
    the monotonic clock, none of `skip`), each scored against `index` with its changed files as
    they were in the commit's parent and with only the commits before it as its history."""
    out = TrainingSet()
    for n, total, i, overrides, stage in _queries(index, history, repo, prefix, most, deadline, skip, out):
        commit = history.commits[i]
        if stage is not None:
            files = pool(stage)
            labels = [1 if f in commit.files and is_target(f, index) and overrides[f][0] is not None else 0
                      for f in files]  # fmt: skip
            if any(labels):
                out.add(commit.sha, features(stage, files, HistoryPoint(history, i, commit.time)), labels)
        if progress is not None:
            progress(n, total)
    return out


def symbol_training_set(
    index: RepoIndex,
    history: History,
    repo: git.Repo,
    prefix: str = "",
    most: int = TRAIN_QUERIES,
    deadline: float | None = None,
) -> TrainingSet:
    """As `training_set`, for a symbol ranker: each query's candidates are the symbols of its first
    stage's best FILES_FOR_SYMBOLS files (the changed ones as they were before the commit), its
    positives the innermost symbols enclosing the lines its hunks changed in the parent (for lines
    added, the line they follow), as SWE-bench's gold functions are defined."""
    out = TrainingSet()
    for _, _, i, overrides, stage in _queries(index, history, repo, prefix, most, deadline, (), out, True):
        if stage is None:
            continue
        commit = history.commits[i]
        files = stage.ranked()[:FILES_FOR_SYMBOLS]
        candidates = symbol_candidates(index, stage, files, stage.scores)
        changed = _enclosing(commit, overrides, index)
        labels = [1 if (c.symbol.file, c.symbol.name) in changed else 0 for c in candidates]
        if any(labels):
            point = HistoryPoint(history, i, commit.time)
            out.add(commit.sha, symbol_features(stage, candidates, point), labels)
    return out.hardest(SYMBOL_FEATURES.index("hand_score"), SYMBOL_NEGATIVES)


_Query = tuple[int, int, int, Any, FirstStage | None]


def _queries(index: RepoIndex, history: History, repo: git.Repo, prefix: str, most: int,
             deadline: float | None, skip: Collection[str], out: TrainingSet,
             with_functions: bool = False) -> Iterator[_Query]:  # fmt: skip
    """The training queries both rankers share: (n, total, position, overrides, first stage) for
    the newest usable commits, each recorded in `out.tried`; the stage is None for a root commit."""
    positions = [
        i
        for i in range(len(history) - 1, 0, -1)
        if history.commits[i].sha not in skip
        and (history.commits[i].lines or not with_functions)
        and _usable(history, i, index)
    ]
    total = min(most, len(positions))
    for n, i in enumerate(positions[:total], 1):
        if deadline is not None and time.monotonic() > deadline:
            logger.info("history training set stopped at its deadline: %d queries", len(out.groups))
            return
        commit = history.commits[i]
        out.tried.append(commit.sha)
        overrides = _before(repo, commit.sha, commit.files, index, prefix)
        stage = first_stage(index, commit.message, overrides) if overrides is not None else None
        yield n, total, i, overrides, stage


def _enclosing(commit: Commit, overrides: Mapping[str, Any], index: RepoIndex) -> set[tuple[str, str]]:
    """(file, qualified name) of the innermost symbols enclosing each line the commit changed in its
    parent's target files."""
    out = set()
    for path, start, count in commit.lines:
        entry = overrides.get(path, (None, None))[0]
        if entry is None or not is_target(path, index):
            continue
        for line in range(start, start + count) if count else (start,):
            around = [s for s in entry.symbols if s.start <= line <= s.end]
            if around:
                out.add((path, max(around, key=lambda s: s.start).name))
    return out


def _usable(history: History, i: int, index: RepoIndex) -> bool:
    commit = history.commits[i]
    targets = sum(1 for f in commit.files if is_target(f, index))
    return 1 <= targets <= MAX_POSITIVES and len(commit.message.split()) >= MIN_MESSAGE_WORDS


def _before(repo: git.Repo, sha: str, files: Iterable[str], index: RepoIndex, prefix: str):  # type: ignore[no-untyped-def]
    """The commit's changed files (those the index has) as they were in its first parent: entry and
    text, or (None, None) for a file the commit added. None for a root commit."""
    commit = repo.commit(sha)
    if not commit.parents:
        return None
    tree = commit.parents[0].tree
    out = {}
    for path in files:
        if index.file(path) is None:
            continue
        try:
            data = (tree / (prefix + path)).data_stream.read()
        except KeyError:
            out[path] = (None, None)
            continue
        out[path] = extract(path, data)
    return out


class Ranker:
    """A trained LambdaRank model and what it was trained on (`info`)."""

    def __init__(self, booster: lightgbm.Booster, info: Mapping[str, Any]) -> None:
        self.booster = booster
        self.info = dict(info)

    @classmethod
    def load(cls, path: Path, names: tuple[str, ...] = FEATURES) -> Ranker | None:
        """The model saved at `path` (with its `.json` info beside it); None when missing, unreadable
        or trained on other features than this version computes, and when LightGBM does not import
        on this platform (the first stage's order then serves)."""
        try:
            import lightgbm
        except ImportError as exc:
            logger.warning("the learned ranker is off: LightGBM does not import (%s)", exc)
            return None
        try:
            info = json.loads(path.with_suffix(".json").read_text())
            if info.get("features") != list(names):
                logger.info("%s was trained on other features; not used", path)
                return None
            return cls(lightgbm.Booster(model_str=path.read_text()), info)
        except (OSError, ValueError, lightgbm.basic.LightGBMError) as exc:
            logger.info("no ranker at %s: %s", path, exc)
            return None

    @classmethod
    def prior(cls) -> Ranker | None:
        """The shipped cross-repository model (a warning when the package lost it: the first stage's
        order then serves, which the user should know)."""
        found = cls.load(PRIOR)
        if found is None:
            logger.warning(
                "the shipped ranker %s is missing or unreadable; files keep the first stage's order", PRIOR
            )
        return found

    def save(self, path: Path) -> None:
        """Write the model and its info atomically."""
        path.parent.mkdir(parents=True, exist_ok=True)
        info = json.dumps(self.info, indent=2) + "\n"
        for target, text in ((path, self.booster.model_to_string()), (path.with_suffix(".json"), info)):
            tmp = target.with_suffix(target.suffix + ".tmp")
            tmp.write_text(text)
            os.replace(tmp, target)

    def scores(self, rows: list[list[float]]) -> list[float]:
        """The model's score for each row."""
        if not rows:
            return []
        import numpy

        matrix = numpy.asarray(rows, dtype=numpy.float64)
        return [float(s) for s in self.booster.predict(matrix, num_threads=1)]

    def mrr(self, data: TrainingSet) -> float:
        """Mean reciprocal rank of the first positive of each of `data`'s queries under this model."""
        return _mrr(((self.scores(rows), labels) for rows, labels in data.by_group()))

    def reorder(self, history: History | None) -> Reorder:
        """`retrieve`'s `reorder` for issues asked now: the first stage's pool, scored."""

        def score(stage: FirstStage) -> dict[str, float]:
            files = pool(stage)
            try:
                rows = features(stage, files, HistoryPoint.latest(history))
                return dict(zip(files, self.scores(rows), strict=True))
            except Exception as exc:  # a ranking that fails must not fail the job: keep the first stage's
                logger.warning("the learned ranker failed, the first stage's order is kept: %r", exc)
                return {}

        return score

    def reorder_symbols(self, history: History | None) -> SymbolReorder:
        """`retrieve`'s `reorder_symbols` (this must be a symbol model): the candidates, scored."""

        def score(stage: FirstStage, candidates: list[SymbolCandidate]) -> list[float]:
            try:
                return self.scores(symbol_features(stage, candidates, HistoryPoint.latest(history)))
            except Exception as exc:  # as for files: keep the hand-weighted order
                logger.warning("the learned symbol ranker failed, the hand weights are kept: %r", exc)
                return []

        return score

    def explain(
        self, stage: FirstStage, history: History | None
    ) -> list[tuple[str, float, dict[str, float]]]:
        """(file, score, features) for the pool, best first: what `swe-lsp localize --explain` shows."""
        files = pool(stage)
        rows = features(stage, files, HistoryPoint.latest(history))
        scored = zip(files, self.scores(rows), rows, strict=True)
        out = [(f, s, dict(zip(FEATURES, r, strict=True))) for f, s, r in scored]
        return sorted(out, key=lambda x: -x[1])


def _mrr(groups: Iterable[tuple[list[float], list[int]]]) -> float:
    total, n = 0.0, 0
    for scores, labels in groups:
        order = sorted(range(len(scores)), key=lambda i: -scores[i])
        first = next((rank for rank, i in enumerate(order, 1) if labels[i]), None)
        total += 1.0 / first if first else 0.0
        n += 1
    return total / n if n else 0.0


def train(data: TrainingSet, init: Ranker | None = None, rounds: int | None = None,
          info: Mapping[str, Any] | None = None, names: tuple[str, ...] = FEATURES) -> Ranker:  # fmt: skip
    """Fit LambdaRank on `data`, rows of `names` (continuing from `init`'s trees when given)."""
    import lightgbm
    import numpy

    rows = numpy.asarray(data.rows, dtype=numpy.float64)
    dataset = lightgbm.Dataset(
        rows, label=data.labels, group=data.groups, feature_name=list(names), free_raw_data=True
    )
    booster = lightgbm.train(
        PARAMS,
        dataset,
        num_boost_round=rounds or (WORKSPACE_ROUNDS if init is not None else PRIOR_ROUNDS),
        init_model=init.booster if init is not None else None,
        keep_training_booster=False,
    )
    meta = {
        "features": list(names),
        "queries": len(data.groups),
        "rows": len(data.rows),
        "positives": int(sum(data.labels)),
        "init": (init.info.get("name") if init is not None else None),
        "trained_at": int(time.time()),
        **(info or {}),
    }
    return Ranker(booster, meta)
