"""Idle-time indexing: the workspace index is built when the editor connects and updated when a
file is saved, off the request path, into the cache the engine's snapshot reads."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from lsp_client import editor_session, server_env
from lsprotocol import types

from swe_lsp.workspace import RepoIndex


async def _index_state(ed: Any, files: int) -> dict[str, Any]:
    """debugInfo's index state once it is ready with `files` files (bounded wait, then a failure)."""
    for _ in range(600):
        info = await ed.command("swe-lsp.debugInfo")
        index = info["server"]["index"]
        if index["state"] == "ready" and index["files"] == files:
            return index
        await asyncio.sleep(0.1)
    raise AssertionError(f"the index never reached {files} files: {index}")


async def test_index_is_built_on_connect_and_updated_on_save(workspace: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    async with editor_session(workspace, env=server_env(SWE_LSP_CACHE_DIR=str(cache))) as ed:
        tracked = len([p for p in workspace.iterdir() if p.is_file()])
        await _index_state(ed, tracked)
        (workspace / "shapes.py").write_text("class Circle:\n    def area(self):\n        return 3.14\n")
        uri = (workspace / "shapes.py").as_uri()
        ed.client.text_document_did_save(
            types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=uri))
        )
        await _index_state(ed, tracked + 1)
    # What the server indexed is what a job (or `swe-lsp localize`) loads warm from the cache.
    index = RepoIndex.build_or_load(workspace.resolve(), cache, key=str(workspace.resolve()))
    assert "Circle.area" in {s.name for s in index.symbols()}
