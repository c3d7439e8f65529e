"""Features of (issue, file) pairs for the learned ranker: the first stage's signals kept apart, what
the file is, and what the repository's history says of it.

Every feature is computed the same way for a training query (a past commit's message, asked at its
place in the history, its files as they were before it) and for a user's issue (asked now, at the
end of the history), so what the model learns from the past is what it sees at serving time.
Values are per-query relative where a raw scale would differ between queries (BM25 divided by the
best score of the query, ranks as logarithms).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from swe_lsp.workspace.history import History
from swe_lsp.workspace.retrieval import (
    _CODE_LANGUAGES,
    _TEST_PATH,
    FirstStage,
    SymbolCandidate,
    file_bm25,
    hand_score,
    mentioned_files,
)
from swe_lsp.workspace.tokens import path_terms, split_identifier

# The first stage's files the ranker re-orders: on SWE-bench Lite the first stage has all gold files
# of 87% of issues in its top 10; 50 leaves room to lift a file from far down without scoring the
# whole repository (features cost about 1 ms a file).
POOL = 50
# The commits most similar to an issue whose files count as `hist_top` (the "similar past fixes"
# vote): a handful of near-duplicates matter, the long tail is noise.
SIMILAR_COMMITS = 30
# Changes within this many days before the query count as recent.
RECENT_DAYS = 365
# What `days_since` says of a file the history never changed: older than anything measured.
NEVER_DAYS = 36500

FEATURES = (
    "first_score",  # the hand-weighted first-stage score
    "first_rank",  # log(1 + its rank there)
    "bm25",  # content and path BM25, over the best file's
    "bm25_rank",  # log(1 + rank by BM25 alone)
    "path_match",  # summed idf of the issue's terms found in the path
    "symbol_match",  # summed idf of the issue's terms found in the file's symbol names
    "named_path",  # the issue names the file's path
    "traceback",  # the file is in the issue's traceback
    "module",  # the issue names it as a dotted module
    "defines",  # it defines identifiers the issue names
    "error",  # it contains the issue's error message
    "test",  # a test file
    "code",  # a programming language, not docs or data
    "init",  # a package's __init__
    "depth",  # folders above it
    "log_lines",  # log(1 + lines)
    "hist_max",  # the best message similarity of a past commit that changed it, over the best overall
    "hist_sum",  # log(1 + the sum of those similarities, over the best)
    "hist_top",  # how many of the SIMILAR_COMMITS most similar past commits changed it
    "changes",  # log(1 + commits that changed it)
    "recent",  # log(1 + commits that changed it in the last RECENT_DAYS)
    "days_since",  # log(1 + days since it last changed)
    "cochange",  # log(1 + commits that changed it with a file the issue names)
    "function_changes",  # log(1 + commits whose hunks were in its functions the issue names)
)


# The symbol ranker's features, for each symbol of the best files (`retrieval.symbol_candidates`).
SYMBOL_FEATURES = (
    "hand_score",  # the hand-weighted symbol score
    "bm25",  # its own lines against the issue's identifiers, over the best symbol's
    "file_score",  # its file's score
    "file_rank",  # log(1 + its file's rank)
    "traceback",  # a traceback frame is in it (its file, its name, the line: `retrieval._framed_symbols`)
    "dotted",  # the issue names it as `Class.method`
    "named",  # how strongly the issue names its short name
    "class",  # kind: a class
    "method",  # kind: a method or property
    "log_lines",  # log(1 + its lines)
    "nesting",  # how deep it is nested (dots in its qualified name)
    "sym_changes",  # log(1 + past commits whose hunks were in it)
    "sym_hist_max",  # the best message similarity of those commits, over the best overall
    "sym_days_since",  # log(1 + days since one last changed it)
)


@dataclass(frozen=True)
class HistoryPoint:
    """Where in the history a query is asked: commits `[0, before)` are its past (None: all of
    them), `time` is its moment (a training commit's time; the newest commit's for an issue)."""

    history: History
    before: int | None
    time: int

    @classmethod
    def latest(cls, history: History | None) -> HistoryPoint | None:
        """An issue asked now: after every commit, at the newest one's time (the project's own
        clock, so a ranking does not drift with the wall clock, and a repository last touched a
        year ago still has recent files)."""
        if history is None or not len(history):
            return None
        return cls(history, None, history.commits[-1].time)


def pool(stage: FirstStage) -> list[str]:
    """The files the ranker re-orders: the first stage's top POOL."""
    return stage.ranked()[:POOL]


