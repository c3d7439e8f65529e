"""The language server: "Resolve issue" as a code action and a command, jobs with progress and
cancel, candidate review and apply, and a job store that survives restarts.

Layout (the listing is the feature list; each handler module states its execution model):

- `api/requests/`, `api/notifications/`, `api/commands/`: one module per LSP method or command.
- `server.py`: the server object and `create_server()`; `session.py`: client features, settings.
- `jobs.py`: the queue in front of the one engine; `engine.py` / `worker.py`: the engine worker
  process (the only place torch and the model live); `progress.py`: `$/progress` and
  `swe-lsp/jobUpdated`; `store.py`: the SQLite job store; `review.py`: `swe-lsp:` documents and
  the edits an apply sends; `indexing.py`: idle-time indexing; `params.py`, `views.py`: the JSON
  of the custom surface.

Importing this package is light (no torch, no engine).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from swe_lsp.server.server import SweLspServer, create_server

__all__ = ["SweLspServer", "create_server"]


def __getattr__(name: str) -> Any:
    # Lazy, so that the engine worker (which imports `swe_lsp.server.worker`) loads no pygls.
    if name in __all__:
        from swe_lsp.server import server

        return getattr(server, name)
    raise AttributeError(name)
