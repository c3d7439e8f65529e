"""A language server's side of the shared engine (`engine_service`): the `Engine` the job manager
drives, attached to the per-user service instead of a worker of its own.

The first `submit` connects to the service's socket, starting the service when none listens
(detached, in a session of its own: it outlives this server, for the other windows, until it is
idle). A reader thread turns the service's messages into calls on the event loop, as `EngineWorker`
does for its pipe: `Queued` tells the job's place among every window's jobs, `WorkerExited` and a
service that goes away are this server's `on_exit` (its running job fails; the next `submit`
reconnects, starting a new service if needed: one, whichever window gets there first).
"""

from __future__ import annotations

import contextlib
import logging
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from swe_lsp.errors import SweLspError
from swe_lsp.search.job import JobReport, Progress, ResolveRequest
from swe_lsp.server.engine import EngineLink
from swe_lsp.server.engine_service import socket_path
from swe_lsp.server.worker import (
    CancelJob,
    JobFinished,
    JobProgress,
    KillJob,
    ModelLoading,
    Queued,
    RunJob,
    Welcome,
    WorkerExited,
    read_message,
    write_message,
)
from swe_lsp.settings import Settings

logger = logging.getLogger(__name__)

# Seconds to wait for a service just started to listen: it imports the server package (about a
# second) before it binds; a busy machine may take several.
CONNECT_TIMEOUT_S = 30.0
# The service's log is moved aside (one old copy) at a start once it is this large: enough for a
# few days of jobs' warnings and engine output, never a disk filler.
LOG_KEEP_BYTES = 10 * 2**20


# What a service that does not say `Welcome` first most likely is (one started by the swe-lsp
# installed before an upgrade, still serving its windows), and what to do.
_OLDER = (
    "It may be one started by an older swe-lsp, still serving other windows: "
    "`swe-lsp engine stop` stops it (its model is unloaded), and the next job starts this version's."
)


def shared_engine_supported() -> bool:
    """Unix sockets and `flock`: Linux and macOS. Elsewhere each server keeps a worker of its own."""
    return hasattr(socket, "AF_UNIX") and sys.platform != "win32"


def start_service(path: Path, engine_spec: str | None) -> None:
    """Start the service for `path`, detached: its own session (no signal of this server's reaches
    it), its log beside the socket. A thread reaps it if it exits while this server lives."""
    cmd = [sys.executable, "-m", "swe_lsp.server.engine_service", "--socket", str(path)]
    if engine_spec:
        cmd += ["--engine", engine_spec]
    log_path = path.with_suffix(".log")
    with contextlib.suppress(OSError):
        if log_path.stat().st_size > LOG_KEEP_BYTES:  # one log per socket, kept from growing forever
            log_path.replace(log_path.with_suffix(".log.1"))
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,
            close_fds=True,
            cwd=path.parent,  # not the first window's folder, which the service would keep busy
        )
    threading.Thread(target=proc.wait, name="swe-lsp-engine-service-reaper", daemon=True).start()
    logger.info("started the shared engine service (pid %s) on %s", proc.pid, path)


def connect(
    path: Path, engine_spec: str | None, timeout_s: float = CONNECT_TIMEOUT_S, start: bool = True
) -> tuple[socket.socket, BinaryIO]:
    """A connection to the service at `path` and its stream, once the service has said `Welcome`;
    the service is started if none listens (with `start`; else `ConnectionRefusedError` or
    `FileNotFoundError`). A connection that ends before the welcome reached a service on its way
    out: as if none listened (a job sent there would be lost without a word)."""
    started = not start
    deadline = time.monotonic() + timeout_s
    while True:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        stream: BinaryIO | None = None
        try:
            sock.connect(str(path))
            sock.settimeout(max(deadline - time.monotonic(), 1.0))
            stream = sock.makefile("rwb")
            welcome = read_message(stream)
        except (FileNotFoundError, ConnectionRefusedError):
            sock.close()
            if not start:
                raise
        except (OSError, EOFError, ValueError) as exc:  # a socket timeout is an OSError
            if stream is not None:
                stream.close()
            sock.close()
            if isinstance(exc, TimeoutError):
                raise SweLspError(
                    f"the shared engine took the connection but did not answer within {timeout_s:.0f} s "
                    f"(its log: {path.with_suffix('.log')}). {_OLDER}"
                ) from exc
            if not start:
                raise ConnectionRefusedError(f"the shared engine at {path} is stopping") from exc
        else:
            if isinstance(welcome, Welcome):
                sock.settimeout(None)
                return sock, stream
            stream.close()
            sock.close()
            if welcome is not None:
                raise SweLspError(f"the shared engine at {path} did not say welcome. {_OLDER}")
            if not start:
                raise ConnectionRefusedError(f"the shared engine at {path} is stopping")
            logger.info("the shared engine at %s closed a new connection: it is stopping", path)
        if not started:
            start_service(path, engine_spec)
            started = True
        if time.monotonic() > deadline:
            raise SweLspError(
                f"the shared engine did not start within {timeout_s:.0f} s "
                f"(its log: {path.with_suffix('.log')})"
            )
        time.sleep(0.1)


