"""The JSON-RPC protocol with the custom `swe-lsp/...` methods, and their names.

pygls turns the params of a method it has no type for into namedtuples (renaming odd keys, dropping
`type_name`). For our methods the handlers want the JSON as sent, to check it field by field and
answer `InvalidParams`, so those messages get types whose `params` are kept raw.
"""

from __future__ import annotations

from typing import Any

import attrs
from cattrs import Converter
from pygls.protocol import LanguageServerProtocol, default_converter

# Requests (client -> server).
JOBS = "swe-lsp/jobs"
CANDIDATES = "swe-lsp/candidates"
CANDIDATE_DIFF = "swe-lsp/candidateDiff"
CUSTOM_REQUESTS = (JOBS, CANDIDATES, CANDIDATE_DIFF)

# Notifications (server -> client).
JOB_UPDATED = "swe-lsp/jobUpdated"
CUSTOM_NOTIFICATIONS = (JOB_UPDATED,)

# Commands (workspace/executeCommand).
RESOLVE_ISSUE = "swe-lsp.resolveIssue"
CANCEL = "swe-lsp.cancel"
APPLY_CANDIDATE = "swe-lsp.applyCandidate"
DISCARD_JOB = "swe-lsp.discardJob"
DEBUG_INFO = "swe-lsp.debugInfo"
CHECK_ENVIRONMENT = "swe-lsp.checkEnvironment"
CANCEL_ENVIRONMENT_CHECK = "swe-lsp.cancelEnvironmentCheck"
COMMANDS = (
    RESOLVE_ISSUE,
    CANCEL,
    APPLY_CANDIDATE,
    DISCARD_JOB,
    DEBUG_INFO,
    CHECK_ENVIRONMENT,
    CANCEL_ENVIRONMENT_CHECK,
)


@attrs.define
class RawRequest:
    """A custom request whose params stay as parsed JSON."""

    id: int | str
    method: str
    jsonrpc: str
    params: Any = None


@attrs.define
class RawNotification:
    """A custom notification whose params stay as parsed JSON."""

    method: str
    jsonrpc: str
    params: Any = None


def _structure(obj: dict[str, Any], cls: type[Any]) -> Any:
    # Extra top-level members are ignored, as JSON-RPC peers commonly do.
    return cls(**{field.name: obj[field.name] for field in attrs.fields(cls) if field.name in obj})


def converter_factory() -> Converter:
    """pygls' converter, plus hooks that keep our custom messages' params raw."""
    converter = default_converter()
    converter.register_structure_hook(RawRequest, _structure)
    converter.register_structure_hook(RawNotification, _structure)
    converter.register_unstructure_hook(RawRequest, attrs.asdict)
    converter.register_unstructure_hook(
        RawNotification, lambda msg: {"method": msg.method, "jsonrpc": msg.jsonrpc, "params": msg.params}
    )
    return converter


class SweLspProtocol(LanguageServerProtocol):
    """LSP plus the `swe-lsp/...` methods with raw params."""

    def get_message_type(self, method: str) -> type[Any] | None:
        if method in CUSTOM_REQUESTS:
            return RawRequest
        if method in CUSTOM_NOTIFICATIONS:
            return RawNotification
        return super().get_message_type(method)
