"""`swe-lsp.checkEnvironment` and `swe-lsp.cancelEnvironmentCheck` through the real server: bad
arguments, no sandbox, and (Docker) a real check with `$/progress` and per-test results."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import pytest
from lsp_client import editor_session, server_env
from pygls.exceptions import JsonRpcException
from tiny_project import TINY_PROJECT, write_files

CHECK = "swe-lsp.checkEnvironment"
CANCEL = "swe-lsp.cancelEnvironmentCheck"
# Offline builds: the base image's pytest is all the check needs, and it takes seconds.
DOCKER = {"sandbox": {"kind": "docker", "build_network": False}}


def tiny(root: Path) -> Path:
    return write_files(root, TINY_PROJECT)


async def test_bad_arguments_and_cancel_with_nothing_running(tmp_path: Path) -> None:
    async with editor_session(tiny(tmp_path)) as ed:
        with pytest.raises(JsonRpcException, match="'tests' must be a list of test ids"):
            await ed.command(CHECK, {"tests": "tests/test_calc.py"})
        with pytest.raises(JsonRpcException, match="'workDoneToken' must be"):
            await ed.command(CHECK, {"workDoneToken": True})
        assert await ed.command(CANCEL) == {"cancelled": False}


async def test_no_sandbox_is_a_clear_error(tmp_path: Path) -> None:
    env = server_env(DOCKER_HOST="unix:///nonexistent/docker.sock")
    async with editor_session(tiny(tmp_path), init_options=DOCKER, env=env) as ed:
        with pytest.raises(JsonRpcException, match="Docker engine does not answer"):
            await ed.command(CHECK)
        shown = [m.message for m in ed.client.messages]
        assert any("Docker engine does not answer" in m for m in shown)
        assert await ed.command(CANCEL) == {"cancelled": False}  # nothing left running


@pytest.mark.docker
@pytest.mark.parametrize("client", ["neovim", "vscode"])
async def test_a_check_reports_progress_and_each_test(tmp_path: Path, client: str) -> None:
    async with editor_session(tiny(tmp_path), client, init_options=DOCKER) as ed:
        token = f"client-token-{client}"
        ed.client.progress_reports[token] = []
        result = await asyncio.wait_for(ed.command(CHECK, {"workDoneToken": token}), 600)
        assert {r["id"]: r["status"] for r in result["tests"]["results"]} == {
            "tests/test_calc.py::test_add": "passed",
            "tests/test_calc.py::test_wrong": "failed",
        }
        assert result["python"]["chosen"] == "3.11" and result["runner"]["name"] == "pytest"
        assert result["build"]["error"] is None and result["ok"] is False
        assert "1 passed, 1 failed" in result["summary"] and "test_wrong" in result["text"]
        reports = ed.client.progress_reports[token]
        assert type(reports[0]).__name__ == "WorkDoneProgressBegin" and reports[0].cancellable
        assert type(reports[-1]).__name__ == "WorkDoneProgressEnd"
        assert reports[-1].message == result["summary"]

        # The same check of one test, with a server-created token.
        again = await asyncio.wait_for(ed.command(CHECK, {"tests": ["tests/test_calc.py::test_add"]}), 600)
        assert again["ok"] is True and again["build"]["built"] is False
        assert any(str(t).startswith("swe-lsp/check/") for t in ed.client.progress_reports)
        info = (await ed.command("swe-lsp.debugInfo"))["server"]
        assert info["environmentCheck"] is None and info["torchImported"] is False


@pytest.mark.docker
async def test_cancel_answers_the_check_at_once(tmp_path: Path) -> None:
    root = tiny(tmp_path)
    (root / "tests" / "test_slow.py").write_text("import time\n\ndef test_slow():\n    time.sleep(120)\n")
    async with editor_session(root, init_options=DOCKER) as ed:
        token = "slow-check"
        ed.client.progress_reports[token] = []
        running = asyncio.ensure_future(
            ed.command(CHECK, {"tests": ["tests/test_slow.py"], "workDoneToken": token})
        )
        for _ in range(3000):  # until the tests run (the build before them takes seconds)
            messages = [getattr(r, "message", None) or "" for r in ed.client.progress_reports[token]]
            if any(m.startswith("running the tests") for m in messages):
                break
            await asyncio.sleep(0.1)
        with pytest.raises(JsonRpcException, match="already running"):
            await ed.command(CHECK)
        assert await ed.command(CANCEL) == {"cancelled": True}
        result = await asyncio.wait_for(running, 30)
        assert result["cancelled"] is True and result["ok"] is False
        assert type(ed.client.progress_reports[token][-1]).__name__ == "WorkDoneProgressEnd"
        # Nothing of the server's is left running in Docker once the cancelled tests are stopped.
        pid = (await ed.command("swe-lsp.debugInfo"))["server"]["pid"]
        assert await asyncio.to_thread(_containers_gone, f"{socket.gethostname()}:{pid}")


def _containers_gone(owner: str) -> bool:
    from swe_lsp.sandbox.docker_engine import LABEL_OWNER, connect

    client = connect()
    try:
        for _ in range(100):
            if not client.containers.list(all=True, filters={"label": f"{LABEL_OWNER}={owner}"}, sparse=True):
                return True
            time.sleep(0.2)
        return False
    finally:
        client.close()