class SharedEngine(EngineLink):
    """The `Engine` protocol over the service's socket. `on_message(msg)` and `on_exit(code, why)`
    are called on the event loop (`why` says what happened to the shared engine)."""

    def _setup(self) -> None:
        self.socket = socket_path(self._engine_spec)
        self._stream: BinaryIO | None = None
        self._sock: socket.socket | None = None
        self._lock = threading.Lock()
        self._running: str | None = None
        self._outbox: list[object] = []
        self._attaching = False
        self._closed = False
        self.connects = 0

    def submit(self, request: ResolveRequest, settings: Settings) -> None:
        """Queue the job at the service, attaching first (in a thread: starting the service takes a
        second or more, which the event loop must not wait for)."""
        self._running = request.job_id
        self._send(RunJob(request, settings), attach=True)

    def cancel(self, job_id: str) -> None:
        """Ask the service to stop the job (it answers with a cancelled report)."""
        self._send(CancelJob(job_id))

    def kill(self) -> None:
        """The running job ignores its cancel: the service ends the worker if it still runs it."""
        if self._running is not None:
            self._send(KillJob(self._running))

    def close(self, timeout_s: float = 5.0) -> None:
        """Detach: the service cancels this server's jobs; the engine stays for the other windows
        (and stops when idle). Nothing to wait for."""
        with self._lock:
            self._closed = True
            sock, self._sock, self._stream = self._sock, None, None
            self._outbox.clear()
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _send(self, message: object, attach: bool = False) -> None:
        """Write `message`; while attaching, keep it for when the connection is up (in order)."""
        with self._lock:
            if self._closed:
                return
            if self._stream is None:
                if not (attach or self._attaching):
                    return  # nothing of ours is at the service: nothing to cancel there
                self._outbox.append(message)
                if not self._attaching:
                    self._attaching = True
                    threading.Thread(target=self._attach, name="swe-lsp-engine-attach", daemon=True).start()
                return
            try:
                write_message(self._stream, message)
            except (OSError, ValueError):
                logger.warning("the shared engine is gone; its exit is being handled")

    def _attach(self) -> None:
        try:
            sock, stream = connect(self.socket, self._engine_spec)
        except (SweLspError, OSError) as exc:
            logger.error("cannot reach the shared engine: %s", exc)
            with self._lock:
                self._attaching = False
                self._outbox.clear()
            self._call(self._exited, None, f"the shared engine cannot be reached: {exc}")
            return
        with self._lock:
            if self._closed:  # the server closed while this attached: leave at once
                stream.close()
                sock.close()
                return
            self._sock, self._stream = sock, stream
            self._attaching = False
            self.connects += 1
            for message in self._outbox:
                write_message(stream, message)
            self._outbox.clear()
        threading.Thread(
            target=self._read_loop, args=(sock, stream), name="swe-lsp-shared-engine", daemon=True
        ).start()

    def _read_loop(self, sock: socket.socket, stream: BinaryIO) -> None:
        while True:
            try:
                message = read_message(stream)
            except (OSError, ValueError, EOFError):
                message = None
            if message is None:
                break
            if isinstance(message, WorkerExited):
                why = (
                    f"the shared engine's worker exited unexpectedly (exit status {message.code}); "
                    f"it restarts for the next job. Its log: {self.socket.with_suffix('.log')}"
                )
                self._call(self._exited, message.code, why)
            else:
                self._call(self._on_message, message)
        with self._lock:
            ours = self._sock is sock
            if ours:
                self._sock, self._stream = None, None
        if ours:  # the service went away (stopped, killed): as a worker exit, for the running job
            logger.warning("the shared engine service closed the connection")
            why = (
                "the shared engine stopped (`swe-lsp engine stop`, or it died); the next job starts "
                f"it again. Its log: {self.socket.with_suffix('.log')}"
            )
            self._call(self._exited, None, why)

    def _exited(self, code: int | None, why: str) -> None:
        self._running = None
        self._on_exit(code, why)


def run_job(
    request: ResolveRequest,
    settings: Settings,
    on_progress: Callable[[Progress], None],
    on_status: Callable[[str, str], None],
    engine_spec: str | None = None,
) -> JobReport | None:
    """Run one job at the shared engine and wait for its report (`swe-lsp resolve`), or None when
    no service runs: a one-off command does not start an engine that outlives it.
    `on_status(stage, message)` tells the queue and the model load, `on_progress` the job's stages.
    Interrupting closes the connection, which cancels the job there."""
    try:
        sock, stream = connect(socket_path(engine_spec), engine_spec, start=False)
    except (FileNotFoundError, ConnectionRefusedError):
        return None
    with sock, stream:
        write_message(stream, RunJob(request, settings))
        while (message := read_message(stream)) is not None:
            if isinstance(message, JobProgress):
                on_progress(message.progress)
            elif isinstance(message, ModelLoading):
                on_status("model", message.message)
            elif isinstance(message, Queued):
                on_status("queued", f"waiting for the shared engine ({message.ahead} ahead)")
            elif isinstance(message, JobFinished) and message.report.job_id == request.job_id:
                return message.report
            elif isinstance(message, WorkerExited):
                return JobReport(
                    request.job_id, "failed", error=f"the shared engine's worker exited ({message.code})"
                )
    return JobReport(request.job_id, "failed", error="the shared engine stopped before the job ended")
