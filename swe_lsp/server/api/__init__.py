"""The handlers, one module per LSP method or command: this folder's listing is the feature list.

Each module has `register(server)` and states its execution model in its docstring. The rule for
all of them: they run on the event loop and return at once; nothing waits on the engine. Work that
takes longer (indexing, the engine) runs elsewhere and reports back.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from swe_lsp.server.server import SweLspServer

MODULES = (
    "requests.initialize",
    "requests.shutdown",
    "requests.code_action",
    "requests.jobs",
    "requests.candidates",
    "requests.candidate_diff",
    "requests.text_document_content",
    "notifications.initialized",
    "notifications.did_change_configuration",
    "notifications.did_save",
    "notifications.did_change_workspace_folders",
    "notifications.work_done_progress_cancel",
    "commands.resolve_issue",
    "commands.cancel",
    "commands.apply_candidate",
    "commands.discard_job",
    "commands.debug_info",
    "commands.check_environment",
    "commands.cancel_environment_check",
)


def register_all(server: SweLspServer) -> None:
    """Register every handler with the server."""
    for name in MODULES:
        importlib.import_module(f"{__name__}.{name}").register(server)
