"""`shutdown`: cancel the queue and the running job, stop the engine worker (it gets a few seconds
to clean up its sandbox, then is killed), stop indexing, close the store.

Execution: event loop, synchronous; it may block up to the worker's grace period, which is fine:
the client waits for nothing else after `shutdown`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types

if TYPE_CHECKING:
    from swe_lsp.server.server import SweLspServer


def register(server: SweLspServer) -> None:
    @server.feature(types.SHUTDOWN)
    def shutdown(ls: SweLspServer, params: None) -> None:
        ls.close()
