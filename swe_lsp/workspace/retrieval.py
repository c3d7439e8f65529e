"""Ranked files and symbols for an issue: BM25 over code-aware tokens, plus boosts for what the
issue names explicitly (paths, traceback frames, dotted names, identifiers in code, error
messages), then a prior against tests and docs, where fixes rarely go.

Files are ranked first; symbols are then scored inside the best files only (as Agentless does),
each on its own lines (a class on its header and attributes, not on its methods' bodies).
"""

from __future__ import annotations

import math
import re
import weakref
from collections import Counter
from collections.abc import Iterable

from swe_lsp.workspace.bm25 import BM25
from swe_lsp.workspace.files import read_text
from swe_lsp.workspace.index import RepoIndex
from swe_lsp.workspace.mentions import Mentions, find_mentions
from swe_lsp.workspace.model import Localization, RetrievalHit, Symbol, SymbolHit
from swe_lsp.workspace.tokens import code_terms, split_identifier

PATH_WEIGHT = 2  # each path term counts as this many occurrences in its file
FILES_FOR_SYMBOLS = 30
_CODE_LANGUAGES = frozenset({"python", "cython", "c", "cpp", "javascript", "typescript", "go", "rust", "java",
                             "ruby"})  # fmt: skip
_TEST_PATH = re.compile(r"(^|/)(tests?|testing)(/|$)|(^|/)test_[^/]*$|_tests?\.py$|(^|/)conftest\.py$")
_CODEISH = re.compile(r"^(?:[a-z0-9]+_\w+|_\w+|[A-Z]\w*[a-z]\w*[A-Z]\w*|\w*[a-z][A-Z]\w*)$")
_BM25_CACHE: weakref.WeakKeyDictionary[RepoIndex, tuple[int, list[str], BM25]] = weakref.WeakKeyDictionary()


def file_bm25(index: RepoIndex) -> tuple[list[str], BM25]:
    """The file-level BM25 of an index (paths and contents), cached until the index changes."""
    cached = _BM25_CACHE.get(index)
    if cached is not None and cached[0] == index.version:
        return cached[1], cached[2]
    paths, docs = [], []
    for entry in index.files():
        doc = Counter(entry.terms)
        for word in re.findall(r"[A-Za-z_]\w*", entry.path):
            doc[word] += PATH_WEIGHT
        paths.append(entry.path)
        docs.append(doc)
    bm25 = BM25(docs, analyzer=split_identifier)
    _BM25_CACHE[index] = (index.version, paths, bm25)
    return paths, bm25


def retrieve(index: RepoIndex, issue: str, top: int = 10, top_symbols: int = 20) -> Localization:
    """The `top` files and `top_symbols` symbols most likely to need a change for `issue`."""
    paths, bm25 = file_bm25(index)
    mentions = find_mentions(issue)
    query = {t: 1 + math.log(n) for t, n in code_terms(issue).items()}
    raw = bm25.scores(query)
    best = max(raw, default=0.0) or 1.0
    scores = {p: s / best for p, s in zip(paths, raw, strict=True)}
    reasons: dict[str, list[str]] = {p: ["bm25"] for p, s in scores.items() if s > 0}
    for path, boost, why in _file_boosts(index, paths, mentions):
        scores[path] = scores.get(path, 0.0) + boost
        reasons.setdefault(path, []).append(why)
    for path in scores:
        scores[path] *= _prior(index, path)
    ranked = sorted((p for p in scores if scores[p] > 0), key=lambda p: (-scores[p], p))
    files = tuple(
        RetrievalHit(p, round(scores[p], 4), tuple(dict.fromkeys(reasons.get(p, ())))) for p in ranked[:top]
    )
    symbols = _rank_symbols(index, bm25, mentions, ranked[: max(top, FILES_FOR_SYMBOLS)], scores, top_symbols)
    return Localization(files, symbols)


