"""One engine for every window: a per-user service that owns the engine worker and queues the jobs
of every language server (and of `swe-lsp engine status|stop`) that attaches to it.

Why: a 32B model takes a GPU's memory and minutes to load; with one worker per server, a second
editor window loads it a second time and fails. Here the first server that needs the engine starts
this service (`python -m swe_lsp.server.engine_service --socket PATH`), every other one attaches
to the same Unix socket, and jobs from all windows run one at a time on one loaded model, each
window told its place in the queue (`Queued`).

- Where: `runtime_dir()` (`$XDG_RUNTIME_DIR/swe-lsp`, else a 0700 folder of the user's in the
  temporary folder), one socket per engine spec (the tests' stand-in engines get their own).
- One service per socket: it holds an exclusive `flock` on `<socket>.lock` for its lifetime; a
  second one started in a race exits at once and its starter connects to the first. Every
  connection is first told `Welcome`: a client counts itself attached only then, since a service
  on its way out may still take a connection it never answers.
- Messages are `worker.py`'s (those of the worker, and the service's own), framed the same way.
  The socket is the user's alone (0600 in a 0700 folder that must be theirs), so pickle crosses no
  trust boundary: whoever can connect can already run code as the user.
- A client that goes away (its editor closed, or killed) has its queued jobs dropped and its
  running job cancelled. The worker dying mid-job is told to that job's window (`WorkerExited`),
  and the worker restarts for the next job. The service stops on `StopEngine`, on SIGTERM, SIGINT
  or SIGHUP, or once no window is attached and no job has run for `IDLE_STOP_S`, closing the
  worker (and its model) first; with windows attached it only closes the worker after that long.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import hashlib
import logging
import os
import pickle
import signal
import struct
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from swe_lsp.errors import SweLspError
from swe_lsp.search.job import JobReport
from swe_lsp.server.engine import EngineWorker
from swe_lsp.server.worker import (
    CancelJob,
    EngineStatus,
    JobFinished,
    JobProgress,
    KillJob,
    ModelLoading,
    Queued,
    RunJob,
    Started,
    StatusRequest,
    StopEngine,
    Welcome,
    WorkerExited,
    WorkerGone,
    read_message,
    write_message,
)

logger = logging.getLogger(__name__)

# Seconds the service keeps the model loaded with no job running or queued (Ollama's keep-alive
# idea): long enough for the next issue of a working session, or an editor restart, to find the
# model still loaded (a 32B load takes minutes), short enough that a GPU nobody resolves issues on
# gets its memory back soon, also while editor windows stay open. Then the worker (and the model)
# is closed; the service itself exits once no window is attached either.
IDLE_STOP_S = 600.0
_HEADER = struct.Struct(">I")


# -- where ---------------------------------------------------------------------------------------


def runtime_dir() -> Path:
    """The user's folder for the service's socket, lock and log: `$XDG_RUNTIME_DIR/swe-lsp`, else
    `swe-lsp-<uid>` in the temporary folder; created 0700, and refused when someone else owns it or
    others can enter it (a socket there could be someone else's)."""
    base = os.environ.get("XDG_RUNTIME_DIR")
    folder = Path(base) / "swe-lsp" if base else Path(tempfile.gettempdir()) / f"swe-lsp-{os.getuid()}"
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    st = folder.stat()
    if st.st_uid != os.getuid() or st.st_mode & 0o077:
        raise SweLspError(
            f"{folder} is not private to this user (owner {st.st_uid}, mode {st.st_mode & 0o777:o}): "
            "the shared engine's socket cannot live there"
        )
    return folder


def socket_path(engine_spec: str | None) -> Path:
    """The service's socket for an engine spec (None: the real search engine)."""
    tag = hashlib.sha256((engine_spec or "default").encode()).hexdigest()[:10]
    return runtime_dir() / f"engine-{tag}.sock"


# -- the service ---------------------------------------------------------------------------------


@dataclass(eq=False)
class _Client:
    """One attached window (or a `swe-lsp engine` command)."""

    writer: asyncio.StreamWriter

    def send(self, message: object) -> None:
        """Queue `message` to the client (dropped once it has gone)."""
        if self.writer.is_closing():
            return
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
        self.writer.write(_HEADER.pack(len(data)) + data)


class EngineService:
    """The queue of every client's jobs in front of one engine worker."""

    def __init__(self, path: Path, engine_spec: str | None, idle_stop_s: float = IDLE_STOP_S) -> None:
        self.path = path
        self.engine_spec = engine_spec
        self.idle_stop_s = idle_stop_s
        self._clients: set[_Client] = set()
        self._queue: collections.deque[tuple[_Client, RunJob]] = collections.deque()
        self._running: tuple[_Client, RunJob] | None = None
        self._worker: EngineWorker | None = None
        self._worker_pid: int | None = None
        self._closing_worker = False
        self._stop = asyncio.Event()

    async def run(self) -> None:
        """Serve until stopped or idle; the socket is removed on the way out."""
        loop = asyncio.get_running_loop()
        self._worker = EngineWorker(loop, self._from_worker, self._worker_exited, self.engine_spec)
        for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):  # `kill`: unload, then exit
            loop.add_signal_handler(sig, self._stop.set)
        self.path.unlink(missing_ok=True)  # a crashed service's socket (we hold the lock)
        server = await asyncio.start_unix_server(self._serve, path=str(self.path))
        os.chmod(self.path, 0o600)
        logger.info("engine service on %s (pid %s)", self.path, os.getpid())
        idle = asyncio.create_task(self._idle_watch())
        try:
            await self._stop.wait()
        finally:
            idle.cancel()
            server.close()
            self.path.unlink(missing_ok=True)
            for client in list(self._clients):
                client.writer.close()
            await asyncio.to_thread(self._worker.close, 10.0)
            logger.info("engine service stopped")

    async def _idle_watch(self) -> None:
        """Unload the model after `idle_stop_s` without a job; stop when no window is attached either."""
        idle_for = 0.0
        while True:
            await asyncio.sleep(1.0)
            idle_for = 0.0 if self._queue or self._running else idle_for + 1.0
            if idle_for < self.idle_stop_s:
                continue
            if self._worker is not None and self._worker.pid is not None:
                logger.info("no job for %.0f s: closing the worker (the next job loads the model)", idle_for)
                self._closing_worker = True  # a job that comes meanwhile waits for a new worker
                try:
                    await asyncio.to_thread(self._worker.close, 10.0)
                finally:
                    self._closing_worker = False
                self._dispatch()
                self._tell_places()
                idle_for = 0.0 if self._queue or self._running else idle_for
            if not self._clients:
                logger.info("no job and no window for %.0f s: stopping", idle_for)
                self._stop.set()
                return

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        client = _Client(writer)
        self._clients.add(client)
        client.send(Welcome(os.getpid()))
        if self._worker_pid is not None:
            client.send(Started(self._worker_pid))
        try:
            while (message := await _read(reader)) is not None:
                self._take(client, message)
                await writer.drain()
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._detach(client)

    def _take(self, client: _Client, message: object) -> None:
        if isinstance(message, RunJob):
            self._queue.append((client, message))
            self._dispatch()
            self._tell_places()
        elif isinstance(message, CancelJob):
            self._cancel(client, message.job_id)
        elif isinstance(message, KillJob):
            if self._owns_running(client, message.job_id):
                logger.warning("job %s ignored its cancel: ending the worker", message.job_id)
                self._worker.kill()  # type: ignore[union-attr]
        elif isinstance(message, StatusRequest):
            client.send(self.status(asking=client))
        elif isinstance(message, StopEngine):
            self._stop.set()

    def status(self, asking: _Client | None = None) -> EngineStatus:
        """The service's state, for `swe-lsp engine status` (the windows attached: the clients but
        the one `asking`)."""
        return EngineStatus(
            os.getpid(),
            str(self.path),
            self.engine_spec,
            self._worker.pid if self._worker else None,
            len(self._clients - {asking}),
            self._running[1].request.job_id if self._running else None,
            tuple(job.request.job_id for _, job in self._queue),
            self.idle_stop_s,
        )

    def _cancel(self, client: _Client, job_id: str) -> None:
        for entry in list(self._queue):
            if entry[0] is client and entry[1].request.job_id == job_id:
                self._queue.remove(entry)
                client.send(JobFinished(JobReport(job_id, "cancelled")))
                self._tell_places()
                return
        if self._owns_running(client, job_id):
            self._worker.cancel(job_id)  # type: ignore[union-attr]

    def _owns_running(self, client: _Client, job_id: str) -> bool:
        """Whether `job_id` is the running job and `client`'s (a window acts on its own jobs only)."""
        return (
            self._running is not None
            and self._running[0] is client
            and self._running[1].request.job_id == job_id
        )

    def _detach(self, client: _Client) -> None:
        """A client went away: drop its queued jobs, cancel its running one."""
        self._clients.discard(client)
        self._queue = collections.deque(e for e in self._queue if e[0] is not client)
        if self._running is not None and self._running[0] is client:
            self._worker.cancel(self._running[1].request.job_id)  # type: ignore[union-attr]
        self._tell_places()

    def _dispatch(self) -> None:
        if self._running is not None or not self._queue or self._closing_worker:
            return
        self._running = self._queue.popleft()
        job = self._running[1]
        self._worker.submit(job.request, job.settings)  # type: ignore[union-attr]

    def _tell_places(self) -> None:
        ahead = 1 if self._running is not None else 0
        for client, job in self._queue:
            client.send(Queued(job.request.job_id, ahead))
            ahead += 1

    def _from_worker(self, message: object) -> None:
        if isinstance(message, Started):
            self._worker_pid = message.pid
            for client in self._clients:
                client.send(message)
            return
        if self._running is None:
            return
        client, job = self._running
        if isinstance(message, JobProgress | ModelLoading):
            client.send(message)
        elif isinstance(message, JobFinished) and message.report.job_id == job.request.job_id:
            client.send(message)
            self._running = None
            self._dispatch()
            self._tell_places()

    def _worker_exited(self, code: int | None, why: str | None = None) -> None:
        self._worker_pid = None
        for each in self._clients:
            each.send(WorkerGone())
        if self._running is not None:
            client, job = self._running
            client.send(WorkerExited(job.request.job_id, code))
            self._running = None
            self._dispatch()  # the worker restarts for the next job
            self._tell_places()


