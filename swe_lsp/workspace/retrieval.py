"""Ranked files and symbols for an issue: BM25 over code-aware tokens, plus boosts for what the
issue names explicitly (paths, traceback frames, dotted names, identifiers in code, error
messages), then a prior against tests and docs, where fixes rarely go.

Files are ranked first; symbols are then scored inside the best files only (as Agentless does),
each on its own lines (a class on its header and attributes, not on its methods' bodies), and
weighed by its file's score and place. With the embedding model (`semantic.py`) the best symbols are
re-weighed by their similarity to the issue, and then the best files by their best symbol's; the
classes of the best methods are then shown beside them (where a fix that adds a method goes).

`first_stage` keeps every signal apart (`FirstStage`), so the learned ranker (`ranker.py`) can
re-weigh them with the repository's history; `retrieve` takes its order through `reorder`. Both
can see some files as they were before a change (`Overrides`): a ranker trained on past commits
must score each commit's files as they were before it, or the fix's own text would lead it there.
"""

from __future__ import annotations

import logging
import math
import re
import weakref
from collections import Counter
from collections.abc import Callable, Collection, Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from swe_lsp.workspace.bm25 import BM25
from swe_lsp.workspace.files import read_text
from swe_lsp.workspace.index import RepoIndex
from swe_lsp.workspace.mentions import Mentions, find_mentions
from swe_lsp.workspace.model import FileIndex, Localization, RetrievalHit, Symbol, SymbolHit
from swe_lsp.workspace.semantic import EmbedProgress, SemanticUnavailable, symbol_text
from swe_lsp.workspace.tokens import code_terms, split_identifier

if TYPE_CHECKING:
    from swe_lsp.workspace.semantic import SemanticModel

logger = logging.getLogger(__name__)

