"""The data the workspace layer hands to the stages above it.

Every type here is a frozen dataclass: a `Symbol` found in one index build is the same value the
search stage, the prompts and the trainer see, and nothing downstream can change it behind the
index's back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

SymbolKind = Literal["class", "function", "method", "property"]
FileStatus = Literal["ok", "syntax_error", "binary", "too_large", "decoded_latin1", "unreadable"]


@dataclass(frozen=True)
class Symbol:
    """A class, function or method with its span.

    `name` is qualified by the enclosing definitions (`Outer.Inner.method`, `func.helper`), which is
    how the tool calls and the localization stage name a location. `start` is the first decorator's
    line, so an edit to a decorator still falls inside its symbol; `start`/`end` are 1-based and
    inclusive.
    """

    file: str
    name: str
    kind: SymbolKind
    start: int
    end: int
    signature: str
    docstring: str | None = None

    @property
    def short_name(self) -> str:
        """The last component of the qualified name (what a user or a traceback calls it)."""
        return self.name.rpartition(".")[2]


@dataclass(frozen=True)
class FileIndex:
    """What the index knows of one file, keyed by the digest of its bytes.

    `terms` holds code-aware token counts for retrieval; a file that could not be read as text keeps
    its path (so it is still listed in the tree) with empty `terms` and a `status` saying why.
    """

    path: str
    digest: str
    size: int
    language: str
    status: FileStatus
    lines: int
    symbols: tuple[Symbol, ...] = ()
    terms: Mapping[str, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class RetrievalHit:
    """A ranked file, with the evidence that put it there (`"bm25"`, `"path named in issue"`, ...)."""

    path: str
    score: float
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True)
class SymbolHit:
    """A ranked symbol: where it is, how it scored and why."""

    file: str
    name: str
    kind: SymbolKind
    start: int
    end: int
    score: float
    reasons: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Localization:
    """Retrieval's answer for one issue: files and symbols, best first (a class listed beside its
    best method keeps its own score, and says so in its reasons); `notes`: what went wrong on the way
    that the user should hear (an embedding model that failed: the hand order stands)."""

    files: tuple[RetrievalHit, ...]
    symbols: tuple[SymbolHit, ...]
    notes: tuple[str, ...] = ()

    def to_json(self) -> dict[str, list]:
        """The shape `swe-lsp localize --json` prints: paths and `Class.method` names only."""
        return {
            "files": [hit.path for hit in self.files],
            "symbols": [{"file": hit.file, "name": hit.name} for hit in self.symbols],
        }
