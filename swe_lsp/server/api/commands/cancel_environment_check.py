"""`swe-lsp.cancelEnvironmentCheck` -> `{cancelled}`: stop the running environment check (false
when none runs). Its `swe-lsp.checkEnvironment` then answers at once with `cancelled: true`; a
build under way finishes in the background and stays cached. For clients without a progress
Cancel button (Neovim never sends `window/workDoneProgress/cancel`).

Execution: event loop, synchronous; sets the check's cancel event.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from swe_lsp.server.api.commands import command
from swe_lsp.server.protocol import CANCEL_ENVIRONMENT_CHECK

if TYPE_CHECKING:
    from swe_lsp.server.server import SweLspServer


def register(server: SweLspServer) -> None:
    @command(server, CANCEL_ENVIRONMENT_CHECK)
    def cancel_environment_check(ls: SweLspServer, raw: list[Any]) -> dict[str, bool]:
        return {"cancelled": ls.env_checks.cancel()}