PATH_WEIGHT = 2  # each path term counts as this many occurrences in its file
# The symbol stage draws its candidates from the first stage's best FILES_FOR_SYMBOLS files. Measured on
# the product's own candidates (bench/symbol_tune.py dumps of 50 files, both halves by id): 20 to 30
# rank the same (files @1/@5/@10 0.565/0.855/0.899, functions @10/@20 0.576/0.652), 40 and 50 lose
# functions (0.571/0.647 at 40, 0.561/0.636 at 50: more methods of files that are not the fix crowd
# the top) for one issue at file @1. 30 keeps the gold file in reach for more issues than 20 at no
# measured loss; the cost (symbols to score, a median 51 per file on Lite) grows with it. (Measured
# before traceback frames pinned their symbol, `TRACEBACK_WEIGHT`.)
FILES_FOR_SYMBOLS = 30
# Each term of the issue's first line (its title, or a commit's summary line when the learned ranker
# trains on one) weighs TITLE_WEIGHT more in the file query than its count alone (1 + ln count):
# a title names the subject, the body spreads over reproduction steps, logs and asides. Measured on
# the first stage alone over 204 SWE-bench Lite instances, weights 0 / 0.5 / 1 / 2 / 3: all gold
# files @5 0.745 / 0.770 / 0.779 / 0.784 / 0.799, @50 (the learned ranker's pool) 0.946 / 0.951 /
# 0.951 / 0.961 / 0.961, @1 0.466 / 0.466 / 0.475 / 0.461 / 0.451; on two halves by instance id 2
# gains @5 four points on each and holds @1 within one issue, 3 loses @1 on both. Through the whole
# pipeline (`bench/rank_history.py`, every model retrained): served files @1 / @5 / @10 0.565 / 0.831 /
# 0.865 -> 0.541 / 0.845 / 0.889, the learned prior alone 0.527 / 0.816 / 0.870 -> 0.527 / 0.831 /
# 0.889 (the @1 loss comes from the per-repository model choice and the semantic step above it).
# The symbol stage's BM25 weighs the title the same way (`symbol_candidates`): on the product's own
# candidates (`bench/symbol_tune.py`, two halves by id) all-gold-functions@10 / @20 0.520 / 0.611 ->
# 0.540 / 0.641, gaining on both halves, and files @5 0.836 -> 0.845 (one issue on each half), as the
# files' semantic re-weighing reads the similarities of different best symbols (FILE_SIMILAR_FROM).
TITLE_WEIGHT = 2.0
# The symbol BM25's saturation and length normalization (each symbol's own lines against the set of
# the issue's identifiers). Moved on the product's candidates (bench/symbol_tune.py's dumps, two
# halves by id), k1 0.9/1.5/2.0 and b 0.3/0.5/0.9/1.0 gain on both halves in none (at best the same
# overall; functions @20 0.657 down to 0.636); nor do the issue's term counts in the query (as counts
# 0.546/0.636, as 1 + ln count 0.556/0.647 against 0.576/0.657 at @10/@20) or a title weight of 3
# or 4. The textbook values sit at the optimum here. (Measured before traceback frames pinned their
# symbol, `TRACEBACK_WEIGHT`.)
SYMBOL_K1 = 1.2
SYMBOL_B = 0.75
# What a symbol gains when the issue names the class (or function) it is nested in: an issue about
# `Media` or `SQLCompiler` is most often fixed in one of its methods, not in a same-scored function of
# another class in the file. Measured on the 207 Lite instances with the product's file order, split
# in two halves by instance id: 0.4 lifts all-gold-functions@10 from 0.438 to 0.472 and from 0.413 to
# 0.440, @20 from 0.506 to 0.539 and 0.477 to 0.532; 0.3-0.6 are within a point of each other, above
# 0.8 the class's other methods crowd the top (`bench/rank_history.py` has the full table).
OWNER_NAMED = 0.4
# The rest of the hand score (`hand_score`): its file's score, a traceback frame in it, the issue
# naming it as `Class.method`, or by its short name (times how strongly). Each moved alone on the 207
# Lite instances (bench/symbol_tune.py: file 0.3-1.0, dotted 0.4/1.6, named
# 1.0/2.0) gains on neither half at both @10 and @20: these sit at a local optimum.
FILE_SCORE_WEIGHT = 0.6
# A traceback frame pins one symbol (`_framed_symbols`: its file and function, the line among
# same-named ones). Before, every symbol of the frame's function name in the best files gained 0.8
# (a frame `__eq__` lifted each `__eq__`, another library's frame its namesakes here); pinned at 0.8,
# the product's candidates rank as before (bench/symbol_tune.py: those name-only matches gained no
# issue), and the pinned ones can weigh more: 0.8 / 1.0 / 1.2 / 1.4 / 1.6 give files @1 0.565 /
# 0.570 / 0.570 / 0.570 / 0.570, functions @10 0.576 / 0.576 / 0.576 / 0.571 / 0.576 and @20 0.657 /
# 0.662 / 0.662 / 0.662 / 0.662. 1.2 gains one issue on each half (file @1 on one, functions @20 on
# the other) and loses none; gold functions move up in 14 issues and down in one (sympy-18057
# `Expr.__eq__` 26th -> 16th, pytest-7168 58th -> 35th, matplotlib-25498 11th -> 13th).
TRACEBACK_WEIGHT = 1.2
DOTTED_WEIGHT = 0.8
NAMED_WEIGHT = 1.5
# What a symbol gains when the issue quotes a string literal of its own lines: a piece of at least
# QUOTED_MIN_CHARS characters (split at format placeholders such as `%s` and `{name}`, spaces and case
# ignored) that the issue's text contains. An issue quotes the error or warning it saw, an option or
# setting name, a message of the output, and the function that builds that string is the likeliest
# fix (or is beside it). Not its file: the first stage already weighs an error message's file
# (`_error_boosts`). Measured on the product's candidates for the 207 Lite instances
# (`bench/symbol_tune.py`, two halves by instance id): 123 instances have a quoted candidate (637
# candidates, 23 of them gold); weight 0 / 0.4 / 0.6 / 0.8 / 1.0 gives all-gold-functions@10 on the
# halves 0.545, 0.536 / 0.545, 0.557 / 0.574, 0.557 / 0.574, 0.546 / 0.574, 0.546 and @20 0.634,
# 0.650 / 0.653, 0.650 / 0.653, 0.650 / 0.653, 0.660 / 0.653, 0.650; at 0.6 files @5 gain one issue
# (the files' semantic step reads different best symbols), at 0.8 and 1.0 files @1 lose one. Pieces
# of 10 characters match three times as many candidates for no more gain, pieces of two words or
# more gain less; matching the whole message with its placeholders filled in (`get_%s_display` as
# `get_FOO_display`) finds one gold function more and loses one issue's gold file at @1. Cost: about
# 10 ms per issue on django's best 30 files (1,400 candidates; the stage takes 80 ms without it).
QUOTED_WEIGHT = 0.6
QUOTED_MIN_CHARS = 12
# A file some of whose symbols the issue quotes (`QUOTED_WEIGHT`) has its score times 1 +
# QUOTED_FILE_GAIN after the symbol stage, before the files' semantic step: the message the reporter
# saw names the module that raised it (`' is used by multiple models:` in
# `core/checks/model_checks.py`, 14th -> 4th for django-11630) better than the words around it,
# which the learned order weighs. A factor, not a sum: the best file's score runs from 0.5 to 8
# between issues. Measured on the product's files (`bench/symbol_tune.py`, two halves by instance
# id): factor 1.1 / 1.2 / 1.3 / 1.4 / 1.5 gives all-gold-files@1 on the halves 62, 52 -> 63, 53 /
# 62, 55 / 62, 55 / 62, 55 / 61, 56 issues, @5 87, 89 -> 88, 88 / 89, 88 (1.2 to 1.5), @10 90, 94
# -> 92, 94 (all); 0.3, the middle of the plateau (all: @1 / @5 / @10 0.551 / 0.850 / 0.889 ->
# 0.565 / 0.855 / 0.899). The one loss at @5 is a quoted neighbour passing the gold file at 5th. A
# sum in place of the factor gains as much at best (0.3) and less at 0.1-0.2 and 0.4-0.5; only the
# quoted pieces of several words (messages, not `'predict_proba'`) gain less at @1 and @10; the
# whole file's strings, module level included, two issues fewer at @1 and one more at @10. After the
# symbol stage, not before: there the file's score and place would lift all its symbols, and
# functions @20 lose one to two issues.
QUOTED_FILE_GAIN = 0.3
# What a private function (`_transform`, not a `__dunder__`) gains when a function the issue names
# calls it: the issue names the public entry it used (`transform`, `iter_content`), and the work,
# so often the fix, is in the helper that entry calls, whose own words rarely match the issue's.
# Measured on the product's candidates (`bench/symbol_tune.py`, two halves by instance id, quoted
# strings in): weight 0.4 / 0.5 / 0.6 / 0.8 gives all-gold-functions@10 on the halves 0.574, 0.557
# -> 0.584, 0.567 / 0.584, 0.567 / 0.584, 0.577 / 0.564, 0.577 and @20 0.653, 0.650 -> 0.653, 0.660
# at 0.4-0.8; files do not move. 0.5, the middle of what gains on both halves (all: @10 / @20
# 0.566 / 0.652 -> 0.576 / 0.657). Helpers of any name, not only private ones, lose on one half at
# @10 or @20; the private helpers of the best-ranked function instead gain about as much alone and
# little on top of these (one issue at @10 on one half, one at @20 on the other).
HELPER_WEIGHT = 0.5
# A symbol the issue's example called when it ran in the sandbox (`example_run`, `search.example`)
# gains EXECUTED_WEIGHT. Measured on the product's own candidates of the Lite issues whose examples
# run on this machine, sympy's 55, Django's 71 and matplotlib's 11 at 3.6-3.7 (`bench/trace_signal.py`,
# two halves by id; the example runs for 48, 26 and 8 of them and calls a median 40 candidates of
# 1,938): functions @10 / @20 0.566 / 0.667 -> (0.2) 0.566 / 0.667, (0.4) 0.574 / 0.667, (0.6)
# 0.605 / 0.674, (0.8 and 1.0) 0.612 / 0.690. 0.8 gains on both halves (two and four issues at @10,
# three and one at @20) and loses nothing; over 0.6 it gains on both halves too. Files do not move:
# their similarity is read from the order without this weight (`_without_example`; read from the
# order with it, 0.8 lost a file @1 and django-11910's gold file fell out of the best 5). The files
# the example ran are not weighed: +0.1 to +0.3 to their scores gains issues at file @10 on one
# half and loses one at @5 on the other.
EXECUTED_WEIGHT = 0.8
# A file of the best FILES_FOR_SYMBOLS whose functions the example's statements that show the issue
# called (`example_run.showing_files`: those that raised, else the last that called the workspace,
# as spectrum-based fault localization reads a failing test) gains SHOWING_FILE_WEIGHT on its score,
# after the symbols are ranked (they keep the file order without it). Measured on the 148 Lite
# issues whose examples run here (`bench/trace_signal.py`, two halves by id, with EXECUTED_WEIGHT):
# files @1 / @5 / @10 0.574 / 0.845 / 0.885 -> 0.581 / 0.851 / 0.905 at 0.3 (one, one and three
# issues on one half, nothing lost on the other: seven gold files rise, none falls); 0.4 and 0.7 the
# same, 0.5 one @1 more on the other half, 0.2 not the @1: 0.3 is the plateau's low end, well clear
# of 0.2. Every file the example ran instead of the showing statements' gains as much @10 but loses
# at @5 on the other half; the weight moving the symbols' file places too loses a function @20; the
# showing files beyond the best 30 drawn in gain no file and lose functions.
SHOWING_FILE_WEIGHT = 0.3
# A symbol's file's place in the file order counts beyond its score: FILE_RANK_WEIGHT x ln(1 + rank)
# (rank 0 for the best file) is taken off its final score. The learned order gives files the first
# stage's scores of the places they moved to, so the best files' symbols are close in file score and
# their word overlap decides; a file the rankers put second or third is usually second for a reason.
# Applied last, after the semantic step: before it, it would change which SEMANTIC_TOP candidates are
# embedded, and so the files' similarity (measured: two Lite issues fewer with the gold file first).
FILE_RANK_WEIGHT = 0.2
# The classes of the first CLASSES_SHOWN methods in the order are shown just after them: a class's own
# lines are its header and attributes, where a fix that adds a method or a class attribute goes, and
# SWE-bench's gold location of such a fix is the class (16 of the 198 Lite instances with gold
# functions). Both chosen on every candidate of the product's best 30 files for those 198 instances
# (two halves by instance id; weights 0-0.4, 0-3 classes shown): 2 classes and 0.2 gain or hold on
# both halves at @10 and @20, 1 class gains less, 3 push methods out of the top 10. Measured after
# (`bench/rank_history.py --refresh-symbols`, all 207): all-gold-functions@10 / @20 0.475 / 0.581 ->
# 0.510 / 0.606, files unchanged.
CLASSES_SHOWN = 2
# The functions nested in the first NESTED_SHOWN functions of the order that have any are shown just
# after them, in the order of their lines: a nested helper is part of its function (a fix to one
# often changes the other), but its own words are few, so it ranks far below it, and SWE-bench counts
# it as a gold function of its own (14 of the 198 Lite instances with gold functions have one).
# Chosen on every candidate of the product's best 30 files (`bench/symbol_tune.py`, two halves by
# instance id): 1 lifts all-gold-functions@10 from 0.525 to 0.540 (one and two issues on the halves)
# and @20 from 0.631 to 0.641 (one each), with no issue lost; 2 gains the same, 10 loses one at @20.
NESTED_SHOWN = 1
# The semantic signal (`semantic.py`) re-weighs the symbol stage's SEMANTIC_TOP best candidates: their
# similarity to the issue, standardized over those candidates (so a model whose cosines all sit near
# 0.3 and one whose spread is wide weigh the same), times SEMANTIC_WEIGHT, is added to the hand score.
# Measured with all-MiniLM-L6-v2 on the Lite instances (hand weights before the owner signal, two
# halves by instance id): all of an issue's gold functions are among the hand order's top 200 for
# 0.76 of the issues (top 100: 0.70; every candidate: 0.91), and re-ranking 200 rather than 100 lifts
# all-gold-functions@20 by 3 points more (the first 110 instances); a weight of 0.5 is best or
# within a point on both halves (@10 0.458 -> 0.542, @20 0.535 -> 0.613 on the first 142), 0.3 and
# 0.7 a point or two below, 1.0 lets the model's own errors through. That analysis took the files
# after the product's top 10 from the first stage; on the product's own candidates, all 207 instances
# (`bench/rank_history.py`, `product` against `product_hand`), the lift is about half: @10 0.455 ->
# 0.475, @20 0.540 -> 0.581. Costs: 200 texts of up to 256 tokens are about 30 s on this 2-core CPU
# when none is stored (hence `embed_ahead`).
SEMANTIC_TOP = 200
SEMANTIC_WEIGHT = 0.5
# The same similarity re-weighs the best FILES_BY_MEANING files (after the learned ranker): a file's
# similarity is its best symbol's among those SEMANTIC_TOP, standardized over the files, times
# FILE_SEMANTIC_WEIGHT, added to its score (a file with no symbol there counts as the least similar).
# Measured on the product's own candidates for all 207 Lite instances (`bench/semantic_tune.py`,
# two halves by instance id): weight 0.5 lifts all-gold-files@1 from 0.548 to 0.587 and from 0.485
# to 0.544 (all: 0.517 -> 0.565), @5 from 0.808 to 0.817 and 0.825 to 0.845; 0.25 and 0.75 gain
# less on both halves, 1.0 and above lose @1 on one. Only the top 10 move (@10 is unchanged): that
# is where the files come from that the symbol stage weighs, and where the model's choices start.
FILES_BY_MEANING = 10
FILE_SEMANTIC_WEIGHT = 0.5
# A file's similarity is its best among only the FILE_SIMILAR_FROM best of those candidates (by the
# hand order): the best of many similarities is higher by chance alone, so a long file with dozens
# of its symbols embedded looked more like the issue than a short one whose one matching function
# does. Measured on the product's candidates (`bench/symbol_tune.py`, two halves by id): from the
# best 25 / 50 / 100 / 200, all-gold-files@1 0.560 / 0.551 / 0.546 / 0.536 (50: +2 and +1 issues on
# the halves), @5 0.841 / 0.845 / 0.850 / 0.836 (50: 0 and +2); 25 and 50 gain or hold on both
# halves at @1 and @5, 100 loses @5 on one; 50 for the better @5. Functions do not change.
FILE_SIMILAR_FROM = 50
_CODE_LANGUAGES = frozenset({"python", "cython", "c", "cpp", "javascript", "typescript", "go", "rust", "java",
                             "ruby"})  # fmt: skip
