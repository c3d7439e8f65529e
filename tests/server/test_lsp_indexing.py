"""Idle-time indexing: the workspace index is built when the editor connects and updated when a
file is saved, off the request path, into the cache the engine's snapshot reads."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

from lsp_client import editor_session, server_env, wait_until_pid_gone
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


async def test_the_index_is_built_in_a_process_that_ends_with_the_server(
    workspace: Path, tmp_path: Path
) -> None:
    """A cold build runs in the indexer's own process (never in the server's interpreter), which
    ends when the server shuts down, and also when the server is killed."""
    env = server_env(SWE_LSP_CACHE_DIR=str(tmp_path / "cache"))
    async with editor_session(workspace, env=env) as ed:
        index = await _index_state(ed, len([p for p in workspace.iterdir() if p.is_file()]))
        server = (await ed.command("swe-lsp.debugInfo"))["server"]["pid"]
        assert index["pid"] not in (None, server)
    assert wait_until_pid_gone(index["pid"], 30), "the indexer outlived the server"

    async with editor_session(workspace, env=env) as ed:
        index = await _index_state(ed, len([p for p in workspace.iterdir() if p.is_file()]))
        os.kill((await ed.command("swe-lsp.debugInfo"))["server"]["pid"], signal.SIGKILL)
        assert wait_until_pid_gone(index["pid"], 30), "the indexer outlived a killed server"


async def test_a_failed_build_is_shown_and_the_server_goes_on(workspace: Path, tmp_path: Path) -> None:
    """An index that cannot be written (the cache is a file) fails in the indexer process: the
    state says so and requests are still answered."""
    cache = tmp_path / "cache"
    cache.write_text("not a folder")
    async with editor_session(workspace, env=server_env(SWE_LSP_CACHE_DIR=str(cache))) as ed:
        for _ in range(600):
            index = (await ed.command("swe-lsp.debugInfo"))["server"]["index"]
            if index["state"] == "failed":
                break
            await asyncio.sleep(0.1)
        assert index["state"] == "failed", index
        assert index["pid"] is not None  # the process lives on for the next build


def _frame(message: dict[str, Any]) -> bytes:
    body = json.dumps(message).encode()
    return b"Content-Length: %d\r\n\r\n" % len(body) + body


def test_a_clean_exit_leaves_no_traceback(workspace: Path, tmp_path: Path) -> None:
    """initialize, initialized, shutdown, exit from a plain client: the server (with its worker and
    indexer started) exits 0 and its log holds no traceback."""
    root = workspace.resolve().as_uri()
    messages = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {"rootUri": root, "capabilities": {}}},
        {"jsonrpc": "2.0", "method": "initialized", "params": {}},
        {"jsonrpc": "2.0", "id": 2, "method": "shutdown"},
        {"jsonrpc": "2.0", "method": "exit"},
    ]
    env = server_env(SWE_LSP_CACHE_DIR=str(tmp_path / "cache"))
    done = subprocess.run(
        [sys.executable, "-m", "swe_lsp", "serve"],
        input=b"".join(map(_frame, messages)),
        capture_output=True,
        env=env,
        timeout=60,
    )
    log = done.stderr.decode(errors="replace")
    assert done.returncode == 0, log
    assert "Traceback" not in log, log


async def _semantic_state(ed: Any, root: Path) -> dict[str, Any]:
    """debugInfo's embedding-ahead state of `root` once it is over (bounded wait)."""
    for _ in range(1200):
        state = (await ed.command("swe-lsp.debugInfo"))["server"]["index"]["semantic"].get(
            str(root.resolve()), {}
        )
        if state.get("state") not in (None, "waiting", "embedding"):
            return state
        await asyncio.sleep(0.1)
    raise AssertionError(f"embedding ahead never ended: {state}")


