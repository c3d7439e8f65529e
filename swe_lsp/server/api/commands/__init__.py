"""`workspace/executeCommand` handlers, one module per command.

`command(server, name)` registers a handler written as `handler(ls, args) -> result` (sync or
async), where `args` is the raw argument list. The adapter has no annotations, so pygls passes the
JSON arguments through untouched; the handler checks them (`params.py`). A `SweLspError` (the user
can fix it) becomes a `window/showMessage` plus a `RequestFailed` error response; bad arguments are
`InvalidParams`; anything else is pygls' `InternalError`. None of them crashes the server.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from lsprotocol import types
from pygls.exceptions import JsonRpcException

from swe_lsp.errors import SweLspError

if TYPE_CHECKING:
    from swe_lsp.server.server import SweLspServer

REQUEST_FAILED = -32803  # LSP's RequestFailed


def command(server: SweLspServer, name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register `fn(ls, args)` as the handler of command `name`."""

    def decorator(fn: Callable[..., Any]) -> Callable[..., Any]:
        async def handler(ls, *args):  # no annotations: pygls keeps args raw
            try:
                result = fn(ls, list(args))
                if inspect.isawaitable(result):
                    result = await result
                return result
            except SweLspError as exc:
                ls.show(str(exc), types.MessageType.Error)
                raise JsonRpcException(str(exc), code=REQUEST_FAILED) from exc

        server.command(name)(handler)
        return fn

    return decorator