_TEST_PATH = re.compile(r"(^|/)(tests?|testing)(/|$)|(^|/)test_[^/]*$|_tests?\.py$|(^|/)conftest\.py$")
_CODEISH = re.compile(r"^(?:[a-z0-9]+_\w+|_\w+|[A-Z]\w*[a-z]\w*[A-Z]\w*|\w*[a-z][A-Z]\w*)$")
_CALLED = re.compile(r"\b([A-Za-z_]\w*)\s*\(")
_STRING_LITERAL = re.compile(r"""(["'])((?:\\.|(?!\1).)*)\1""")
_SPACES = re.compile(r"\s+")
_WORD = re.compile(r"[a-z]{3}")
_PLACEHOLDER = re.compile(r"%[-#0 +]*\d*(?:\.\d+)?[sdrifx]|%\([^)]*\)[sdrifx]|\{[^{}]*\}")
_BM25_CACHE: weakref.WeakKeyDictionary[RepoIndex, tuple[int, list[str], BM25]] = weakref.WeakKeyDictionary()


# Path -> (its entry, its text) as a training query must see it: the file before the commit that
# the query is the message of (entry None: the commit added it, so it did not exist yet).
Overrides = Mapping[str, tuple[FileIndex | None, str | None]]
# File -> learned score for the first stage's candidates (`ranker.Ranker.reorder`).
Reorder = Callable[["FirstStage"], Mapping[str, float]]
# A learned score per symbol candidate, in their order (`ranker.Ranker.reorder_symbols`); empty to
# keep the hand-weighted order.
SymbolReorder = Callable[["FirstStage", "list[SymbolCandidate]"], "list[float]"]


