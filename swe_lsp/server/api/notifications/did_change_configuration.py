"""`workspace/didChangeConfiguration`: take pushed settings (`{"swe-lsp": {...}}`), or, when the
client pushes nothing (the pull model), ask for them with `workspace/configuration`. An invalid
value is shown naming the key; the last good settings stay in force. When the settings the
background indexing follows change (`SweLspServer.indexing_settings`), the folders are built again.

Execution: event loop, async (awaits the client's configuration answer only).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING

from lsprotocol import types

from swe_lsp.errors import SweLspError
from swe_lsp.server.api.notifications.initialized import pull_configuration, show_ignored
from swe_lsp.server.session import CONFIG_SECTION

if TYPE_CHECKING:
    from swe_lsp.server.server import SweLspServer

logger = logging.getLogger(__name__)


def register(server: SweLspServer) -> None:
    @server.feature(types.WORKSPACE_DID_CHANGE_CONFIGURATION)
    async def did_change_configuration(ls: SweLspServer, params: types.DidChangeConfigurationParams) -> None:
        before = ls.indexing_settings()
        pushed = params.settings
        if isinstance(pushed, Mapping) and CONFIG_SECTION in pushed:
            try:
                ls.session.update_client_config(pushed[CONFIG_SECTION])
            except SweLspError as exc:
                ls.show(
                    f"swe-lsp settings: {exc} (the previous settings stay in force)", types.MessageType.Error
                )
        else:
            await pull_configuration(ls)
        show_ignored(ls)
        if ls.indexing_settings() != before:
            logger.info("the indexing settings changed: the folders are built again")
            ls.index_folders()
