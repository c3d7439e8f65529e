"""`workspace/textDocumentContent` (LSP 3.18) for `swe-lsp:/<jobId>/<rank>/<path>` URIs: a file as
a candidate leaves it (rank `base`: as the snapshot had it), so an editor can open a diff view of
`file://...` (or the `base` document) against the candidate with no code of its own. pygls routes
the method but does not advertise it: `initialized` registers it dynamically for our scheme.

Execution: event loop, synchronous; one SQLite read and applying one file's diff.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types

from swe_lsp.server.params import invalid
from swe_lsp.server.review import ApplyRefused, candidate_text, parse_candidate_uri

if TYPE_CHECKING:
    from swe_lsp.server.server import SweLspServer


def register(server: SweLspServer) -> None:
    @server.feature(types.WORKSPACE_TEXT_DOCUMENT_CONTENT)
    def content(ls: SweLspServer, params: types.TextDocumentContentParams) -> types.TextDocumentContentResult:
        try:
            doc = parse_candidate_uri(params.uri)
        except ValueError as exc:
            raise invalid(str(exc)) from None
        cand = None
        if doc.rank is not None:
            cand = ls.store.candidate(doc.job_id, doc.rank)
            if cand is None:
                raise invalid(f"job {doc.job_id!r} has no candidate {doc.rank}")
        try:
            text = candidate_text(cand, ls.store.base_texts(doc.job_id), doc.path)
        except ApplyRefused as exc:
            raise invalid(str(exc)) from None
        # A file the candidate deletes (or the snapshot lacked) reads as empty.
        return types.TextDocumentContentResult(text=text or "")
