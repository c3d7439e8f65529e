"""`workspace/didChangeWorkspaceFolders`: pygls updates the workspace's folders; an added folder is
indexed in the background, so its first job starts warm. Jobs go to the folder of their file
(`SweLspServer.folder_for`).

Execution: event loop, synchronous; it only queues work for the indexer's thread.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from lsprotocol import types
from pygls.uris import to_fs_path

if TYPE_CHECKING:
    from swe_lsp.server.server import SweLspServer


def register(server: SweLspServer) -> None:
    @server.feature(types.WORKSPACE_DID_CHANGE_WORKSPACE_FOLDERS)
    def did_change_workspace_folders(ls: SweLspServer, params: types.DidChangeWorkspaceFoldersParams) -> None:
        for folder in params.event.added or ():
            path = to_fs_path(folder.uri)
            if path is not None and Path(path).is_dir():
                ls.index_folder(Path(path))
