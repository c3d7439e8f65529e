"""`textDocument/codeAction`: an action carrying the issue text when the range is a selection,
touches diagnostics, or the cursor is on a TODO/FIXME comment, and "Resolve issue..." for clients
that can ask for the text. Each action is a `Command` (`swe-lsp.resolveIssue`); no model work
happens here.

Execution: event loop, synchronous; reads only the open document's text (microseconds).

- The generic action's arguments have no `issue`: the editor plugin asks the user for the text and
  runs the command with it (LSP has no way for a server to prompt for free text). A plain client
  cannot, so it is offered only to clients that declare `issuePrompt` (see `ClientFeatures`).
- A range of one line without whitespace is a cursor, not a selection: eglot and others send the
  word (or sexp) at point as the range, and "Resolve issue: quantity" must not be the default
  action. An issue's text is words.
- The diagnostic's action (else the TODO's) is `isPreferred`: the one a client runs by default.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from swe_lsp.server.protocol import RESOLVE_ISSUE

if TYPE_CHECKING:
    from swe_lsp.server.server import SweLspServer

TODO = re.compile(r"\b(TODO|FIXME|XXX|BUG|HACK)\b[:(]?.*", re.IGNORECASE)
_COMMENT_START = re.compile(r"^\s*(#|//|/\*|\*|--|;|<!--)")
_TITLE_CHARS = 60


def _title(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= _TITLE_CHARS else line[: _TITLE_CHARS - 1] + "…"


def selected_text(lines: list[str], rng: types.Range) -> str:
    """The text of a range, with LSP's UTF-16 columns approximated by code points (the selection is
    used as issue text, so a shift by one on astral characters does no harm)."""
    start, end = rng.start, rng.end
    if start.line >= len(lines):
        return ""
    if start.line == end.line:
        return lines[start.line][start.character : end.character]
    parts = [lines[start.line][start.character :]]
    parts += lines[start.line + 1 : min(end.line, len(lines))]
    if end.line < len(lines):
        parts.append(lines[end.line][: end.character])
    return "".join(parts)


def todo_at(lines: list[str], line: int) -> str | None:
    """The TODO/FIXME comment on `line`, with the comment lines that continue it."""
    if line >= len(lines):
        return None
    match = TODO.search(lines[line])
    if match is None or not (
        _COMMENT_START.match(lines[line])
        or "#" in lines[line][: match.start()]
        or "//" in lines[line][: match.start()]
    ):
        return None
    parts = [match.group(0).strip()]
    for following in lines[line + 1 : line + 6]:
        if not _COMMENT_START.match(following) or TODO.search(following):
            break
        parts.append(_COMMENT_START.sub("", following).strip())
    return " ".join(p for p in parts if p)


def _action(
    title: str,
    kind: str,
    args: dict[str, Any],
    diagnostics: list[types.Diagnostic] | None = None,
    preferred: bool | None = None,
) -> types.CodeAction:
    return types.CodeAction(
        title=title,
        kind=kind,
        diagnostics=diagnostics,
        is_preferred=preferred,
        command=types.Command(title=title, command=RESOLVE_ISSUE, arguments=[args]),
    )


_THING_AT_POINT = re.compile(r"\S+")


def is_selection(lines: list[str], rng: types.Range) -> bool:
    """Whether `rng` selects more than a cursor would: not empty, and not one word or sexp."""
    if (rng.start.line, rng.start.character) == (rng.end.line, rng.end.character):
        return False
    return not (rng.start.line == rng.end.line and _THING_AT_POINT.fullmatch(selected_text(lines, rng)))


def code_actions(
    params: types.CodeActionParams, lines: list[str], issue_prompt: bool = True
) -> list[types.CodeAction]:
    """The actions for a document's lines and the request's range and context; "Resolve issue..."
    only when the client can ask for the text (`issue_prompt`)."""
    uri, rng = params.text_document.uri, params.range
    where = {
        "uri": uri,
        "range": {
            "start": {"line": rng.start.line, "character": rng.start.character},
            "end": {"line": rng.end.line, "character": rng.end.character},
        },
    }
    actions: list[types.CodeAction] = []
    if is_selection(lines, rng):
        text = selected_text(lines, rng).strip()
        if text:
            actions.append(
                _action(f"Resolve issue: {_title(text)}", "refactor.rewrite", {**where, "issue": text})
            )
    diagnostics = list(params.context.diagnostics or ())
    if diagnostics:
        text = "\n".join(
            f"{d.source + ': ' if d.source else ''}{d.message} (line {d.range.start.line + 1})"
            for d in diagnostics
        )
        actions.append(
            _action(
                f"Resolve issue: {_title(diagnostics[0].message)}",
                types.CodeActionKind.QuickFix,
                {**where, "issue": text},
                diagnostics,
                preferred=True,
            )
        )
    todo = todo_at(lines, rng.start.line)
    if todo:
        actions.append(
            _action(
                f"Resolve issue: {_title(todo)}",
                "refactor.rewrite",
                {**where, "issue": todo},
                preferred=True if not diagnostics else None,
            )
        )
    if issue_prompt:
        actions.append(_action("Resolve issue...", "refactor.rewrite", where))
    return actions


def register(server: SweLspServer) -> None:
    @server.feature(
        types.TEXT_DOCUMENT_CODE_ACTION,
        types.CodeActionOptions(code_action_kinds=[types.CodeActionKind.QuickFix, "refactor.rewrite"]),
    )
    def code_action(ls: SweLspServer, params: types.CodeActionParams) -> list[types.CodeAction]:
        doc = ls.workspace.text_documents.get(params.text_document.uri)
        lines = doc.lines if doc is not None else []
        return code_actions(params, lines, ls.session.client.issue_prompt)
