"""Find where a SEARCH text sits in a file, tolerating the ways models misquote code.

Strategies, tried in order; the first that finds anything decides (several places is ambiguous,
never a silent first pick):

1. `exact`: the lines as they are.
2. `whitespace`: trailing whitespace ignored, blank lines around the SEARCH text dropped.
3. `reindent`: the SEARCH text re-indented by one consistent shift (the model quoted a method body
   at the wrong depth); the REPLACE text is shifted the same way.
4. `loose`: whitespace inside each line normalized and blank lines ignored; the REPLACE text is
   shifted by the first line's shift. This is SynInfer's last resort; for Python the `ast` check that
   follows catches a wrong guess.

Everything here works on lines without their line endings.
"""

from __future__ import annotations

import difflib
import heapq
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass

_MAX_WINDOWS_SCORED = 10
_LINE_HIT_WEIGHT = 2.0
_TOKEN = re.compile(r"\w+|[^\w\s]")


@dataclass(frozen=True)
class Match:
    """A place `[start, end)` in the file's lines, and the lines that replace it there."""

    start: int
    end: int
    replacement: tuple[str, ...]
    strategy: str


@dataclass(frozen=True)
class _Shift:
    """An indentation change: drop `remove` from the front of a line, then prepend `add`."""

    remove: str = ""
    add: str = ""

    def apply(self, line: str) -> str:
        if not line.strip():
            return line
        if line.startswith(self.remove):
            return self.add + line[len(self.remove) :]
        # The line is less indented than the shift expects: drop what indentation it has.
        return self.add + line.lstrip()


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _shift_between(search_line: str, file_line: str) -> _Shift | None:
    theirs, ours = _indent(search_line), _indent(file_line)
    if ours.endswith(theirs):
        return _Shift("", ours[: len(ours) - len(theirs)])
    if theirs.endswith(ours):
        return _Shift(theirs[: len(theirs) - len(ours)], "")
    return _Shift(theirs, ours)


def _trim_blank_edges(search: list[str], replace: list[str]) -> tuple[list[str], list[str]]:
    """Drop blank lines at both ends of SEARCH, and as many of REPLACE's as SEARCH had."""

    def blank_run(lines: Sequence[str], from_end: bool) -> int:
        seq = reversed(lines) if from_end else iter(lines)
        count = 0
        for line in seq:
            if line.strip():
                break
            count += 1
        return count

    lead, trail = blank_run(search, False), blank_run(search, True)
    if lead == len(search):
        return [], replace
    r_lead = min(lead, blank_run(replace, False))
    r_trail = min(trail, blank_run(replace, True))
    return search[lead : len(search) - trail], replace[r_lead : len(replace) - r_trail]


def _scan(file_lines: Sequence[str], search: Sequence[str], same: Callable[[str, str], bool]) -> list[int]:
    width = len(search)
    return [
        start
        for start in range(len(file_lines) - width + 1)
        if all(same(file_lines[start + k], search[k]) for k in range(width))
    ]


def _exact(file_lines: Sequence[str], search: list[str], replace: list[str]) -> list[Match]:
    starts = _scan(file_lines, search, str.__eq__)
    return [Match(s, s + len(search), tuple(replace), "exact") for s in starts]


def _whitespace(file_lines: Sequence[str], search: list[str], replace: list[str]) -> list[Match]:
    search, replace = _trim_blank_edges(search, replace)
    starts = _scan(file_lines, search, lambda a, b: a.rstrip() == b.rstrip())
    return [Match(s, s + len(search), tuple(replace), "whitespace") for s in starts]


def _reindent(file_lines: Sequence[str], search: list[str], replace: list[str]) -> list[Match]:
    search, replace = _trim_blank_edges(search, replace)
    first = next(k for k, line in enumerate(search) if line.strip())
    matches = []
    for start in _scan(file_lines, search, lambda a, b: a.strip() == b.strip()):
        shift = _shift_between(search[first], file_lines[start + first])
        consistent = all(
            shift.apply(line).rstrip() == file_lines[start + k].rstrip()
            for k, line in enumerate(search)
            if line.strip()
        )
        if consistent:
            shifted = tuple(shift.apply(line) for line in replace)
            matches.append(Match(start, start + len(search), shifted, "reindent"))
    return matches


def _normalize(line: str) -> str:
    return " ".join(line.split())


def _loose(file_lines: Sequence[str], search: list[str], replace: list[str]) -> list[Match]:
    wanted = [line for line in search if line.strip()]
    rows = [k for k, line in enumerate(file_lines) if line.strip()]
    keys = [_normalize(file_lines[k]) for k in rows]
    targets = [_normalize(line) for line in wanted]
    matches = []
    for pos in _scan(keys, targets, str.__eq__):
        start, end = rows[pos], rows[pos + len(targets) - 1] + 1
        shift = _shift_between(wanted[0], file_lines[start])
        shifted = tuple(shift.apply(line) for line in _trim_blank_edges(search, replace)[1])
        matches.append(Match(start, end, shifted, "loose"))
    return matches


_STRATEGIES = (_exact, _whitespace, _reindent, _loose)


def find_matches(file_lines: Sequence[str], search: list[str], replace: list[str]) -> list[Match]:
    """Every place SEARCH matches, by the first strategy that matches at all.

    `search` must contain a non-blank line; an empty list means SEARCH did not match.
    """
    if not any(line.strip() for line in search):
        return []
    for strategy in _STRATEGIES:
        found = strategy(file_lines, search, replace)
        if found:
            return found
    return []


def _tokens(line: str) -> list[str]:
    return _TOKEN.findall(line)


def closest_region(file_lines: Sequence[str], search: Sequence[str]) -> tuple[int, int, float] | None:
    """The window of the file most similar to SEARCH, as (start, end, ratio), for feedback.

    Windows are ranked cheaply first, by prefix sums of a per-line score: a line found verbatim
    (whitespace aside) in SEARCH counts most, then SEARCH's tokens it holds, each weighted by how
    rare it is in the file (an identifier tells more than `self` or `(`). Only the best few windows
    are compared token by token with `difflib`, so a long file costs little.
    """
    wanted = [tok for line in search for tok in _tokens(line)]
    if not wanted or not file_lines:
        return None
    width = min(max(1, len(search)), len(file_lines))
    vocabulary = set(wanted)
    search_lines = {_normalize(line) for line in search if line.strip()}
    line_tokens = [_tokens(line) for line in file_lines]
    counts = Counter(tok for tokens in line_tokens for tok in tokens if tok in vocabulary)
    sums = [0.0]
    for line, tokens in zip(file_lines, line_tokens, strict=True):
        verbatim = _LINE_HIT_WEIGHT if line.strip() and _normalize(line) in search_lines else 0.0
        sums.append(sums[-1] + verbatim + sum(1 / counts[tok] for tok in tokens if tok in vocabulary))
    starts = range(len(file_lines) - width + 1)
    shortlist = heapq.nlargest(_MAX_WINDOWS_SCORED, starts, key=lambda s: (sums[s + width] - sums[s], -s))
    matcher = difflib.SequenceMatcher(None, autojunk=False)
    matcher.set_seq2(wanted)

    def score(start: int) -> float:
        matcher.set_seq1([tok for tokens in line_tokens[start : start + width] for tok in tokens])
        return matcher.ratio()

    ratio, best = max((score(start), -start) for start in shortlist)
    return (-best, -best + width, ratio) if ratio > 0 else None