class _View:
    """The index, with `overrides`' files replaced by their earlier state."""

    def __init__(self, index: RepoIndex, overrides: Overrides | None) -> None:
        self.index = index
        self.overrides = overrides or {}

    def entry(self, path: str) -> FileIndex | None:
        if path in self.overrides:
            return self.overrides[path][0]
        return self.index.file(path)

    def entries(self) -> Iterator[FileIndex]:
        for entry in self.index.files():
            if entry.path in self.overrides:
                entry = self.overrides[entry.path][0]  # type: ignore[assignment]
            if entry is not None:
                yield entry

    def text(self, path: str) -> str | None:
        if path in self.overrides:
            return self.overrides[path][1]
        return read_text(self.index.root, path)

    def symbols_named(self, name: str) -> list[Symbol]:
        found = [s for s in self.index.symbols_named(name) if s.file not in self.overrides]
        for entry, _ in self.overrides.values():
            if entry is not None:
                found.extend(s for s in entry.symbols if s.short_name == name)
        return found


def _file_doc(entry: FileIndex) -> Counter[str]:
    """A file's BM25 document: its identifier counts, and its path's words PATH_WEIGHT times."""
    doc = Counter(entry.terms)
    for word in re.findall(r"[A-Za-z_]\w*", entry.path):
        doc[word] += PATH_WEIGHT
    return doc


def file_bm25(index: RepoIndex) -> tuple[list[str], BM25]:
    """The file-level BM25 of an index (paths and contents), cached until the index changes."""
    cached = _BM25_CACHE.get(index)
    if cached is not None and cached[0] == index.version:
        return cached[1], cached[2]
    paths, docs = [], []
    for entry in index.files():
        paths.append(entry.path)
        docs.append(_file_doc(entry))
    bm25 = BM25(docs, analyzer=split_identifier)
    _BM25_CACHE[index] = (index.version, paths, bm25)
    return paths, bm25


@dataclass(frozen=True)
class FirstStage:
    """Every file's hand-weighted score for an issue and the signals it was made of, kept apart so
    a learned ranker can weigh them again: `bm25` (content and path, divided by the best file's),
    `boosts` (per file, per kind of mention: `path`, `traceback`, `module`, `defines`, `error`) and
    `prior` (the factor against tests and non-code). `scores` = (bm25 + boosts) x prior."""

    index: RepoIndex
    issue: str
    mentions: Mentions
    query: Mapping[str, float]
    scores: Mapping[str, float]
    reasons: Mapping[str, tuple[str, ...]]
    bm25: Mapping[str, float]
    boosts: Mapping[str, Mapping[str, float]]
    prior: Mapping[str, float]
    overrides: Overrides

    def ranked(self) -> list[str]:
        """Files with a positive score, best first (ties by path)."""
        return sorted((p for p in self.scores if self.scores[p] > 0), key=lambda p: (-self.scores[p], p))

    def entry(self, path: str) -> FileIndex | None:
        """A file's entry as this stage saw it (its earlier state when overridden)."""
        return _View(self.index, self.overrides).entry(path)


def first_stage(index: RepoIndex, issue: str, overrides: Overrides | None = None) -> FirstStage:
    """Score every file of `index` for `issue` (see `FirstStage`); `overrides` replace some files by
    their earlier state, for training on the past."""
    view = _View(index, overrides)
    paths, bm25 = file_bm25(index)
    mentions = find_mentions(issue)
    query = {t: 1 + math.log(n) for t, n in code_terms(issue).items()}
    for t in code_terms(issue_title(issue)):
        query[t] += TITLE_WEIGHT
    raw = bm25.scores(query)
    for i, path in enumerate(paths):
        if path in view.overrides:
            entry = view.overrides[path][0]
            raw[i] = bm25.score_document(query, _file_doc(entry)) if entry is not None else 0.0
    best = max(raw, default=0.0) or 1.0
    normalized = {p: s / best for p, s in zip(paths, raw, strict=True) if s > 0}
    scores = dict(normalized)
    reasons: dict[str, list[str]] = {p: ["bm25"] for p in scores}
    boosts: dict[str, dict[str, float]] = {}
    for path, boost, why, kind in _file_boosts(view, paths, mentions):
        if view.entry(path) is None:
            continue
        scores[path] = scores.get(path, 0.0) + boost
        reasons.setdefault(path, []).append(why)
        kinds = boosts.setdefault(path, {})
        kinds[kind] = kinds.get(kind, 0.0) + boost
    prior = {path: _prior(view, path) for path in scores}
    for path in scores:
        scores[path] *= prior[path]
    return FirstStage(
        index, issue, mentions, query, scores, {p: tuple(dict.fromkeys(r)) for p, r in reasons.items()},
        normalized, boosts, prior, view.overrides,
    )  # fmt: skip


def issue_title(issue: str) -> str:
    """An issue's first non-blank line: its title (a commit message's summary line)."""
    return next((line for line in issue.splitlines() if line.strip()), "")


