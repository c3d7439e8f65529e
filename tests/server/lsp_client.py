"""A real editor session against `swe-lsp serve` (pytest-lsp), shared by the server tests and the
editor tests; a module of its own, since every test folder has a `conftest` and they would clash."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.protocol import default_converter
from pygls.protocol.json_rpc import JsonRPCNotification, JsonRPCResponseMessage
from pytest_lsp import LanguageClient, client_capabilities
from pytest_lsp.client import register_lsp_features

HERE = Path(__file__).resolve().parent
STAND_IN = "stand_in_engine:resolve"
CLIENTS = {"neovim": "neovim@v0.11.0", "vscode": "visual-studio-code@v1.65.2"}


def _raw_converter():  # the client keeps custom results and notifications as plain JSON
    converter = default_converter()
    converter.register_structure_hook(JsonRPCResponseMessage, lambda obj, cls: cls(**obj))
    converter.register_structure_hook(JsonRPCNotification, lambda obj, cls: cls(**obj))

    # lsprotocol's converter reads a CodeAction that carries a Command as a Command (its `command`
    # field then holds the repr of a dict); real editors tell them apart by the field's type.
    def code_actions(obj: dict[str, Any], cls: type) -> Any:
        items = obj.get("result")
        if items is not None:
            obj = {
                **obj,
                "result": [
                    converter.structure(
                        i,
                        types.CodeAction
                        if isinstance(i.get("command"), dict) or "kind" in i
                        else types.Command,
                    )
                    for i in items
                ],
            }
        return cls(**{k: v for k, v in obj.items() if k in ("id", "jsonrpc", "result")})

    converter.register_structure_hook(types.CodeActionResponse, code_actions)
    return converter


def apply_text_edits(text: str, edits: list[Any]) -> str:
    """Apply LSP TextEdits (ASCII test files: UTF-16 columns are code points) as an editor would."""
    lines = text.split("\n")
    starts = [0]
    for line in lines[:-1]:
        starts.append(starts[-1] + len(line) + 1)

    def offset(pos: types.Position) -> int:
        return starts[pos.line] + pos.character if pos.line < len(starts) else len(text)

    for edit in sorted(edits, key=lambda e: (e.range.start.line, e.range.start.character), reverse=True):
        text = text[: offset(edit.range.start)] + edit.new_text + text[offset(edit.range.end) :]
    return text


class Editor:
    """The editor's side: the client, its notifications, and the edits it applied."""

    def __init__(self, client: LanguageClient, root: Path) -> None:
        self.client = client
        self.root = root
        self.job_updates: list[dict[str, Any]] = []
        self.applied: list[types.ApplyWorkspaceEditParams] = []
        # None: apply edits; "no": answer `applied: false`; "error": answer with an error, as eglot
        # does when the user declines ("User cancelled server edit").
        self.refuse_edits: str | None = None
        self._changed = asyncio.Condition()

        @client.feature("swe-lsp/jobUpdated")
        async def job_updated(params: Any) -> None:
            self.job_updates.append(params)
            async with self._changed:
                self._changed.notify_all()

        @client.feature(types.WORKSPACE_APPLY_EDIT)
        def apply_edit(params: types.ApplyWorkspaceEditParams) -> types.ApplyWorkspaceEditResult:
            if self.refuse_edits == "error":
                raise RuntimeError("User cancelled server edit")
            if self.refuse_edits:
                return types.ApplyWorkspaceEditResult(applied=False, failure_reason="user said no")
            self.applied.append(params)
            edits: dict[str, list[Any]] = {}
            for change in params.edit.document_changes or ():
                assert isinstance(change, types.TextDocumentEdit), change
                edits.setdefault(change.text_document.uri, []).extend(change.edits)
            for uri, more in (params.edit.changes or {}).items():
                edits.setdefault(uri, []).extend(more)
            for uri, file_edits in edits.items():
                path = Path(uri.removeprefix("file://"))
                path.write_text(apply_text_edits(path.read_text(), file_edits))
            return types.ApplyWorkspaceEditResult(applied=True)

    async def request(self, method: str, params: Any) -> Any:
        return await self.client.protocol.send_request_async(method, params)

    async def command(self, name: str, *args: Any) -> Any:
        return await self.client.workspace_execute_command_async(
            types.ExecuteCommandParams(command=name, arguments=list(args))
        )

    async def wait_job(self, job_id: str, states: tuple[str, ...], timeout: float = 600) -> dict[str, Any]:
        """Wait for a `swe-lsp/jobUpdated` of this job in one of `states`."""

        def found() -> dict[str, Any] | None:
            for update in reversed(self.job_updates):
                if update["jobId"] == job_id and update["state"] in states:
                    return update
            return None

        await self.wait_update(lambda: found() is not None, timeout)
        result = found()
        assert result is not None
        return result

    async def wait_stage(self, job_id: str, stages: set[str], timeout: float = 600) -> None:
        """Wait for a `swe-lsp/jobUpdated` of this job in one of `stages`."""
        await self.wait_update(
            lambda: any(u["jobId"] == job_id and u.get("stage") in stages for u in self.job_updates), timeout
        )

    async def wait_update(self, seen: Callable[[], bool], timeout: float) -> None:
        """Wait until `seen()` holds, checked at each `swe-lsp/jobUpdated` (a generous timeout only
        turns a hang into a failure; nothing asserts on time)."""
        async with self._changed:
            await asyncio.wait_for(self._changed.wait_for(seen), timeout)

    def open(self, rel: str, text: str | None = None, version: int = 1) -> str:
        uri = (self.root / rel).as_uri()
        self.client.text_document_did_open(
            types.DidOpenTextDocumentParams(
                text_document=types.TextDocumentItem(
                    uri=uri, language_id="python", version=version, text=text or (self.root / rel).read_text()
                )
            )
        )
        return uri


