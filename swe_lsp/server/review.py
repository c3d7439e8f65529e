"""Reviewing and applying candidates: the `swe-lsp:` documents, the current texts of the files a
candidate changes, and the `WorkspaceEdit` an apply sends. Pure functions over the store's records
and the editor's documents; nothing here writes a file (only the editor does, on `applyEdit`).

Candidate documents have URIs `swe-lsp:/<jobId>/<rank>/<path>`: the file as the candidate leaves
it; rank `base` is the file as the snapshot had it (the left side of a diff view, which stays
right even after the user has edited the file).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote, unquote

from lsprotocol import types
from pygls.uris import from_fs_path, to_fs_path
from pygls.workspace import Workspace

from swe_lsp.errors import SweLspError
from swe_lsp.patch import Patch, PatchApplyError, PatchParseError, patch_workspace_edit, stale_files
from swe_lsp.search.job import Candidate

SCHEME = "swe-lsp"
BASE = "base"


class ApplyRefused(SweLspError):
    """A candidate cannot be applied as things stand; the message says why and which file."""


def candidate_uri(job_id: str, rank: int | str, path: str) -> str:
    """The `swe-lsp:` URI of one file of one candidate (rank `base`: the snapshot's text)."""
    return f"{SCHEME}:/{quote(job_id, safe='')}/{rank}/{quote(path, safe='/')}"


@dataclass(frozen=True)
class CandidateDoc:
    """What a `swe-lsp:` URI names."""

    job_id: str
    rank: int | None  # None: the snapshot's text
    path: str


def parse_candidate_uri(uri: str) -> CandidateDoc:
    """Read a `swe-lsp:` URI; `ValueError` if it is not one of ours."""
    scheme, _, rest = uri.partition(":")
    if scheme != SCHEME:
        raise ValueError(f"not a {SCHEME}: URI: {uri!r}")
    parts = rest.lstrip("/").split("/", 2)
    if len(parts) != 3 or not all(parts):
        raise ValueError(f"expected {SCHEME}:/<jobId>/<rank>/<path>, got {uri!r}")
    job_id, rank, path = unquote(parts[0]), parts[1], unquote(parts[2])
    if rank == BASE:
        return CandidateDoc(job_id, None, path)
    if not rank.isdigit():
        raise ValueError(f"rank must be a number or '{BASE}' in {uri!r}")
    return CandidateDoc(job_id, int(rank), path)


def candidate_text(
    candidate: Candidate | None, base_texts: Mapping[str, str | None], path: str
) -> str | None:
    """The text of `path` as the candidate (None: as the snapshot) leaves it; None if the file does
    not exist there. Raises `ApplyRefused` if the snapshot text was not recorded."""
    if path not in base_texts:
        raise ApplyRefused(f"{path}: its snapshot text was not kept (the file changed while the job ran)")
    if candidate is None:
        return base_texts[path]
    if path not in candidate.files:
        return base_texts[path]
    try:
        return Patch.parse(candidate.diff).apply({path: base_texts[path]})[path]
    except (PatchParseError, PatchApplyError) as exc:
        raise ApplyRefused(f"candidate {candidate.rank}: {exc}") from exc


@dataclass(frozen=True)
class DocumentState:
    """The current texts (open buffer, else disk; None: absent) and editor versions of some files."""

    texts: Mapping[str, str | None]
    versions: Mapping[str, int]


def current_documents(workspace: Workspace, root: Path, paths: Iterable[str]) -> DocumentState:
    """What the files under `root` hold now: an open document's text wins over the file on disk."""
    open_docs = {}
    for uri, doc in workspace.text_documents.items():
        fs = to_fs_path(uri)
        if fs is not None:
            open_docs[str(Path(fs))] = doc
    texts: dict[str, str | None] = {}
    versions: dict[str, int] = {}
    for path in paths:
        full = root / path
        doc = open_docs.get(str(full))
        if doc is not None:
            texts[path] = doc.source
            if doc.version is not None:
                versions[path] = doc.version
            continue
        texts[path] = read_disk_text(full)
    return DocumentState(texts, versions)


def read_disk_text(path: Path) -> str | None:
    """A file's text exactly as stored (no newline translation); None if it does not exist."""
    try:
        data = path.read_bytes()
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        return None
    # A file that is not UTF-8 cannot match a snapshot hash, so the apply is refused as stale.
    return data.decode("utf-8", "replace")


def open_buffers(workspace: Workspace, root: Path) -> tuple[dict[str, str], dict[str, int]]:
    """Unsaved editor buffers under `root` (relative path -> text) and their versions, for a job's
    snapshot."""
    texts: dict[str, str] = {}
    versions: dict[str, int] = {}
    for uri, doc in workspace.text_documents.items():
        fs = to_fs_path(uri)
        if fs is None:
            continue
        with contextlib.suppress(ValueError):
            rel = Path(fs).relative_to(root).as_posix()
            texts[rel] = doc.source
            if doc.version is not None:
                versions[rel] = doc.version
    return texts, versions


def prepare_apply(
    root: Path,
    candidate: Candidate,
    now: DocumentState,
    hunks: Iterable[str] | None = None,
) -> types.WorkspaceEdit:
    """The edit applying the candidate (or the chosen hunks, ids `path#index` or paths) to the
    current documents, carrying their versions. Refused, naming the files, if any file the candidate
    changes is not what the snapshot had; refused if a hunk id is unknown."""
    stale = stale_files(candidate.base_hashes, now.texts)
    if stale:
        raise ApplyRefused(
            f"Not applied: {', '.join(stale)} changed since the job's snapshot. Run the job again "
            "on the current files, or undo the changes there."
        )
    try:
        patch = Patch.parse(candidate.diff)
        prepared = patch_workspace_edit(
            from_fs_path(str(root)) or root.as_uri(), patch, now.texts, hunks, now.versions
        )
    except (PatchParseError, PatchApplyError) as exc:
        raise ApplyRefused(f"Not applied: {exc}") from exc
    return prepared.edit


def downgrade_edit(edit: types.WorkspaceEdit) -> types.WorkspaceEdit:
    """The same text edits as `changes` (uri -> edits), for a client without `documentChanges`
    support. Refused if the edit creates or deletes files, which only `documentChanges` can say."""
    changes: dict[str, list[types.TextEdit]] = {}
    for change in edit.document_changes or ():
        if not isinstance(change, types.TextDocumentEdit):
            raise ApplyRefused(
                "Not applied: this candidate creates or deletes files, and the editor does not "
                "support that in workspace/applyEdit (documentChanges)."
            )
        changes.setdefault(change.text_document.uri, []).extend(
            e for e in change.edits if isinstance(e, types.TextEdit)
        )
    return types.WorkspaceEdit(changes=changes)