def retrieve(
    index: RepoIndex,
    issue: str,
    top: int = 10,
    top_symbols: int = 20,
    reorder: Reorder | None = None,
    reorder_symbols: SymbolReorder | None = None,
    stage: FirstStage | None = None,
    semantic: SemanticModel | None = None,
    on_embed: EmbedProgress | None = None,
    executed: Collection[tuple[str, str]] = frozenset(),
    showing: Collection[str] = frozenset(),
) -> Localization:
    """The `top` files and `top_symbols` symbols most likely to need a change for `issue`.

    `reorder` (the learned ranker) gives new scores to some of the first stage's files: those come
    first in its order, each taking the first-stage score of the rank it moved to (so the symbol
    stage, which weighs a symbol's file by its score, sees the same scale either way).
    `reorder_symbols` scores the symbols of the best files in place of the hand weights; after them,
    the files some of whose symbols the issue quotes gain (QUOTED_FILE_GAIN). `stage` is
    the first stage's result for this index and issue when the caller has it already. `semantic`
    (an embedding model, `semantic.load_semantic`) adds the best symbols' similarity to the issue;
    `on_embed` hears its progress when it must embed symbols not stored ahead; when it fails, the
    hand order stands and the answer's notes say why. `executed`: the symbols the issue's example
    called when it ran (`example_run.called_symbols`), each gaining EXECUTED_WEIGHT; `showing`: the
    files its statements showing the issue ran (`example_run.showing_files`), each of the best
    gaining SHOWING_FILE_WEIGHT after the symbols are ranked."""
    stage = stage or first_stage(index, issue)
    ranked, scores, reasons = learned_order(stage, reorder)
    best_files = ranked[: max(top, FILES_FOR_SYMBOLS)]
    symbols, notes, similar, quoted = _rank_symbols(
        index, stage, best_files, scores, top_symbols, reorder_symbols, semantic, on_embed, executed
    )
    _files_shown(best_files, scores, reasons, showing)
    ranked = _files_quoted(ranked, scores, reasons, quoted)
    if similar:  # after the symbols: they weigh each file by its score before this re-weighing
        ranked = _files_by_meaning(ranked, scores, reasons, similar)
    files = tuple(
        RetrievalHit(p, round(scores[p], 4), tuple(dict.fromkeys(reasons.get(p, ())))) for p in ranked[:top]
    )
    return Localization(files, symbols, notes)


def learned_order(
    stage: FirstStage, reorder: Reorder | None
) -> tuple[list[str], dict[str, float], dict[str, list[str]]]:
    """The files in `reorder`'s order (the first stage's without it), each file's score and reasons:
    the files `reorder` scores come first in its order, each taking the first-stage score of the rank
    it moved to (so the symbol stage, which weighs a symbol's file by its score, sees the same scale
    either way)."""
    ranked = stage.ranked()
    scores = dict(stage.scores)
    reasons = {p: list(r) for p, r in stage.reasons.items()}
    if reorder is not None:
        learned = reorder(stage)
        moved = sorted(learned, key=lambda p: (-learned[p], p))
        rest = [p for p in ranked if p not in learned]
        old_scores = [stage.scores[p] for p in ranked]
        ranked = moved + rest
        for path, score in zip(ranked, old_scores, strict=False):
            scores[path] = score
        for path in moved:
            reasons.setdefault(path, []).append("learned rank")
    return ranked, scores, reasons


def _files_quoted(
    ranked: list[str], scores: dict[str, float], reasons: dict[str, list[str]], quoted: Iterable[str]
) -> list[str]:
    """`ranked` with the `quoted` files' scores times 1 + QUOTED_FILE_GAIN, best first again (ties
    keep their order); `scores` and `reasons` of those files updated."""
    for path in quoted:
        scores[path] *= 1 + QUOTED_FILE_GAIN
        reasons.setdefault(path, []).append("the issue quotes a string of it")
    place = {path: i for i, path in enumerate(ranked)}
    return sorted(ranked, key=lambda p: (-scores[p], place[p]))


def _files_shown(
    best: list[str], scores: dict[str, float], reasons: dict[str, list[str]], showing: Collection[str]
) -> None:
    """The `showing` files among `best` (the files the symbol stage drew from) gain
    SHOWING_FILE_WEIGHT in `scores` and a reason; the next step (`_files_quoted`) sorts by score."""
    for path in best:
        if path in showing:
            scores[path] += SHOWING_FILE_WEIGHT
            reasons.setdefault(path, []).append("the issue's example runs it where it shows the issue")


def _files_by_meaning(
    ranked: list[str], scores: dict[str, float], reasons: dict[str, list[str]], similar: Mapping[str, float]
) -> list[str]:
    """`ranked` with its FILES_BY_MEANING best re-ordered by their best symbol's similarity to the
    issue (`similar`: file -> that similarity); `scores` and `reasons` of those files updated."""
    head = ranked[:FILES_BY_MEANING]
    known = [similar[p] for p in head if p in similar]
    if not known:
        return ranked
    sims = [similar.get(p, min(known)) for p in head]
    moved = []
    for i, (path, z) in enumerate(zip(head, _standardized(sims), strict=True)):
        scores[path] = round(scores[path], 4) + FILE_SEMANTIC_WEIGHT * z
        if z >= 1.0:
            reasons.setdefault(path, []).append("like the issue's text")
        moved.append((-scores[path], i, path))
    return [path for _, _, path in sorted(moved)] + ranked[FILES_BY_MEANING:]


def _prior(view: _View, path: str) -> float:
    entry = view.entry(path)
    factor = 1.0 if entry is not None and entry.language in _CODE_LANGUAGES else 0.5
    return factor * (0.5 if _TEST_PATH.search(path) else 1.0)


def _suffix_matches(paths: Iterable[str], suffix: str) -> list[str]:
    suffix = suffix.lstrip("/")
    return [p for p in paths if p == suffix or p.endswith("/" + suffix)]


def _frame_file(paths: list[str], frame_path: str) -> str | None:
    """The indexed file a traceback path points at: the longest path suffix that matches one."""
    parts = frame_path.split("/")
    for i in range(len(parts) - 1):
        found = _suffix_matches(paths, "/".join(parts[i:]))
        if len(found) == 1:
            return found[0]
    return None


