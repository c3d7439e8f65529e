"""What the index holds for one file: its bytes turned into a `FileIndex` (status, symbols, terms).

This is the whole of what a fresh index build knows of a file, so retrieval results depend on this
module (with `files`, `tokens` and `pysymbols`) and not on how `index` stores entries or keeps them
current; the localization benchmark keys its cached results accordingly.
"""

from __future__ import annotations

import hashlib
import os

from swe_lsp.workspace.files import decode, language_of
from swe_lsp.workspace.model import FileIndex, Symbol
from swe_lsp.workspace.pysymbols import python_symbols
from swe_lsp.workspace.tokens import raw_terms

# Translation catalogs and vector data repeat the source's strings (every message in every
# language), which would drown the retrieval statistics; they stay listed but carry no terms.
UNSEARCHED_SUFFIXES = frozenset({".po", ".pot", ".svg", ".map", ".lock", ".csv", ".tsv"})


def file_digest(data: bytes) -> str:
    """The content key of a file's bytes (what `FileIndex.digest` holds)."""
    return hashlib.sha1(data).hexdigest()


def extract(rel: str, data: bytes) -> tuple[FileIndex, str | None]:
    """The entry of the file at root-relative `rel` holding `data`, and its decoded text (None when
    it is not text), so a caller can derive more from the text without decoding it again."""
    digest = file_digest(data)
    language = language_of(rel)
    decoded = decode(data)
    if decoded.text is None:
        return FileIndex(rel, digest, len(data), language, decoded.status, 0), None
    text = decoded.text
    status = decoded.status
    symbols: tuple[Symbol, ...] = ()
    terms = {} if os.path.splitext(rel)[1].lower() in UNSEARCHED_SUFFIXES else raw_terms(text)
    if language == "python":
        symbols, parsed = python_symbols(rel, data if status == "ok" else text)
        if not parsed:
            status = "syntax_error"
    entry = FileIndex(rel, digest, len(data), language, status, text.count("\n") + 1, symbols, terms)
    return entry, text