async def _read(reader: asyncio.StreamReader) -> object | None:
    try:
        header = await reader.readexactly(_HEADER.size)
    except asyncio.IncompleteReadError:
        return None
    return pickle.loads(await reader.readexactly(_HEADER.unpack(header)[0]))


# -- the client's side of the lock and the status ------------------------------------------------


def request(path: Path, message: object, timeout_s: float = 10.0) -> object | None:
    """Send one message to a running service and read one answer (None when it sends none before
    closing). Raises `ConnectionError` (or `FileNotFoundError`) when no service listens there."""
    import socket

    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout_s)
        sock.connect(str(path))
        with sock.makefile("rwb") as stream:
            write_message(stream, message)
            while True:
                answer = read_message(stream)
                if answer is None or not isinstance(answer, Welcome | Started | WorkerGone):
                    return answer


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="swe-lsp's shared engine (started by a language server)")
    parser.add_argument("--socket", type=Path, required=True)
    parser.add_argument("--engine", default=None, help="module:function of the engine (tests)")
    parser.add_argument("--idle-stop-s", type=float, default=IDLE_STOP_S)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    import fcntl

    lock = open(args.socket.with_suffix(".lock"), "w")  # noqa: SIM115 - held for the process's life
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        logger.info("another engine service holds %s: leaving it be", lock.name)
        return 0
    asyncio.run(EngineService(args.socket, args.engine, args.idle_stop_s).run())
    return 0


if __name__ == "__main__":
    with contextlib.suppress(KeyboardInterrupt):
        sys.exit(main())
