"""One engine for every window (`model.shared_engine`): two real servers attach to one per-user
engine service (the tests' stand-in engine in its worker), their jobs queue there one at a time,
each window is told its place, and a service that dies is seen by both and started again once."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from engine_services import end_services, services
from lsp_client import STAND_IN, Editor, editor_session, server_env, wait_until_pid_gone

from swe_lsp.server.shared_engine import shared_engine_supported

pytestmark = pytest.mark.skipif(not shared_engine_supported(), reason="Unix sockets and flock only")
SHARED = {"model": {"shared_engine": True}}


@pytest.fixture
def runtime() -> dict[str, str]:
    """The servers' environment with the test's own runtime dir (conftest ends what runs there
    after the test) and the default engine setting: shared."""
    env = server_env()
    del env["SWE_LSP_MODEL__SHARED_ENGINE"]
    return env


def _engine_cli(env: dict[str, str], *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "swe_lsp", "engine", "--engine", STAND_IN, *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return json.loads(done.stdout) if "--json" in args else {"text": done.stdout}


def _services(env: dict[str, str]) -> list[int]:
    """Pids of engine services on this test's runtime dir."""
    return services(env["XDG_RUNTIME_DIR"])


async def _queued_behind(ed: Editor, job_id: str, ahead: int) -> None:
    """Wait until the window says its job waits at the shared engine behind `ahead` jobs."""
    text = f"waiting for the shared engine ({ahead} ahead)"
    await ed.wait_update(
        lambda: any(u["jobId"] == job_id and text in (u["message"] or "") for u in ed.job_updates), 60
    )


async def _running_at_localize(ed: Editor, issue: str) -> str:
    job_id = (await ed.command("swe-lsp.resolveIssue", {"issue": issue}))["jobId"]
    running = await ed.wait_job(job_id, ("running",))
    while running["stage"] != "localize":
        await asyncio.sleep(0.05)
        running = await ed.wait_job(job_id, ("running",))
    return job_id


async def test_two_windows_share_one_engine_and_queue_their_jobs(
    workspace: Path, runtime: dict[str, str]
) -> None:
    async with (  # shared by default
        editor_session(workspace, env=runtime) as first,
        editor_session(workspace, "vscode", env=runtime) as second,
    ):
        blocking = await _running_at_localize(first, "[block]")
        waiting = (await second.command("swe-lsp.resolveIssue", {"issue": "easy"}))["jobId"]
        await _queued_behind(second, waiting, 1)
        status = _engine_cli(runtime, "status", "--json")
        assert status["up"] and status["clients"] == 2 and status["queued"] == [waiting]
        assert len(_services(runtime)) == 1

        await first.command("swe-lsp.cancel", {"jobId": blocking})
        assert (await first.wait_job(blocking, ("cancelled",)))["state"] == "cancelled"
        assert (await second.wait_job(waiting, ("done", "failed", "cancelled")))["state"] == "done"
        one = (await first.command("swe-lsp.debugInfo"))["server"]
        two = (await second.command("swe-lsp.debugInfo"))["server"]
        assert one["sharedEngine"] == two["sharedEngine"] is not None
        assert one["workerPid"] == two["workerPid"] == status["worker_pid"]

    # The windows are gone; the engine stays (for the next window) until idle or stopped.
    for _ in range(100):  # the service sees the windows' connections close
        status = _engine_cli(runtime, "status", "--json")
        if status["clients"] == 0:
            break
        await asyncio.sleep(0.1)
    assert status["up"] and status["clients"] == 0, status
    _engine_cli(runtime, "stop")
    assert wait_until_pid_gone(status["pid"], 30) and wait_until_pid_gone(status["worker_pid"], 30)
    assert not _engine_cli(runtime, "status", "--json")["up"]


async def test_a_dead_engine_is_seen_by_both_windows_and_started_once(
    workspace: Path, runtime: dict[str, str]
) -> None:
    async with (
        editor_session(workspace, init_options=SHARED, env=runtime) as first,
        editor_session(workspace, "vscode", init_options=SHARED, env=runtime) as second,
    ):
        running = await _running_at_localize(first, "[block]")
        queued = (await second.command("swe-lsp.resolveIssue", {"issue": "[block]"}))["jobId"]
        await _queued_behind(second, queued, 1)
        (service,) = _services(runtime)
        os.kill(service, signal.SIGKILL)
        # Both windows' jobs end (the running one and the one queued at the service), saying why.
        for ed, job_id in ((first, running), (second, queued)):
            failed = await ed.wait_job(job_id, ("failed", "done", "cancelled"))
            assert failed["state"] == "failed", failed
            assert failed["error"].startswith("the shared engine stopped"), failed
        # Both start jobs again: one new service runs them both.
        again = [
            (ed, (await ed.command("swe-lsp.resolveIssue", {"issue": "easy"}))["jobId"])
            for ed in (first, second)
        ]
        for ed, job_id in again:
            ended = await ed.wait_job(job_id, ("done", "failed", "cancelled"))
            assert ended["state"] == "done", ended
        # Both windows may have started one at once: the one that got the lock serves, the other
        # left (its importing may still be finishing).
        for _ in range(300):
            if len(left := _services(runtime)) == 1:
                break
            await asyncio.sleep(0.1)
        assert len(left) == 1 and left[0] != service, left
        workers = {(await ed.command("swe-lsp.debugInfo"))["server"]["workerPid"] for ed in (first, second)}
        assert workers == {_engine_cli(runtime, "status", "--json")["worker_pid"]}