def _file_boosts(view: _View, paths: list[str], m: Mentions) -> Iterable[tuple[str, float, str, str]]:
    """(file, boost, why, kind) for each thing the issue names that points at a file."""
    for mentioned in m.paths:
        found = _suffix_matches(paths, mentioned)
        for path in found:
            yield path, (2.0 if "/" in mentioned else 1.5) / len(found), "path named in issue", "path"
    for i, path in enumerate(frames := mentioned_frames(paths, m)):
        yield path, 1.0 if i == len(frames) - 1 else 0.4, "in traceback", "traceback"
    for dotted in m.dotted:
        module, _ = _resolve_module(paths, dotted)
        if module:
            yield module, 0.4, "module named in issue", "module"
    for name, weight in _named_identifiers(m).items():
        defs = {s.file for s in view.symbols_named(name)}
        if 0 < len(defs) <= 10:
            for path in defs:
                yield path, weight / len(defs), f"defines `{name}`", "defines"
    for path, boost, why in _error_boosts(view, m):
        yield path, boost, why, "error"


def mentioned_frames(paths: list[str], m: Mentions) -> list[str]:
    """The indexed files of the issue's traceback frames, in the traceback's order."""
    return [f for f in (_frame_file(paths, fr.path) for fr in m.frames) if f]


def mentioned_files(paths: list[str], m: Mentions) -> set[str]:
    """Every indexed file the issue names: by path, in a traceback, or as a dotted module."""
    named = {p for mentioned in m.paths for p in _suffix_matches(paths, mentioned)}
    named.update(mentioned_frames(paths, m))
    named.update(module for module in (_resolve_module(paths, d)[0] for d in m.dotted) if module)
    return named


def _resolve_module(paths: list[str], dotted: str) -> tuple[str | None, list[str]]:
    """`django.db.models.query.QuerySet.filter` -> ('django/db/models/query.py', ['QuerySet',
    'filter']): the longest prefix that is a module, and the rest."""
    parts = dotted.split(".")
    for i in range(len(parts), 0, -1):
        stem = "/".join(parts[:i])
        found = _suffix_matches(paths, stem + ".py") or _suffix_matches(paths, stem + "/__init__.py")
        if len(found) == 1 and (i > 1 or len(parts) == 1):
            return found[0], parts[i:]
    return None, parts


def _named_identifiers(m: Mentions) -> dict[str, float]:
    """Identifiers the issue names as code, with how strongly: in backticks or code blocks, in a
    dotted name, or in prose but shaped like code (snake_case, CamelCase)."""
    weights: dict[str, float] = {}
    for name in m.identifiers:
        if _CODEISH.match(name):
            weights[name] = 0.3
    for dotted in m.dotted:
        for name in dotted.split("."):
            weights[name] = max(weights.get(name, 0.0), 0.5)
    for name in m.code_identifiers:
        weights[name] = max(weights.get(name, 0.0), 0.6 if len(name) > 3 else 0.2)
    return weights


def _error_boosts(view: _View, m: Mentions) -> Iterable[tuple[str, float, str]]:
    """Files whose text contains a literal piece of an error message from the issue."""
    for _, message in m.errors[:5]:
        pieces = [p.strip() for p in re.split(r"['\"`{}%()\[\]]|\d+", message)]
        pieces = [p for p in pieces if len(p) >= 12 and len(p.split()) >= 2]
        if not pieces:
            continue
        needle = max(pieces, key=len)
        words = set(re.findall(r"[A-Za-z_]\w*", needle))
        for entry in view.entries():
            if entry.terms and all(w in entry.terms for w in words):
                text = view.text(entry.path)
                if text is not None and needle in text:
                    yield entry.path, 0.8, "contains the error message"


@dataclass(frozen=True)
class SymbolCandidate:
    """A symbol of one of the best files, with the signals the symbol stage weighs: the BM25 of its
    own lines against the issue's identifiers (over the best candidate's), its file's score and
    place in the file order, whether a traceback frame is in it, whether the issue names it as a
    dotted `Class.method` tail, how strongly it names its short name otherwise, and whether it names
    a class (or function) the symbol is nested in, whether the issue quotes a string literal of
    its own lines, whether it is a private helper that a function the issue names calls, and
    whether the issue's example called it when it ran (`example_run`)."""

    symbol: Symbol
    bm25: float
    file_score: float
    file_rank: int
    traceback: bool
    dotted: bool
    named: float
    owner_named: bool = False
    quoted: bool = False
    helper: bool = False
    executed: bool = False


def symbol_candidates(
    index: RepoIndex,
    stage: FirstStage,
    files: list[str],
    file_scores: Mapping[str, float],
    executed: Collection[tuple[str, str]] = frozenset(),
) -> list[SymbolCandidate]:
    """Every symbol of `files` (best first) with its signals, for the issue of `stage` (its files as
    that stage saw them: a training query's as they were before its commit); `executed`: the (path,
    qualified name) of the symbols the issue's example called (`example_run.called_symbols`)."""
    view = _View(index, stage.overrides)
    m = stage.mentions
    paths, bm25 = file_bm25(index)
    named = _named_identifiers(m)
    identifiers = set(m.identifiers)
    framed = _framed_symbols(view, paths, m)
    dotted_tails = {".".join(d.split(".")[-2:]) for d in m.dotted}
    issue_text = _plain(stage.issue)
    texts: dict[str, list[str]] = {}
    drawn: list[tuple[Symbol, Counter[str], str, int, bool]] = []
    for rank, path in enumerate(files):
        entry = view.entry(path)
        if entry is None or not entry.symbols:
            continue
        text = view.text(path)
        if text is None:
            continue
        lines = texts[path] = text.splitlines()
        for sym, own in _own_lines(entry.symbols):
            own_text = "\n".join(line for a, b in own for line in lines[a - 1 : b])
            drawn.append((sym, code_terms(own_text), path, rank, _quotes(own_text, issue_text)))
    if not drawn:
        return []
    avg = sum(sum(t.values()) for _, t, _, _, _ in drawn) / len(drawn) or 1.0
    # The issue's identifiers as a set, each of the title's counting 1 + TITLE_WEIGHT times (a symbol
    # that does what the title names is the likelier fix, as a file is in the first stage).
    title = code_terms(issue_title(stage.issue))
    query = {t: 1.0 + (TITLE_WEIGHT if t in title else 0.0) for t in code_terms(" ".join(m.identifiers))}
    raw = []
    for _, terms, _, _, _ in drawn:
        norm = SYMBOL_K1 * (1 - SYMBOL_B + SYMBOL_B * sum(terms.values()) / avg)
        tf = {t: c * (SYMBOL_K1 + 1) / (c + norm) for t, c in terms.items() if t in query}
        raw.append(sum(bm25.idf(t) * v * query[t] for t, v in tf.items()))
    best = max(raw) or 1.0
    out = []
    for (sym, _, path, rank, quoted), s in zip(drawn, raw, strict=True):
        dotted = any(sym.name == t or sym.name.endswith("." + t) for t in dotted_tails)
        in_frames, weight = (path, sym.name) in framed, named.get(sym.short_name, 0.0)
        owner = any(part in identifiers for part in sym.name.split(".")[:-1])
        file_score = file_scores.get(path, 0.0)
        ran = (path, sym.name) in executed
        out.append(SymbolCandidate(sym, s / best, file_score, rank, in_frames, dotted, weight, owner, quoted,
                                   executed=ran))  # fmt: skip
    return _mark_helpers(out, texts)


