"""`initialize`: take the workspace root, the client's features and the settings; open the job store.

Execution: event loop, synchronous. Reads the `swe-lsp.toml` files and opens SQLite (milliseconds);
no engine, no index, no model (those start later, in the background or on the first job). A bad
setting does not fail `initialize`: it is shown once the client is ready, and the settings without
it stay in force.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from lsprotocol import types
from pygls.uris import to_fs_path

from swe_lsp.errors import SweLspError
from swe_lsp.server.session import ClientFeatures

if TYPE_CHECKING:
    from swe_lsp.server.server import SweLspServer


def workspace_root(params: types.InitializeParams) -> Path | None:
    """The first workspace folder, else `rootUri`, else `rootPath`."""
    uris = [f.uri for f in params.workspace_folders or ()] + [params.root_uri or ""]
    for uri in uris:
        if uri and uri.startswith("file:") and (path := to_fs_path(uri)):
            return Path(path)
    return Path(params.root_path) if params.root_path else None


def register(server: SweLspServer) -> None:
    @server.feature(types.INITIALIZE)
    def initialize(ls: SweLspServer, params: types.InitializeParams) -> None:
        ls.session.client = ClientFeatures.of(params.capabilities)
        if params.client_info is not None:
            ls.session.client_name = f"{params.client_info.name} {params.client_info.version or ''}".strip()
        try:
            ls.session.initialize(workspace_root(params), params.initialization_options)
        except SweLspError as exc:
            ls.startup_errors.append(f"swe-lsp settings: {exc}")
        try:
            ls.store  # noqa: B018 -- open it now: marks jobs a killed server left running
        except SweLspError as exc:
            ls.startup_errors.append(str(exc))
