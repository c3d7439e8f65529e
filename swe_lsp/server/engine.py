"""The server's side of the engine worker: start it lazily, talk to it, notice when it dies, stop it.

`EngineWorker` owns one `python -m swe_lsp.server.worker_process` subprocess (see `worker.py` for why a
subprocess and what crosses the pipes). It never blocks the event loop: a reader thread turns the
worker's messages into calls on the loop (`loop.call_soon_threadsafe`), and sending writes one small
pickled message to a pipe the worker drains continuously. `JobManager` sees only the `Engine`
protocol, so a stand-in can take its place in unit tests (esbonio's subprocess-manager shape).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from typing import Protocol

from swe_lsp.search.job import ResolveRequest
from swe_lsp.server.worker import CancelJob, RunJob, Shutdown, read_message, write_message
from swe_lsp.settings import Settings

logger = logging.getLogger(__name__)


class Engine(Protocol):
    """What the job manager needs from an engine: run a job, cancel it, stop."""

    def submit(self, request: ResolveRequest, settings: Settings) -> None: ...

    def cancel(self, job_id: str) -> None: ...

    def kill(self) -> None: ...

    def close(self, timeout_s: float = 5.0) -> None: ...


# `on_exit(returncode, why)`: the engine's process ended; `why`, when given, is what the user is told.
OnExit = Callable[[int | None, str | None], None]


class EngineLink:
    """What an `Engine` that runs elsewhere shares: the event loop its callbacks run on, the
    callbacks (`on_message(msg)`, `on_exit(returncode, why)`), and the engine spec it starts with."""

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        on_message: Callable[[object], None],
        on_exit: OnExit,
        engine_spec: str | None = None,
    ) -> None:
        self._loop = loop
        self._on_message = on_message
        self._on_exit = on_exit
        self._engine_spec = engine_spec
        self._setup()

    def _setup(self) -> None:
        """The state of the kind of link (a subclass's)."""

    def _call(self, fn: Callable[..., None], *args: object) -> None:
        """Run `fn(*args)` on the event loop (from a reader thread)."""
        with contextlib.suppress(RuntimeError):  # the loop is closed: the server is exiting
            self._loop.call_soon_threadsafe(fn, *args)


class EngineWorker(EngineLink):
    """The engine worker subprocess, started on the first `submit`, restarted on the next `submit`
    after it dies. `on_message(msg)` and `on_exit(returncode, None)` are called on the event loop."""

    def _setup(self) -> None:
        self._proc: subprocess.Popen[bytes] | None = None
        self._to_worker: object = None
        self._send_lock = threading.Lock()
        self.starts = 0

    @property
    def pid(self) -> int | None:
        """The worker's pid while it runs."""
        return self._proc.pid if self._proc is not None and self._proc.poll() is None else None

    def _start(self) -> None:
        to_worker_r, to_worker_w = os.pipe()
        from_worker_r, from_worker_w = os.pipe()
        cmd = [
            sys.executable,
            "-m",
            "swe_lsp.server.worker_process",
            "--in-fd",
            str(to_worker_r),
            "--out-fd",
            str(from_worker_w),
        ]
        if self._engine_spec:
            cmd += ["--engine", self._engine_spec]
        # stdout=stderr: whatever the engine's libraries print must never reach the LSP stream.
        proc = subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=sys.stderr.fileno(),
            pass_fds=(to_worker_r, from_worker_w),
            start_new_session=True,  # a Ctrl-C meant for the editor does not kill jobs mid-write
        )
        os.close(to_worker_r)
        os.close(from_worker_w)
        self._proc = proc
        self._to_worker = os.fdopen(to_worker_w, "wb")
        self.starts += 1
        reader = os.fdopen(from_worker_r, "rb")
        threading.Thread(
            target=self._read_loop, args=(proc, reader), name="swe-lsp-engine-reader", daemon=True
        ).start()
        logger.info("engine worker started (pid %s)", proc.pid)

    def _read_loop(self, proc: subprocess.Popen[bytes], reader: object) -> None:
        while True:
            try:
                message = read_message(reader)  # type: ignore[arg-type]
            except Exception:
                # A protocol error cannot be recovered from: end this worker, the next job restarts it.
                logger.exception("unreadable message from the engine worker; stopping it")
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, 9)
                message = None
            if message is None:
                break
            self._call(self._on_message, message)
        with contextlib.suppress(OSError):
            reader.close()  # type: ignore[attr-defined]
        code = proc.wait()
        _end_group(proc.pid)  # whatever the worker left of its engine (it ends them itself on a clean exit)
        self._call(self._exited, proc, code)

    def _exited(self, proc: subprocess.Popen[bytes], code: int | None) -> None:
        if proc is not self._proc:
            return
        self._proc = None
        with contextlib.suppress(OSError):
            self._to_worker.close()  # type: ignore[attr-defined]
        logger.warning("engine worker %s exited with %s", proc.pid, code)
        self._on_exit(code, None)

    def _send(self, message: object) -> None:
        with self._send_lock:
            try:
                write_message(self._to_worker, message)  # type: ignore[arg-type]
            except (BrokenPipeError, OSError, ValueError):
                logger.warning("engine worker is gone; its exit is being handled")

    def submit(self, request: ResolveRequest, settings: Settings) -> None:
        """Start the worker if it is not running, and hand it the job."""
        if self.pid is None:
            self._start()
        self._send(RunJob(request, settings))

    def cancel(self, job_id: str) -> None:
        """Ask the worker to stop the job (it answers with a cancelled report)."""
        if self.pid is not None:
            self._send(CancelJob(job_id))

    def kill(self) -> None:
        """Stop the worker now (an engine that ignores cancel); `on_exit` follows."""
        if self._proc is not None and self._proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._proc.pid, 9)

    def close(self, timeout_s: float = 5.0) -> None:
        """Ask the worker to exit, and wait up to `timeout_s` for it, then kill it and its process
        group. With 0, do not wait: the worker ends itself and its engine's processes (within
        `worker.EXIT_GRACE_S` of being told), so `shutdown` is answered at once."""
        proc = self._proc
        if proc is None:
            return
        self._send(Shutdown())
        if timeout_s <= 0:
            return
        try:
            proc.wait(timeout=timeout_s)
        except subprocess.TimeoutExpired:
            _end_group(proc.pid)
            proc.wait()
        _end_group(proc.pid)


def _end_group(pgid: int) -> None:
    """SIGKILL what is left of the worker's process group (nothing, after a clean exit)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, 9)
