"""`initialized`: show settings errors from `initialize`, register the `swe-lsp:` content provider
(`workspace/textDocumentContent`, dynamically: pygls does not advertise it), pull the editor's
`swe-lsp` configuration, and start indexing the workspace in the background.

Execution: event loop, async; it awaits the client's answers (registration, configuration) without
blocking other messages. Indexing runs on the indexer's thread.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from lsprotocol import types

from swe_lsp.errors import SweLspError
from swe_lsp.server.review import SCHEME
from swe_lsp.server.session import CONFIG_SECTION

if TYPE_CHECKING:
    from swe_lsp.server.server import SweLspServer

logger = logging.getLogger(__name__)


async def pull_configuration(ls: SweLspServer) -> None:
    """Ask the client for the `swe-lsp` section and take it (showing an invalid value)."""
    if not ls.session.client.configuration:
        return
    scope = ls.root.as_uri() if ls.root else None
    try:
        result = await ls.workspace_configuration_async(
            types.ConfigurationParams(
                items=[types.ConfigurationItem(section=CONFIG_SECTION, scope_uri=scope)]
            )
        )
    except Exception as exc:
        logger.warning("workspace/configuration failed: %s", exc)
        return
    try:
        ls.session.update_client_config(result[0] if result else None)
    except SweLspError as exc:
        ls.show(f"swe-lsp settings: {exc} (the previous settings stay in force)", types.MessageType.Error)


def show_ignored(ls: SweLspServer) -> None:
    """Say which keys of the workspace's own swe-lsp.toml are left out because the folder is not
    trusted (once per key)."""
    if (message := ls.session.unshown_ignored()) is not None:
        logger.warning("%s", message)
        ls.show(message, types.MessageType.Warning)


def register(server: SweLspServer) -> None:
    @server.feature(types.INITIALIZED)
    async def initialized(ls: SweLspServer, params: types.InitializedParams) -> None:
        for message in ls.startup_errors:
            ls.show(message, types.MessageType.Error)
        if ls.session.client.text_document_content:
            try:
                await ls.client_register_capability_async(
                    types.RegistrationParams(
                        registrations=[
                            types.Registration(
                                id="swe-lsp-content",
                                method=types.WORKSPACE_TEXT_DOCUMENT_CONTENT,
                                register_options=types.TextDocumentContentRegistrationOptions(
                                    schemes=[SCHEME]
                                ),
                            )
                        ]
                    )
                )
            except Exception as exc:
                logger.warning("registering the %s: content provider failed: %s", SCHEME, exc)
        await pull_configuration(ls)
        show_ignored(ls)
        ls.index_folders()