def _framed_symbols(view: _View, paths: list[str], m: Mentions) -> set[tuple[str, str]]:
    """(file, qualified name) of the symbols the issue's traceback frames are in: the frame's path
    resolved to an indexed file (`_frame_file`), the function of its name there, and of several (a
    file's many `__eq__`) the one whose lines hold the frame's line, else all of them. A frame in
    another library's file pins nothing: its function's name is no evidence about this repository's
    same-named functions."""
    out: set[tuple[str, str]] = set()
    for frame in m.frames:
        path = _frame_file(paths, frame.path)
        entry = view.entry(path) if path is not None else None
        if entry is None:
            continue
        same = [s for s in entry.symbols if s.short_name == frame.function]
        holding = [s for s in same if s.start <= frame.line <= s.end]
        inner = [max(holding, key=lambda s: s.start)] if holding else same
        out.update((entry.path, s.name) for s in inner)
    return out


def _mark_helpers(candidates: list[SymbolCandidate], texts: Mapping[str, list[str]]) -> list[SymbolCandidate]:
    """`candidates` with `helper` set on the private functions (`_name`, not `__dunder__`) that a
    function the issue names (dotted or by its short name) calls, by name, on any of its lines."""
    named = [c for c in candidates if (c.dotted or c.named) and c.symbol.kind != "class"]
    called: set[str] = set()
    for c in named:
        called.update(_CALLED.findall("\n".join(texts[c.symbol.file][c.symbol.start - 1 : c.symbol.end])))
    sources = {id(c) for c in named}
    return [
        replace(c, helper=True)
        if id(c) not in sources and _is_private(c.symbol.short_name) and c.symbol.short_name in called
        else c
        for c in candidates
    ]


def _is_private(name: str) -> bool:
    return name.startswith("_") and not name.startswith("__")


def _plain(text: str) -> str:
    """`text` with its runs of white space as one space, lower case: how a quote is looked for."""
    return _SPACES.sub(" ", text).strip().lower()


def _quotes(code: str, issue_text: str) -> bool:
    """Whether `issue_text` (`_plain`) contains a piece of a string literal of `code` of at least
    QUOTED_MIN_CHARS characters with a word in it (the pieces between format placeholders: the issue
    quotes the message with the values filled in)."""
    for literal in _STRING_LITERAL.finditer(code):
        for piece in _PLACEHOLDER.split(literal.group(2)):
            piece = _plain(piece)
            if len(piece) >= QUOTED_MIN_CHARS and _WORD.search(piece) and piece in issue_text:
                return True
    return False


def hand_score(c: SymbolCandidate) -> tuple[float, list[str]]:
    """The hand-weighted symbol score (the first stage's) and why."""
    score, why = FILE_SCORE_WEIGHT * c.file_score + c.bm25, ["bm25"]
    if c.traceback:
        score += TRACEBACK_WEIGHT
        why.append("in traceback")
    if c.dotted:
        score += DOTTED_WEIGHT
        why.append("named in issue")
    elif c.named:
        score += c.named * NAMED_WEIGHT
        why.append("named in issue")
    if c.owner_named:
        score += OWNER_NAMED
        why.append("in a class the issue names")
    if c.quoted:
        score += QUOTED_WEIGHT
        why.append("the issue quotes a string of it")
    if c.helper:
        score += HELPER_WEIGHT
        why.append("called by a function the issue names")
    if c.executed:
        score += EXECUTED_WEIGHT
        why.append("the issue's example calls it")
    return score, why


def _rank_symbols(index: RepoIndex, stage: FirstStage, files: list[str], file_scores: dict[str, float],
                  top: int, reorder: SymbolReorder | None, semantic: SemanticModel | None = None,
                  on_embed: EmbedProgress | None = None, executed: Collection[tuple[str, str]] = frozenset()
                  ) -> tuple[tuple[SymbolHit, ...], tuple[str, ...], dict[str, float], set[str]]:  # fmt: skip
    """The `top` symbols of `files`, best first, notes (an embedding model that failed), each
    file's best similarity to the issue among the FILE_SIMILAR_FROM best symbols (empty without the
    embedding model), and the files some of whose symbols the issue quotes."""
    candidates = symbol_candidates(index, stage, files, file_scores, executed)
    quoted = {c.symbol.file for c in candidates if c.quoted}
    hits = []
    for c in candidates:
        score, why = hand_score(c)
        sym = c.symbol
        hits.append(SymbolHit(sym.file, sym.name, sym.kind, sym.start, sym.end, round(score, 4), tuple(why)))
    learned = reorder(stage, candidates) if reorder is not None and candidates else None
    if learned:
        hits = [
            SymbolHit(h.file, h.name, h.kind, h.start, h.end, round(score, 4), (*h.reasons, "learned rank"))
            for h, score in zip(hits, learned, strict=True)
        ]
    hits.sort(key=lambda h: (-h.score, h.file, h.start))
    notes: tuple[str, ...] = ()
    similar: dict[str, float] = {}
    if semantic is not None and hits:
        ran = {(c.symbol.file, c.symbol.name, c.symbol.start) for c in candidates if c.executed}
        by_words = _without_example(hits, ran) if ran and not learned else hits
        try:
            hits, similar = _add_semantic(
                index, stage.issue, hits, semantic, on_embed, by_words[: min(SEMANTIC_TOP, FILE_SIMILAR_FROM)]
            )
        except SemanticUnavailable as e:
            logger.warning("symbols keep the hand-weighted order: %s", e)
            notes = (f"symbols ranked without the embedding model: {e}",)
    hits = _by_file_place(hits, files)
    return tuple(_nested_after_functions(_classes_beside_methods(hits))[:top]), notes, similar, quoted


