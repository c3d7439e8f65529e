"""`swe-lsp/candidates {jobId}` -> `{jobId, state, candidates: [...]}`: the ranked candidates, each
with its score, verification evidence, unified diff, hunks (ids for a partial apply), the
`swe-lsp:` documents to diff against (`{path: {base, candidate}}`), and the `WorkspaceEdit` that
would apply it to the files as they are now (None with `editError` when a file changed since the
snapshot). An unknown job is `InvalidParams`.

Execution: event loop, synchronous; reads the store and the touched files (open buffers, else a
disk read per file), and builds edits with difflib: milliseconds for a usual patch.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from swe_lsp.patch import Patch, PatchParseError
from swe_lsp.server.params import JobArgs, invalid
from swe_lsp.server.protocol import CANDIDATES
from swe_lsp.server.review import BASE, ApplyRefused, candidate_uri, current_documents, prepare_apply
from swe_lsp.server.views import candidate_view

if TYPE_CHECKING:
    from pathlib import Path

    from swe_lsp.search.job import Candidate
    from swe_lsp.server.server import SweLspServer


def _hunks(cand: Candidate) -> list[dict[str, Any]]:
    try:
        hunks = Patch.parse(cand.diff).hunks()
    except PatchParseError:
        return []
    return [
        {
            "id": h.id,
            "path": h.path,
            "header": h.header,
            "sourceStart": h.source_start,
            "sourceLength": h.source_length,
        }
        for h in hunks
    ]


def view(ls: SweLspServer, root: Path, job_id: str, cand: Candidate) -> dict[str, Any]:
    """One candidate's view, its edit computed against the documents as they are now."""
    uris = {
        p: {"base": candidate_uri(job_id, BASE, p), "candidate": candidate_uri(job_id, cand.rank, p)}
        for p in cand.files
    }
    edit, error = None, None
    try:
        now = current_documents(ls.workspace, root, cand.base_hashes)
        edit = ls.protocol._converter.unstructure(prepare_apply(root, cand, now))
    except ApplyRefused as exc:
        error = str(exc)
    return candidate_view(cand, uris, _hunks(cand), edit, error)


def register(server: SweLspServer) -> None:
    @server.feature(CANDIDATES)
    def candidates(ls: SweLspServer, params: Any) -> dict[str, Any]:
        args = JobArgs.parse(params, CANDIDATES)
        record = ls.store.job(args.job_id)
        if record is None:
            raise invalid(f"{CANDIDATES}: no job {args.job_id!r}")
        from pathlib import Path

        root = Path(record.workspace)
        cands = ls.store.candidates(args.job_id)
        return {
            "jobId": args.job_id,
            "state": record.state,
            "candidates": [view(ls, root, args.job_id, c) for c in cands],
        }
