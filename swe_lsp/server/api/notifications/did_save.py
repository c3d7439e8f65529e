"""`textDocument/didSave`: re-index the saved file in the background, so the next job starts warm.

Execution: event loop, synchronous; it only queues the path for the indexer's thread.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from lsprotocol import types
from pygls.uris import to_fs_path

if TYPE_CHECKING:
    from swe_lsp.server.server import SweLspServer


def register(server: SweLspServer) -> None:
    @server.feature(types.TEXT_DOCUMENT_DID_SAVE)
    def did_save(ls: SweLspServer, params: types.DidSaveTextDocumentParams) -> None:
        path = to_fs_path(params.text_document.uri)
        if path is not None and ls.root is not None:
            ls.indexer.update([Path(path)])
