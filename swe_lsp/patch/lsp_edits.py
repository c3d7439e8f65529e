"""Turn a patch (or the hunks the user accepted) into an LSP `WorkspaceEdit` the editor applies.

Edits are minimal, one `TextEdit` per changed region with the unchanged prefix and suffix trimmed,
so that the editor keeps cursors, folds and undo history outside what really changed. Positions
count UTF-16 code units (the LSP default encoding): an emoji before an edit moves it by two. Each
prepared edit carries a hash of the text it was computed against, so the server can refuse to apply
it to a file the user has changed since the snapshot.
"""

from __future__ import annotations

import bisect
import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from urllib.parse import quote

from lsprotocol.types import (
    CreateFile,
    CreateFileOptions,
    DeleteFile,
    OptionalVersionedTextDocumentIdentifier,
    Position,
    Range,
    TextDocumentEdit,
    TextEdit,
    WorkspaceEdit,
)

from swe_lsp.patch.diff import Patch
from swe_lsp.patch.text import content_hash, split_lines, utf16_len

_LINE_BREAK = re.compile(r"\r\n|\r|\n")


class _Positions:
    """Character offsets of one text mapped to LSP positions (its line breaks: `\\n`, `\\r\\n`, `\\r`)."""

    def __init__(self, text: str) -> None:
        self._text = text
        self._starts = [0] + [m.end() for m in _LINE_BREAK.finditer(text)]

    def at(self, offset: int) -> Position:
        line = bisect.bisect_right(self._starts, offset) - 1
        return Position(line=line, character=utf16_len(self._text[self._starts[line] : offset]))


def _common_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    # Never cut a `\r\n` in two: an LSP position cannot fall inside a line break.
    if n and a[n - 1] == "\r" and a[n : n + 1] == "\n":
        n -= 1
    return n


def _common_suffix(a: str, b: str, limit: int) -> int:
    n = 0
    while n < limit and a[len(a) - 1 - n] == b[len(b) - 1 - n]:
        n += 1
    if n and a[len(a) - n] == "\n" and a[len(a) - n - 1 : len(a) - n] == "\r":
        n -= 1
    return n


def text_edits(original: str, new: str) -> list[TextEdit]:
    """The minimal `TextEdit`s, in document order and not overlapping, that turn `original` into `new`."""
    old_lines, new_lines = split_lines(original), split_lines(new)
    offsets = [0]
    for line in old_lines:
        offsets.append(offsets[-1] + len(line))
    positions = _Positions(original)
    matcher = difflib.SequenceMatcher(None, old_lines, new_lines, autojunk=False)
    edits = []
    for tag, i1, i2, j1, j2 in matcher.get_opcodes():
        if tag == "equal":
            continue
        old, replacement = "".join(old_lines[i1:i2]), "".join(new_lines[j1:j2])
        prefix = _common_prefix(old, replacement)
        suffix = _common_suffix(old, replacement, min(len(old), len(replacement)) - prefix)
        start, end = offsets[i1] + prefix, offsets[i2] - suffix
        edits.append(
            TextEdit(
                range=Range(start=positions.at(start), end=positions.at(end)),
                new_text=replacement[prefix : len(replacement) - suffix],
            )
        )
    return edits


def document_uri(root_uri: str, path: str) -> str:
    """The `file:` URI of repository path `path` under the workspace folder `root_uri`."""
    return f"{root_uri.rstrip('/')}/{quote(path, safe='/')}"


@dataclass(frozen=True)
class PreparedEdit:
    """A `WorkspaceEdit` for `workspace/applyEdit`, and what the files were when it was computed.

    `base_hashes` maps each path to `content_hash` of the text the edit expects (None: the file must
    not exist); check them with `stale_files` against the documents right before applying.
    """

    edit: WorkspaceEdit
    base_hashes: Mapping[str, str | None]


def workspace_edit(
    root_uri: str,
    original_texts: Mapping[str, str | None],
    new_texts: Mapping[str, str | None],
    versions: Mapping[str, int] | None = None,
) -> PreparedEdit:
    """The edit that turns `original_texts` into `new_texts` (None: absent) under `root_uri`.

    Only paths in `new_texts` are considered. `versions` are the document versions of files open in
    the editor (others get version None, which LSP reads as "the file on disk"). A new file is a
    `CreateFile` followed by an edit inserting its text; a deleted file is a `DeleteFile`.
    """
    versions = versions or {}
    changes: list[TextDocumentEdit | CreateFile | DeleteFile] = []
    hashes: dict[str, str | None] = {}
    for path in sorted(new_texts):
        old, new = original_texts.get(path), new_texts[path]
        if old == new:
            continue
        uri = document_uri(root_uri, path)
        hashes[path] = content_hash(old)
        if new is None:
            changes.append(DeleteFile(uri=uri))
            continue
        if old is None:
            changes.append(CreateFile(uri=uri, options=CreateFileOptions(overwrite=False)))
            edits = [TextEdit(range=Range(start=Position(0, 0), end=Position(0, 0)), new_text=new)]
            document = OptionalVersionedTextDocumentIdentifier(uri=uri, version=None)
        else:
            edits = text_edits(old, new)
            document = OptionalVersionedTextDocumentIdentifier(uri=uri, version=versions.get(path))
        changes.append(TextDocumentEdit(text_document=document, edits=edits))
    return PreparedEdit(WorkspaceEdit(document_changes=changes), hashes)


def patch_workspace_edit(
    root_uri: str,
    patch: Patch,
    original_texts: Mapping[str, str | None],
    hunk_ids: Iterable[str] | None = None,
    versions: Mapping[str, int] | None = None,
) -> PreparedEdit:
    """The edit for `patch`, or only for the hunks named in `hunk_ids` (the ones the user accepted).

    Raises `PatchApplyError` if the (selected) patch does not apply to `original_texts`.
    """
    selected = patch if hunk_ids is None else patch.select(hunk_ids)
    return workspace_edit(root_uri, original_texts, selected.apply(original_texts), versions)


def stale_files(
    base_hashes: Mapping[str, str | None], current_texts: Mapping[str, str | None]
) -> tuple[str, ...]:
    """The paths whose current text (None or missing: absent) is not the one the edit was made for.

    A non-empty answer means: do not apply; tell the user which files changed since the snapshot.
    """
    return tuple(
        sorted(
            path
            for path, expected in base_hashes.items()
            if content_hash(current_texts.get(path)) != expected
        )
    )
