"""Code-aware tokens for retrieval: `get_queryset`, `getQuerySet` and `query_set.py` all yield
pieces an issue written in prose can match.

The index stores raw identifier counts per file (`raw_terms`: one `re` pass and a `Counter`, both
in C), because tokenizing is the largest cost of a cold build after parsing; identifiers are split
into snake_case/camelCase parts only when a query needs them (`split_identifier`, cached), over the
repository's vocabulary rather than over every occurrence.
"""

from __future__ import annotations

import re
from collections import Counter
from functools import lru_cache

_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_PART = re.compile(r"[A-Z]+(?=[A-Z][a-z])|[A-Z]?[a-z]+|[A-Z]+|[0-9]+")
_MIN_LEN = 2
_WORD = re.compile(r"\w+")


def raw_terms(text: str) -> Counter[str]:
    """Identifier counts of a text, case kept (split later by `split_identifier`)."""
    return Counter(_IDENTIFIER.findall(text))


@lru_cache(maxsize=500_000)
def split_identifier(word: str) -> tuple[str, ...]:
    """`getHTTPResponse_code` -> ('gethttpresponse_code', 'get', 'http', 'response', 'code'): the
    whole identifier lowercased, then its parts when it has several."""
    whole = word.lower().strip("_")
    pieces = [whole] if len(whole) >= _MIN_LEN else []
    parts = [p.lower() for p in _PART.findall(word)]
    if len(parts) > 1:
        pieces.extend(p for p in parts if len(p) >= _MIN_LEN and not p.isdigit() and p != whole)
    return tuple(pieces)


def code_terms(text: str) -> Counter[str]:
    """Split term counts of a text (identifiers and their parts): what a query is turned into."""
    counts: Counter[str] = Counter()
    for word, n in raw_terms(text).items():
        for piece in split_identifier(word):
            counts[piece] += n
    return counts


def path_terms(path: str) -> Counter[str]:
    """Terms of a file path: each folder, the file's stem, and their parts (`db/models/query.py` ->
    db, models, query)."""
    name = path.rsplit("/", 1)[-1]
    stem = path[: len(path) - len(name)] + (name.rsplit(".", 1)[0] if "." in name else name)
    return code_terms(stem.replace("/", " "))


def plain_terms(text: str) -> Counter[str]:
    """Lowercased words split at anything but letters, digits and `_`: the plain-BM25 baseline's
    tokenizer, kept to measure what the code-aware one adds."""
    return Counter(map(str.lower, _WORD.findall(text)))