async def test_symbols_are_embedded_ahead_with_progress(workspace: Path, tmp_path: Path) -> None:
    """After the build, the indexer embeds the folder's symbols for the jobs (the semantic signal),
    with a progress bar, and stores them under the cache for every later process."""
    functions = "".join(f"def step_{i}(x):\n    return x + {i}\n\n\n" for i in range(40))
    (workspace / "steps.py").write_text(functions)
    cache = tmp_path / "cache"
    async with editor_session(workspace, env=server_env(SWE_LSP_CACHE_DIR=str(cache))) as ed:
        state = await _semantic_state(ed, workspace)
        assert state["state"] == "done" and state["embedded"] == state["total"] >= 40, state
        bars = {t: r for t, r in ed.client.progress_reports.items() if str(t).startswith("swe-lsp/embed:")}
        (begin, *reports, end), *others = bars.values()
        assert not others
        assert begin.title == f"Embedding the symbols of {workspace.name}"
        assert reports and all(r.message.endswith(" symbols") for r in reports), reports
        assert end.message == f"{state['embedded']} symbols embedded, 0 already stored"
    assert list((cache / "semantic").glob("*.sqlite3"))
    # The next session finds them stored.
    async with editor_session(workspace, env=server_env(SWE_LSP_CACHE_DIR=str(cache))) as ed:
        again = await _semantic_state(ed, workspace)
        assert again["state"] == "done" and again["embedded"] == 0 and again["stored"] == state["total"]


async def test_turning_the_semantic_ranker_on_and_off_starts_and_stops_embedding(
    workspace: Path, tmp_path: Path
) -> None:
    """The setting takes effect when it changes, not at the next editor start: on, the folder's
    symbols are embedded ahead; off again, that work stops and its bar ends saying why."""
    functions = "".join(f"def step_{i}(x):\n    return x + {i}\n\n\n" for i in range(3000))
    (workspace / "steps.py").write_text(functions)
    env = server_env(SWE_LSP_CACHE_DIR=str(tmp_path / "cache"))
    off = {"search": {"semantic_ranker": False}}
    async with editor_session(workspace, init_options=off, env=env) as ed:
        await _index_state(ed, len([p for p in workspace.iterdir() if p.is_file()]))
        assert await _semantic_state(ed, workspace) == {"state": "off"}

        def push(config: dict[str, Any]) -> None:
            ed.client.workspace_did_change_configuration(
                types.DidChangeConfigurationParams(settings={"swe-lsp": config})
            )

        def bars() -> list[list[Any]]:
            return [r for t, r in ed.client.progress_reports.items() if str(t).startswith("swe-lsp/embed:")]

        push({"search": {"semantic_ranker": True}})
        for _ in range(3000):  # the model loads, then the bar reports its first symbols
            if any(len(reports) > 1 for reports in bars()):
                break
            await asyncio.sleep(0.1)
        push(off)
        for _ in range(3000):  # the batch at hand ends, then the queue
            state = (await ed.command("swe-lsp.debugInfo"))["server"]["index"]["semantic"][
                str(workspace.resolve())
            ]
            if "stopped" in state:
                break
            await asyncio.sleep(0.1)
        assert state["state"] == state["stopped"] == "off" and 0 < state["embedded"] < state["total"], state
        (reports,) = bars()
        assert reports[-1].kind == "end", reports
        assert reports[-1].message.startswith("stopped (search.semantic_ranker is off): "), reports[-1]


async def test_semantic_ranker_off_embeds_nothing(workspace: Path, tmp_path: Path) -> None:
    env = server_env(SWE_LSP_CACHE_DIR=str(tmp_path / "cache"), SWE_LSP_SEARCH__SEMANTIC_RANKER="false")
    async with editor_session(workspace, env=env) as ed:
        await _index_state(ed, len([p for p in workspace.iterdir() if p.is_file()]))
        assert await _semantic_state(ed, workspace) == {"state": "off"}
    assert not (tmp_path / "cache" / "semantic").exists()
