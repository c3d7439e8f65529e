"""Embedding a workspace's symbols while the editor is idle, so a job finds the vectors of its best
candidates stored (`semantic.VectorStore`) and the semantic signal costs it milliseconds instead of
the 10-30 s that embedding 200 functions takes on a laptop's CPU.

The indexer process does it after a folder's build (and its ranker's training), one batch at a time,
turning to any task that arrives between batches (`index_process`). Order: the code files (not tests)
the git history changed most often first, since a file fixed often is the likeliest to be fixed
again (the same count the history ranker weighs), then the others by path; a saved file's symbols go
to the front, their text having changed (also once the queue is over: then in a queue of their
own). What is stored stays for the next session: a later build
skips it at the cost of a lookup, so the work resumes where it stopped.
"""

from __future__ import annotations

import time
from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass

from swe_lsp.workspace.files import read_text
from swe_lsp.workspace.history import History
from swe_lsp.workspace.index import RepoIndex
from swe_lsp.workspace.ranker import is_target
from swe_lsp.workspace.semantic import SemanticModel, symbol_text

# Work per folder each time it is built: twenty minutes of one core at the indexer's low priority.
# Measured on django (bench/results/rank_cost.json): 9,178 symbols in its code files, one thread
# embeds 8.3 a second, so the whole repository fits once (then only what changed, at the cost of a
# lookup); with 1,008 of them stored (120 s) a job still had to embed a median 93 of its 200
# candidates (5.8 s), with all of them stored it adds a median 0.07 s. A larger repository gets its
# most changed files first and the jobs (or the next session's build) embed the rest.
EMBED_AHEAD_S = 1200.0
# Texts embedded per step: about 4 s of one core for long functions, so a saved file's update waits
# at most that long behind the embedding.
BATCH = 16


@dataclass(frozen=True)
class EmbedReport:
    """How one folder's embedding ahead went: symbols `embedded` now, `stored` before, out of `total`
    symbols in its queue; `stopped` is `done` or `budget`."""

    embedded: int
    stored: int
    total: int
    seconds: float
    stopped: str


def files_in_order(index: RepoIndex, history: History | None) -> list[str]:
    """The folder's code files (not tests), the most often changed first, then by path."""
    changes: Counter[str] = Counter()
    for commit in history.commits if history is not None else ():
        changes.update(commit.files)
    files = [e.path for e in index.files() if e.symbols and is_target(e.path, index)]
    return sorted(files, key=lambda p: (-changes[p], p))


class EmbedAhead:
    """One folder's queue of files whose symbols to embed, worked off BATCH texts per `step`."""

    def __init__(
        self, index: RepoIndex, model: SemanticModel, files: Iterable[str], budget_s: float = EMBED_AHEAD_S
    ) -> None:
        self.index = index
        self.model = model
        self.budget_s = budget_s
        self.spent_s = 0.0
        self.embedded = 0
        self.stored = 0
        self._files: deque[str] = deque(files)
        self._texts: deque[str] = deque()
        self.total = sum(len(e.symbols) for e in map(index.file, self._files) if e is not None)

    @property
    def done(self) -> int:
        """Symbols handled so far (embedded now or found stored)."""
        return self.embedded + self.stored

    def front(self, paths: Iterable[str]) -> None:
        """Embed these (saved) files' symbols next."""
        for path in paths:
            entry = self.index.file(path)
            if entry is None or not entry.symbols or not is_target(path, self.index):
                continue
            if path in self._files:
                self._files.remove(path)
            else:
                self.total += len(entry.symbols)
            self._files.appendleft(path)

    def saved(self, paths: Iterable[str]) -> EmbedAhead:
        """A queue of only these saved files' symbols, with this one's index and model (once this
        one is over: a save's new text is embedded in idle time rather than by the next job)."""
        queue = EmbedAhead(self.index, self.model, (), self.budget_s)
        queue.front(paths)
        return queue

    def step(self) -> bool:
        """Embed the next batch; False once the queue is empty or the budget is spent."""
        if self.spent_s >= self.budget_s:
            return False
        started = time.monotonic()
        batch: list[str] = []
        while len(batch) < BATCH and (self._texts or self._files):
            if not self._texts:
                self._texts.extend(self._file_texts(self._files.popleft()))
                continue
            batch.append(self._texts.popleft())
        if not batch:
            return False
        embedded = self.model.store_ahead(batch)
        self.embedded += embedded
        self.stored += len(batch) - embedded
        self.spent_s += time.monotonic() - started
        return bool(self._texts or self._files) and self.spent_s < self.budget_s

    def report(self) -> EmbedReport:
        """Where it stands."""
        left = bool(self._texts or self._files)
        stopped = "budget" if left else "done"
        return EmbedReport(self.embedded, self.stored, self.total, round(self.spent_s, 3), stopped)

    def _file_texts(self, path: str) -> list[str]:
        entry = self.index.file(path)
        text = read_text(self.index.root, path) if entry is not None else None
        if entry is None or text is None:
            return []
        lines = text.splitlines()
        return [symbol_text(sym, lines) for sym in entry.symbols]
