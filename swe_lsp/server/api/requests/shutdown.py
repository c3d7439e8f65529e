"""`shutdown`: cancel the queue and the running job, tell the engine worker to stop, stop
indexing, close the store; answered at once.

Execution: event loop, synchronous, without waiting for the worker: editors kill a server that is
slow to answer (eglot after 1.5 s). The worker ends itself and its engine's processes (vLLM's
included) within a few seconds of being told (`swe_lsp.server.worker.end_process_group`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types

if TYPE_CHECKING:
    from swe_lsp.server.server import SweLspServer


def register(server: SweLspServer) -> None:
    @server.feature(types.SHUTDOWN)
    def shutdown(ls: SweLspServer, params: None) -> None:
        ls.close(grace_s=0.0)