def _prior(index: RepoIndex, path: str) -> float:
    entry = index.file(path)
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


def _file_boosts(index: RepoIndex, paths: list[str], m: Mentions) -> Iterable[tuple[str, float, str]]:
    for mentioned in m.paths:
        found = _suffix_matches(paths, mentioned)
        for path in found:
            yield path, (2.0 if "/" in mentioned else 1.5) / len(found), "path named in issue"
    frame_files = [f for f in (_frame_file(paths, fr.path) for fr in m.frames) if f]
    for i, path in enumerate(frame_files):
        yield path, 1.0 if i == len(frame_files) - 1 else 0.4, "in traceback"
    for dotted in m.dotted:
        module, _ = _resolve_module(paths, dotted)
        if module:
            yield module, 0.4, "module named in issue"
    for name, weight in _named_identifiers(m).items():
        defs = {s.file for s in index.symbols_named(name)}
        if 0 < len(defs) <= 10:
            for path in defs:
                yield path, weight / len(defs), f"defines `{name}`"
    yield from _error_boosts(index, m)


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


def _error_boosts(index: RepoIndex, m: Mentions) -> Iterable[tuple[str, float, str]]:
    """Files whose text contains a literal piece of an error message from the issue."""
    for _, message in m.errors[:5]:
        pieces = [p.strip() for p in re.split(r"['\"`{}%()\[\]]|\d+", message)]
        pieces = [p for p in pieces if len(p) >= 12 and len(p.split()) >= 2]
        if not pieces:
            continue
        needle = max(pieces, key=len)
        words = set(re.findall(r"[A-Za-z_]\w*", needle))
        for entry in index.files():
            if entry.terms and all(w in entry.terms for w in words):
                text = read_text(index.root, entry.path)
                if text is not None and needle in text:
                    yield entry.path, 0.8, "contains the error message"


def _rank_symbols(index: RepoIndex, bm25: BM25, m: Mentions, files: list[str], file_scores: dict[str, float],
                  top: int) -> tuple[SymbolHit, ...]:  # fmt: skip
    named = _named_identifiers(m)
    frame_functions = {f.function for f in m.frames}
    dotted_tails = {".".join(d.split(".")[-2:]) for d in m.dotted}
    candidates: list[tuple[Symbol, Counter[str], float]] = []
    for path in files:
        entry = index.file(path)
        if entry is None or not entry.symbols:
            continue
        text = read_text(index.root, path)
        if text is None:
            continue
        lines = text.splitlines()
        for sym, own in _own_lines(entry.symbols):
            terms = code_terms("\n".join(line for a, b in own for line in lines[a - 1 : b]))
            candidates.append((sym, terms, file_scores.get(path, 0.0)))
    if not candidates:
        return ()
    avg = sum(sum(t.values()) for _, t, _ in candidates) / len(candidates) or 1.0
    query = code_terms(" ".join(m.identifiers))
    raw = []
    for _, terms, _ in candidates:
        norm = 1.2 * (0.25 + 0.75 * sum(terms.values()) / avg)
        raw.append(sum(bm25.idf(t) * c * 2.2 / (c + norm) for t, c in terms.items() if t in query))
    best = max(raw) or 1.0
    hits = []
    for (sym, _, file_score), s in zip(candidates, raw, strict=True):
        score, why = 0.6 * file_score + s / best, ["bm25"]
        if sym.short_name in frame_functions:
            score += 0.8
            why.append("in traceback")
        if any(sym.name == t or sym.name.endswith("." + t) for t in dotted_tails):
            score += 0.8
            why.append("named in issue")
        elif sym.short_name in named:
            score += named[sym.short_name] * 1.5
            why.append("named in issue")
        hits.append(SymbolHit(sym.file, sym.name, sym.kind, sym.start, sym.end, round(score, 4), tuple(why)))
    hits.sort(key=lambda h: (-h.score, h.file, h.start))
    return tuple(hits[:top])


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