def _by_file_place(hits: list[SymbolHit], files: list[str]) -> list[SymbolHit]:
    """`hits` with FILE_RANK_WEIGHT x ln(1 + their file's place in `files`) taken off their scores,
    best first again. Last, so that the semantic signal re-weighs (and measures the files by) the same
    candidates with or without it."""
    place = {path: i for i, path in enumerate(files)}
    moved = [replace(h, score=round(h.score - FILE_RANK_WEIGHT * math.log1p(place[h.file]), 4)) for h in hits]
    return sorted(moved, key=lambda h: (-h.score, h.file, h.start))


def _classes_beside_methods(hits: list[SymbolHit]) -> list[SymbolHit]:
    """`hits` (best first) with the class of each of the first CLASSES_SHOWN methods whose class is
    further down moved up to just after that method (a class already above its methods stays)."""
    classes = {(h.file, h.name): h for h in hits if h.kind == "class"}
    out: list[SymbolHit] = []
    placed: set[tuple[str, str]] = set()
    shown = 0
    for hit in hits:
        if (hit.file, hit.name) in placed:
            continue
        out.append(hit)
        placed.add((hit.file, hit.name))
        owner = (hit.file, hit.name.rpartition(".")[0])
        if shown < CLASSES_SHOWN and owner in classes and owner not in placed:
            cls = classes[owner]
            out.append(replace(cls, reasons=(*cls.reasons, f"the class of `{hit.name}`")))
            placed.add(owner)
            shown += 1
    return out


def _nested_after_functions(hits: list[SymbolHit]) -> list[SymbolHit]:
    """`hits` (best first) with the functions nested in the first NESTED_SHOWN functions (or methods)
    that have any moved up to just after them, in the order of their lines."""
    by_key = {(h.file, h.name): h for h in hits}
    nested: dict[tuple[str, str], list[SymbolHit]] = {}
    for hit in hits:
        owner = by_key.get((hit.file, hit.name.rpartition(".")[0]))
        if owner is not None and owner.kind in ("function", "method"):
            nested.setdefault((owner.file, owner.name), []).append(hit)
    out: list[SymbolHit] = []
    placed: set[tuple[str, str]] = set()
    shown = 0
    for hit in hits:
        key = (hit.file, hit.name)
        if key in placed:
            continue
        out.append(hit)
        placed.add(key)
        if shown < NESTED_SHOWN and key in nested:
            shown += 1
            for inner in sorted(nested[key], key=lambda h: h.start):
                if (inner.file, inner.name) not in placed:
                    out.append(replace(inner, reasons=(*inner.reasons, f"nested in `{hit.name}`")))
                    placed.add((inner.file, inner.name))
    return out


def _without_example(hits: list[SymbolHit], ran: set[tuple[str, str, int]]) -> list[SymbolHit]:
    """`hits` in the order they would have without the issue's example: EXECUTED_WEIGHT taken off
    the scores of those it called (`ran`: file, name, first line); the order the files' similarity
    is read from."""
    return sorted(
        hits,
        key=lambda h: (-(h.score - EXECUTED_WEIGHT * ((h.file, h.name, h.start) in ran)), h.file, h.start),
    )


def _add_semantic(
    index: RepoIndex,
    issue: str,
    hits: list[SymbolHit],
    semantic: SemanticModel,
    on_embed: EmbedProgress | None,
    file_from: list[SymbolHit],
) -> tuple[list[SymbolHit], dict[str, float]]:
    """`hits` (best first) with the SEMANTIC_TOP best re-scored by their similarity to the issue, and
    the best similarity of each file among `file_from` (the FILE_SIMILAR_FROM best without the issue's
    example: the functions an example calls move the symbols, never the files; drawn from the
    files' symbols the example ran, their similarity re-ordered the best files and lost a gold file at
    @5 for django-11910, `bench/trace_signal.py`)."""
    head, rest = hits[:SEMANTIC_TOP], hits[SEMANTIC_TOP:]
    seen = {(h.file, h.name, h.start) for h in head}
    extra = [h for h in file_from if (h.file, h.name, h.start) not in seen]
    lines: dict[str, list[str]] = {}
    for h in [*head, *extra]:
        if h.file not in lines:
            lines[h.file] = (read_text(index.root, h.file) or "").splitlines()
    texts = [symbol_text(h, lines[h.file]) for h in [*head, *extra]]
    found = semantic.similarities(issue, texts, on_embed)
    sims = found[: len(head)]
    by_key = {(h.file, h.name, h.start): sim for h, sim in zip([*head, *extra], found, strict=True)}
    similar: dict[str, float] = {}
    for h in file_from:
        sim = by_key[h.file, h.name, h.start]
        similar[h.file] = max(similar.get(h.file, sim), sim)
    scored = []
    for h, z in zip(head, _standardized(sims), strict=True):
        why = (*h.reasons, "like the issue's text") if z >= 1.0 else h.reasons
        scored.append(replace(h, score=round(h.score + SEMANTIC_WEIGHT * z, 4), reasons=why))
    scored.sort(key=lambda h: (-h.score, h.file, h.start))
    return scored + rest, similar


def _standardized(values: list[float]) -> list[float]:
    """Each value's distance from their mean in standard deviations (the population's; 1 when they
    are all equal, so equal similarities move nothing): the one scale both re-weighings add."""
    mean = sum(values) / len(values)
    spread = math.sqrt(sum((v - mean) ** 2 for v in values) / len(values)) or 1.0
    return [(v - mean) / spread for v in values]


def _own_lines(symbols: tuple[Symbol, ...]) -> Iterable[tuple[Symbol, list[tuple[int, int]]]]:
    """Each symbol with its line ranges minus those of the symbols nested in it."""
    for sym in symbols:
        children = sorted(
            (c for c in symbols if c is not sym and c.start >= sym.start and c.end <= sym.end
             and c.name.startswith(sym.name + ".") and c.name.count(".") == sym.name.count(".") + 1),
            key=lambda c: c.start,
        )  # fmt: skip
        ranges, start = [], sym.start
        for child in children:
            if child.start > start:
                ranges.append((start, child.start - 1))
            start = max(start, child.end + 1)
        if start <= sym.end:
            ranges.append((start, sym.end))
        yield sym, ranges