def server_env(**extra: str) -> dict[str, str]:
    """The servers' environment: ours without SWE_LSP_ settings, the stand-in engine importable,
    and a worker of each server's own (the shared engine outlives its windows by design: its own
    tests, test_shared_engine.py, turn it on and stop it)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWE_LSP_")}
    env["PYTHONPATH"] = os.pathsep.join([str(HERE), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    env["SWE_LSP_MODEL__SHARED_ENGINE"] = "false"
    env.update(extra)
    return env


@contextlib.asynccontextmanager
async def editor_session(
    root: Path,
    client: str = "neovim",
    engine: str | None = STAND_IN,
    init_options: Any = None,
    env: dict[str, str] | None = None,
    content_provider: bool = True,
    configuration: dict[str, Any] | None = None,
    issue_prompt: bool = True,
    folders: list[Path] | None = None,
) -> AsyncIterator[Editor]:
    """A real server subprocess initialized by a client with `client`'s capabilities; with
    `issue_prompt`, the client says it asks for an issue's text (as the extension and the plugin
    do; a plain client does not)."""
    lsp = LanguageClient(converter_factory=_raw_converter, configuration=configuration)
    register_lsp_features(lsp)
    editor = Editor(lsp, root)
    cmd = [sys.executable, "-m", "swe_lsp", "serve"] + (["--engine", engine] if engine else [])
    await lsp.start_io(*cmd, env=env or server_env())
    caps = client_capabilities(CLIENTS[client])
    if content_provider:  # what vscode-languageclient 11 announces (the snapshot is VS Code 1.65)
        caps.workspace.text_document_content = types.TextDocumentContentClientCapabilities(
            dynamic_registration=True
        )
    if issue_prompt:
        caps.experimental = {"swe-lsp": {"issuePrompt": True}}
    registrations: list[types.RegistrationParams] = []

    @lsp.feature(types.CLIENT_REGISTER_CAPABILITY)
    def register_capability(params: types.RegistrationParams) -> None:
        registrations.append(params)

    editor.registrations = registrations  # type: ignore[attr-defined]
    await lsp.initialize_session(
        types.InitializeParams(
            capabilities=caps,
            root_uri=root.as_uri(),
            workspace_folders=[types.WorkspaceFolder(uri=f.as_uri(), name=f.name) for f in folders or [root]],
            initialization_options=init_options,
        )
    )
    try:
        yield editor
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(lsp.shutdown_session(), 30)
        await lsp.stop()


def wait_until_pid_gone(pid: int, seconds: float = 10.0) -> bool:
    """Whether `pid` is gone (or a zombie) within `seconds`."""
    import time

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
            stat = Path(f"/proc/{pid}/stat").read_text()
            if stat.split(")")[-1].split()[0] == "Z":
                return True
        except (ProcessLookupError, FileNotFoundError):
            return True
        time.sleep(0.1)
    return False