async def test_the_command_line_attaches_to_the_windows_engine(
    workspace: Path, runtime: dict[str, str]
) -> None:
    async with editor_session(workspace, init_options=SHARED, env=runtime) as window:
        job_id = (await window.command("swe-lsp.resolveIssue", {"issue": "easy"}))["jobId"]
        assert (await window.wait_job(job_id, ("done", "failed", "cancelled")))["state"] == "done"
        before = _engine_cli(runtime, "status", "--json")
        done = subprocess.run(
            [sys.executable, "-m", "swe_lsp", "resolve", "--engine", STAND_IN, "--issue", "-", "--json"],
            input="easy",
            cwd=workspace,
            env={**runtime, "SWE_LSP_MODEL__SHARED_ENGINE": "true"},
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert done.returncode == 0, done.stderr
        assert json.loads(done.stdout)["state"] == "done"
        after = _engine_cli(runtime, "status", "--json")
        assert (after["pid"], after["worker_pid"]) == (before["pid"], before["worker_pid"])
        assert _services(runtime) == [before["pid"]]
    # `kill` (SIGTERM) stops it as `swe-lsp engine stop` does: its worker ends too.
    assert end_services(runtime["XDG_RUNTIME_DIR"], grace_s=60) == [before["pid"]]
    assert wait_until_pid_gone(before["worker_pid"], 30)


def test_a_command_line_job_does_not_start_an_engine(
    workspace: Path, runtime: dict[str, str], monkeypatch
) -> None:
    """With no service running, `swe-lsp resolve` runs the job itself (`run_job` gives None) rather
    than leave an engine behind that outlives the command."""
    from swe_lsp.search import Issue, ResolveRequest
    from swe_lsp.server.shared_engine import run_job
    from swe_lsp.settings import Settings

    monkeypatch.setenv("XDG_RUNTIME_DIR", runtime["XDG_RUNTIME_DIR"])
    request = ResolveRequest("cli", workspace, Issue("easy"))
    assert run_job(request, Settings(), print, print, STAND_IN) is None
    assert _services(runtime) == []


def test_an_idle_engine_unloads_its_model_and_stops_when_no_window_is_left(
    workspace: Path, runtime: dict[str, str], monkeypatch
) -> None:
    """After `--idle-stop-s` without a job the worker (and its model) is closed, though a window is
    attached; once no window is attached either, the service stops."""
    import socket

    from swe_lsp.search import Issue, ResolveRequest
    from swe_lsp.server.engine_service import socket_path
    from swe_lsp.server.shared_engine import run_job
    from swe_lsp.server.worker import Started, Welcome, WorkerGone, read_message
    from swe_lsp.settings import Settings

    monkeypatch.setenv("XDG_RUNTIME_DIR", runtime["XDG_RUNTIME_DIR"])
    path = socket_path(STAND_IN)
    cmd = [sys.executable, "-m", "swe_lsp.server.engine_service", "--socket", str(path)]
    service = subprocess.Popen([*cmd, "--engine", STAND_IN, "--idle-stop-s", "2"], env=runtime)
    try:
        for _ in range(300):
            if path.exists():
                break
            time.sleep(0.1)
        report = run_job(ResolveRequest("idle", workspace, Issue("easy")), Settings(), print, print, STAND_IN)
        assert report is not None and report.state == "done", report
        window = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        window.connect(str(path))  # a window stays attached
        worker = _engine_cli(runtime, "status", "--json")["worker_pid"]
        assert worker is not None
        assert wait_until_pid_gone(worker, 30), "the idle worker kept its model"
        # The attached window hears it (its debugInfo then names no worker).
        window.settimeout(30)
        with window.makefile("rb") as stream:
            heard = [read_message(stream) for _ in range(3)]
        assert heard == [Welcome(service.pid), Started(worker), WorkerGone()]
        status = _engine_cli(runtime, "status", "--json")
        assert status["up"] and status["worker_pid"] is None and status["clients"] == 1
        window.close()
        assert service.wait(30) == 0
        assert not path.exists()
    finally:
        if service.poll() is None:
            service.kill()


def test_a_service_on_its_way_out_is_as_good_as_none(
    workspace: Path, runtime: dict[str, str], monkeypatch
) -> None:
    """A killed or stopping service's socket may still take a connection that it then closes
    unanswered: a job sent there would be lost. So a window waits for the service's `Welcome`, and
    starts a service of its own when the connection ends first; `swe-lsp resolve` runs in-process,
    and `swe-lsp engine status` says none runs."""
    import socket
    import threading

    from swe_lsp.search import Issue, ResolveRequest
    from swe_lsp.server.engine_service import socket_path
    from swe_lsp.server.shared_engine import connect, run_job
    from swe_lsp.server.worker import EngineStatus, StatusRequest, read_message, write_message
    from swe_lsp.settings import Settings

    monkeypatch.setenv("XDG_RUNTIME_DIR", runtime["XDG_RUNTIME_DIR"])
    path = socket_path(STAND_IN)
    dying = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    dying.bind(str(path))
    dying.listen()
    taken: list[int] = []

    def take_and_close() -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = dying.accept()
                taken.append(1)
                conn.close()

    threading.Thread(target=take_and_close, daemon=True).start()
    try:
        request = ResolveRequest("gone", workspace, Issue("easy"))
        assert run_job(request, Settings(), print, print, STAND_IN) is None
        assert taken and not _services(runtime)
        assert _engine_cli(runtime, "status", "--json")["up"] is False
        sock, stream = connect(path, STAND_IN)
        with sock, stream:  # the welcome came from the service this started, which answers
            (service,) = _services(runtime)
            write_message(stream, StatusRequest())
            status = read_message(stream)
            assert isinstance(status, EngineStatus) and status.pid == service, status
    finally:
        dying.close()


def test_a_service_of_an_older_version_is_named_with_what_to_do(runtime: dict[str, str], monkeypatch) -> None:
    """A service that answers without `Welcome` first (one an older swe-lsp started, still serving
    its windows) is not taken for ours, nor raced by a second service: the error says to stop it."""
    import socket
    import threading

    from swe_lsp.errors import SweLspError
    from swe_lsp.server.engine_service import socket_path
    from swe_lsp.server.shared_engine import connect
    from swe_lsp.server.worker import Started, write_message

    monkeypatch.setenv("XDG_RUNTIME_DIR", runtime["XDG_RUNTIME_DIR"])
    path = socket_path(STAND_IN)
    older = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    older.bind(str(path))
    older.listen()
    held: list[socket.socket] = []

    def serve_the_old_way() -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = older.accept()
                held.append(conn)
                with conn.makefile("wb") as out:
                    write_message(out, Started(12345))

    threading.Thread(target=serve_the_old_way, daemon=True).start()
    try:
        with pytest.raises(SweLspError, match="`swe-lsp engine stop`"):
            connect(path, STAND_IN)
        assert not _services(runtime)
    finally:
        older.close()
        for conn in held:
            conn.close()


async def test_a_job_that_ignores_its_cancel_ends_the_shared_worker_not_the_service(
    workspace: Path, runtime: dict[str, str]
) -> None:
    """After the cancel grace period the window asks the service to end the worker (`KillJob`): the
    stuck job ends, the service stays, and the next job runs on a new worker."""
    async with editor_session(workspace, env=runtime) as ed:
        stuck = await _running_at_localize(ed, "[block] [ignore-cancel]")
        before = _engine_cli(runtime, "status", "--json")
        await ed.command("swe-lsp.cancel", {"jobId": stuck})
        after = (await ed.command("swe-lsp.resolveIssue", {"issue": "after"}))["jobId"]
        assert (await ed.wait_job(after, ("done", "failed", "cancelled"), timeout=120))["state"] == "done"
        status = _engine_cli(runtime, "status", "--json")
        assert status["pid"] == before["pid"] and status["worker_pid"] != before["worker_pid"]
        assert wait_until_pid_gone(before["worker_pid"], 30)


async def test_an_unsafe_runtime_folder_means_a_worker_of_the_windows_own(
    workspace: Path, runtime: dict[str, str]
) -> None:
    """A runtime folder others may enter could hold someone else's socket: the window says so and
    runs its job on a worker of its own."""
    folder = Path(runtime["XDG_RUNTIME_DIR"]) / "swe-lsp"
    folder.mkdir()
    folder.chmod(0o777)
    async with editor_session(workspace, env=runtime) as ed:
        job_id = (await ed.command("swe-lsp.resolveIssue", {"issue": "easy"}))["jobId"]
        assert (await ed.wait_job(job_id, ("done", "failed", "cancelled")))["state"] == "done"
        assert any("no shared engine" in m.message for m in ed.client.messages), ed.client.messages
        assert (await ed.command("swe-lsp.debugInfo"))["server"]["sharedEngine"] is None
    assert _services(runtime) == []