def features(stage: FirstStage, files: Sequence[str], point: HistoryPoint | None) -> list[list[float]]:
    """One row of FEATURES per file. Without a history (no git, or a query at the first commit) the
    history features say what they say of a file the history never changed."""
    index = stage.index
    _, bm25 = file_bm25(index)
    by_bm25 = sorted(stage.bm25, key=lambda p: -stage.bm25[p])
    bm25_rank = {p: i for i, p in enumerate(by_bm25[: 10 * POOL])}
    first_rank = {p: i for i, p in enumerate(stage.ranked()[: 10 * POOL])}
    query = set(stage.query)
    idf = {t: bm25.idf(t) for t in query}
    named = {n for n in (*stage.mentions.code_identifiers, *stage.mentions.identifiers)}
    history = _history_view(stage, point)
    rows = []
    for path in files:
        entry = stage.entry(path)
        boosts = stage.boosts.get(path, {})
        symbol_terms = {t for s in (entry.symbols if entry else ()) for t in split_identifier(s.short_name)}
        row = [
            stage.scores.get(path, 0.0),
            math.log1p(first_rank.get(path, 10 * POOL)),
            stage.bm25.get(path, 0.0),
            math.log1p(bm25_rank.get(path, 10 * POOL)),
            sum(idf[t] for t in path_terms(path) if t in query),
            sum(idf[t] for t in symbol_terms if t in query),
            boosts.get("path", 0.0),
            boosts.get("traceback", 0.0),
            boosts.get("module", 0.0),
            boosts.get("defines", 0.0),
            boosts.get("error", 0.0),
            1.0 if _TEST_PATH.search(path) else 0.0,
            1.0 if entry is not None and entry.language in _CODE_LANGUAGES else 0.0,
            1.0 if path.endswith("__init__.py") else 0.0,
            float(path.count("/")),
            math.log1p(entry.lines if entry else 0),
        ]
        row.extend(history.row(path, named) if history else _NO_HISTORY)
        rows.append(row)
    return rows


_NO_HISTORY = (0.0, 0.0, 0.0, 0.0, 0.0, math.log1p(NEVER_DAYS), 0.0, 0.0)


class _HistoryView:
    """The history features of one query, with the per-query work (message similarities, the most
    similar commits, the named files) done once."""

    def __init__(self, stage: FirstStage, point: HistoryPoint) -> None:
        self.history, self.before, self.time = point.history, point.before, point.time
        scores = self.history.message_scores(stage.issue, self.before)
        self.best = max(scores, default=0.0) or 1.0
        self.scores = scores
        ranked = sorted((i for i, s in enumerate(scores) if s > 0), key=lambda i: -scores[i])
        self.similar = set(ranked[:SIMILAR_COMMITS])
        paths, _ = file_bm25(stage.index)
        named = mentioned_files(paths, stage.mentions)
        self.named_changes: set[int] = set()
        for other in named:
            self.named_changes.update(self.history.changes(other, self.before))
        self.named_files = named

    def row(self, path: str, named: set[str]) -> list[float]:
        changes = self.history.changes(path, self.before)
        sims = [self.scores[i] for i in changes]
        commits = self.history.commits
        last = commits[changes[-1]].time if changes else None
        recent = sum(1 for i in changes if commits[i].time >= self.time - RECENT_DAYS * 86400)
        cochange = 0 if path in self.named_files else sum(1 for i in changes if i in self.named_changes)
        function_changes = set()
        for name in named:
            function_changes.update(self.history.function_changes(f"{path}::{name}", self.before))
        return [
            max(sims, default=0.0) / self.best,
            math.log1p(sum(sims) / self.best),
            float(sum(1 for i in changes if i in self.similar)),
            math.log1p(len(changes)),
            math.log1p(recent),
            math.log1p(max(0.0, (self.time - last) / 86400) if last is not None else NEVER_DAYS),
            math.log1p(cochange),
            math.log1p(len(function_changes)),
        ]

    def symbol_row(self, key: str) -> list[float]:
        changes = self.history.function_changes(key, self.before)
        commits = self.history.commits
        last = commits[changes[-1]].time if changes else None
        return [
            math.log1p(len(changes)),
            max((self.scores[i] for i in changes), default=0.0) / self.best,
            math.log1p(max(0.0, (self.time - last) / 86400) if last is not None else NEVER_DAYS),
        ]


def _history_view(stage: FirstStage, point: HistoryPoint | None) -> _HistoryView | None:
    """The history features' per-query work, or None when the query has no past."""
    if point is None or not len(point.history) or point.before == 0:
        return None
    return _HistoryView(stage, point)


def symbol_features(
    stage: FirstStage, candidates: Sequence[SymbolCandidate], point: HistoryPoint | None
) -> list[list[float]]:
    """One row of SYMBOL_FEATURES per candidate (the history ones as for a never-changed symbol
    without a history)."""
    history = _history_view(stage, point)
    rows = []
    for c in candidates:
        sym = c.symbol
        row = [
            hand_score(c)[0],
            c.bm25,
            c.file_score,
            math.log1p(c.file_rank),
            1.0 if c.traceback else 0.0,
            1.0 if c.dotted else 0.0,
            c.named,
            1.0 if sym.kind == "class" else 0.0,
            1.0 if sym.kind in ("method", "property") else 0.0,
            math.log1p(sym.end - sym.start + 1),
            float(sym.name.count(".")),
        ]
        row.extend(history.symbol_row(f"{sym.file}::{sym.short_name}") if history else _NO_SYMBOL_HISTORY)
        rows.append(row)
    return rows


_NO_SYMBOL_HISTORY = (0.0, 0.0, math.log1p(NEVER_DAYS))
