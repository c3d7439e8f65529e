"""The engine worker process: `python -m swe_lsp.server.worker_process --in-fd R --out-fd W [--engine M:F]`.

It loads the backend once, on its first job (so starting it costs no model load), and runs the
engine (`swe_lsp.search.resolve`) for one job at a time, streaming `Progress` back. A `CancelJob`
sets that job's `threading.Event`; the engine stops at its next check and cleans up after itself.

Why a plain subprocess with a pickle protocol on two extra pipes, rather than `multiprocessing`:
- The LSP process speaks JSON-RPC on its stdout. Torch, vLLM and their native libraries print to
  stdout and stderr from C code; here the worker's stdout and stderr both go to the server's
  stderr (the editor's log), and the message pipes carry nothing else.
- The command line is explicit and inspectable (`ps` shows what runs); the environment is the
  server's, with nothing re-imported from the server's `__main__` as the "spawn" start method does.
- When the server dies, even by `kill -9`, the worker reads end-of-file on its input pipe and
  exits after cancelling its job: nothing is left running. The worker leads its own process group
  (the server starts it in a new session), and the engine's own processes (vLLM's engine core and
  workers, a resource tracker) are in it: on the way out the worker closes its backend, then ends
  the whole group (`end_process_group`). A job that does not stop within `EXIT_GRACE_S` of the
  server going (a generation that cannot be interrupted) does not keep it alive: the group is
  ended anyway.
Messages are the frozen dataclasses below, each pickled and prefixed with its length; both ends
are this package, so pickle crosses no trust boundary.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import pickle
import queue
import signal
import struct
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, BinaryIO, NoReturn

from swe_lsp.errors import SweLspError
from swe_lsp.search.job import Cost, JobReport, Progress, ResolveRequest, StageCost
from swe_lsp.settings import Settings

DEFAULT_ENGINE = "swe_lsp.search:resolve"
_HEADER = struct.Struct(">I")
# Seconds a running job gets to stop after the server says stop or goes away, before the worker's
# process group is ended under it: the engine checks its cancel event before every model call and
# sandbox run, and the backend stops a generation under way at its next decoding step
# (`Backend.interruptible`), so a job that has not stopped by then is stuck in a call that cannot be
# interrupted (a model load, a scoring batch), and the editor that asked for it is gone.
EXIT_GRACE_S = 5.0
# Seconds the engine's processes get to exit on SIGTERM (vLLM's engine core frees its memory and
# says goodbye) before they are killed.
TERM_GRACE_S = 3.0


# -- messages: server -> worker ---------------------------------------------------------------


@dataclass(frozen=True)
class RunJob:
    """Run one job with these settings."""

    request: ResolveRequest
    settings: Settings


@dataclass(frozen=True)
class CancelJob:
    """Stop the job if it is the one running."""

    job_id: str


@dataclass(frozen=True)
class Shutdown:
    """Cancel what runs and exit."""


# -- messages: worker -> server ---------------------------------------------------------------


@dataclass(frozen=True)
class Started:
    """The worker is up (nothing loaded yet)."""

    pid: int


@dataclass(frozen=True)
class ModelLoading:
    """The backend is being prepared or loaded for this job."""

    job_id: str
    message: str
    fraction: float


@dataclass(frozen=True)
class JobProgress:
    """A progress event of the running job, as the engine reported it."""

    progress: Progress


@dataclass(frozen=True)
class JobFinished:
    """The job's report (done, failed or cancelled)."""

    report: JobReport


# -- messages: server -> shared engine service (`engine_service`), besides RunJob and CancelJob --


@dataclass(frozen=True)
class KillJob:
    """The job ignored its cancel for the client's grace period: end the worker if it still runs it."""

    job_id: str


@dataclass(frozen=True)
class StatusRequest:
    """Answer with an `EngineStatus`."""


@dataclass(frozen=True)
class StopEngine:
    """Close the worker (and its model) and exit; every client sees the socket close."""


# -- messages: shared engine service -> server, besides the worker's ------------------------


@dataclass(frozen=True)
class Welcome:
    """The first message on every connection: the service took it (its event loop runs). A
    connection that ends before this reached a service on its way out (killed or stopping: the
    kernel may still queue a connection on a listening socket whose process is dying), which is
    as good as none listening."""

    pid: int


@dataclass(frozen=True)
class Queued:
    """The job waits in the service's queue behind `ahead` jobs (of other windows)."""

    job_id: str
    ahead: int


@dataclass(frozen=True)
class WorkerExited:
    """The worker died while running this client's job (`code`: its exit status)."""

    job_id: str
    code: int | None


@dataclass(frozen=True)
class WorkerGone:
    """The shared engine's worker process ended (closed when idle, killed, crashed): nothing is
    loaded until a job starts the next one (every window hears it, so its debugInfo stops naming
    a worker that is gone)."""


@dataclass(frozen=True)
class EngineStatus:
    """What `swe-lsp engine status` shows."""

    pid: int
    socket: str
    engine: str | None
    worker_pid: int | None
    clients: int
    running: str | None
    queued: tuple[str, ...]
    idle_stop_s: float


# -- framing ----------------------------------------------------------------------------------


def write_message(fh: BinaryIO, message: object) -> None:
    """Write one length-prefixed pickled message and flush."""
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    fh.write(_HEADER.pack(len(data)) + data)
    fh.flush()


def _read_exactly(fh: BinaryIO, size: int) -> bytes | None:
    chunks, left = [], size
    while left:
        chunk = fh.read(left)
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def read_message(fh: BinaryIO) -> Any | None:
    """Read one message; None at end of file (the other side is gone)."""
    header = _read_exactly(fh, _HEADER.size)
    if header is None:
        return None
    data = _read_exactly(fh, _HEADER.unpack(header)[0])
    return None if data is None else pickle.loads(data)


def load_engine(spec: str) -> Callable[..., JobReport]:
    """`module:function` -> the function (the real engine, or a stand-in for tests and benches)."""
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name or "resolve")


# -- the worker -------------------------------------------------------------------------------

# A model load shorter than this (the backend was already loaded) is not a stage of the job.
_LOAD_SHOWN_S = 0.5


def with_model_load(report: JobReport, seconds: float) -> JobReport:
    """`report` with the model load it waited for as its first stage (`model`) and in its wall
    time, so that the time a user is shown is the time they waited."""
    if seconds < _LOAD_SHOWN_S:
        return report
    stages = {"model": StageCost(wall_seconds=round(seconds, 3)), **report.cost.stages}
    return replace(report, cost=Cost(stages, report.cost.wall_seconds + seconds))


class Worker:
    """Runs jobs one at a time on the main thread; a reader thread takes messages as they come."""

    def __init__(self, inbox: BinaryIO, outbox: BinaryIO, engine_spec: str) -> None:
        self._in = inbox
        self._out = outbox
        self._out_lock = threading.Lock()
        self._engine_spec = engine_spec
        self._jobs: queue.Queue[RunJob | None] = queue.Queue()
        self._cancel: dict[str, threading.Event] = {}
        self._lock = threading.Lock()
        self._backend: Any = None
        self._backend_key: Any = None

    def send(self, message: object) -> None:
        # If the server is gone, the reader sees end-of-file and ends the worker.
        with self._out_lock, contextlib.suppress(BrokenPipeError, OSError):
            write_message(self._out, message)

    def _read_loop(self) -> None:
        while True:
            try:
                message = read_message(self._in)
            except Exception:  # a torn message means the server died mid-write
                message = None
            if message is None or isinstance(message, Shutdown):
                break
            if isinstance(message, RunJob):
                with self._lock:
                    self._cancel[message.request.job_id] = threading.Event()
                self._jobs.put(message)
            elif isinstance(message, CancelJob):
                with self._lock:
                    event = self._cancel.get(message.job_id)
                if event is not None:
                    event.set()
        with self._lock:
            for event in self._cancel.values():
                event.set()
        self._jobs.put(None)
        # The job gets EXIT_GRACE_S to see its cancel; then nothing waits for it any more.
        threading.Timer(EXIT_GRACE_S, end_process_group).start()

    def run(self) -> None:
        """Serve until the server says stop or goes away."""
        threading.Thread(target=self._read_loop, name="swe-lsp-worker-reader", daemon=True).start()
        self.send(Started(os.getpid()))
        while (job := self._jobs.get()) is not None:
            with self._lock:
                cancel = self._cancel[job.request.job_id]
            try:
                report = self._run_job(job, cancel)
            finally:
                with self._lock:
                    self._cancel.pop(job.request.job_id, None)
            self.send(JobFinished(report))

    def _run_job(self, job: RunJob, cancel: threading.Event) -> JobReport:
        job_id = job.request.job_id
        if cancel.is_set():
            return JobReport(job_id, "cancelled")
        try:
            engine = load_engine(self._engine_spec)
            started = time.monotonic()
            backend = self._load_backend(job) if getattr(engine, "needs_backend", True) else None
            loaded_s = time.monotonic() - started
            if cancel.is_set():
                return JobReport(job_id, "cancelled")
            report = engine(job.request, backend, job.settings, lambda p: self.send(JobProgress(p)), cancel)
            return with_model_load(report, loaded_s)
        except SweLspError as exc:
            return JobReport(job_id, "failed", error=str(exc))
        except Exception as exc:
            traceback.print_exc(file=sys.stderr)
            error = f"internal error in the engine: {type(exc).__name__}: {exc}"
            return JobReport(job_id, "failed", error=error)

    def close_backend(self) -> None:
        """Close the loaded backend (vLLM shuts its engine core down), if any."""
        backend, self._backend = self._backend, None
        close = getattr(backend, "close", None)
        if callable(close):
            try:
                close()
            except Exception:
                traceback.print_exc(file=sys.stderr)

    def _load_backend(self, job: RunJob) -> Any:
        """The backend for the job's model settings, loaded once and reused while they stay the same."""
        settings = job.settings
        name = job.request.model or settings.model.name
        key = (name, settings.model, settings.models_dirs, settings.cache_path())
        if self._backend is not None and key == self._backend_key:
            return self._backend
        from swe_lsp.llm import get_manifest, open_backend

        self.close_backend()
        manifest = get_manifest(name, settings.models_dirs)
        job_id = job.request.job_id

        def loading(message: str, fraction: float) -> None:
            self.send(ModelLoading(job_id, message, fraction))

        loading(f"loading model {name}", 0.0)
        self._backend = open_backend(manifest, settings.model, settings.cache_path(), loading)
        self._backend_key = key
        loading(f"model {name} loaded", 1.0)
        return self._backend


def main(argv: list[str] | None = None) -> int:
    """Entry point of the worker process."""
    parser = argparse.ArgumentParser(prog="swe-lsp-worker")
    parser.add_argument("--in-fd", type=int, required=True)
    parser.add_argument("--out-fd", type=int, required=True)
    parser.add_argument("--engine", default=DEFAULT_ENGINE)
    args = parser.parse_args(argv)
    inbox = os.fdopen(args.in_fd, "rb")
    outbox = os.fdopen(args.out_fd, "wb")
    worker = Worker(inbox, outbox, args.engine)
    try:
        worker.run()
        worker.close_backend()
    finally:
        with contextlib.suppress(OSError):
            outbox.close()
        # Engine threads (tokenizers, torch pools) and processes must not outlive the worker.
        end_process_group()


def _group_members(pgid: int) -> list[int]:
    """The pids of the processes in group `pgid` other than this one (Linux: from /proc)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, ValueError, IndexError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            pid = int(stat.parent.name)
            if int(fields[2]) == pgid and pid != os.getpid() and fields[0] != "Z":
                out.append(pid)
    return out


def end_process_group() -> NoReturn:
    """End every other process of this worker's group (SIGTERM, up to `TERM_GRACE_S` for them to
    exit, then SIGKILL), then this process. Only when the worker leads its group (the server
    starts it so); otherwise only this process exits."""
    pgid = os.getpgrp()
    if pgid == os.getpid():  # one by one, not killpg: this may run off the main thread, which
        for pid in _group_members(pgid):  # alone could set this process to ignore the signal
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + TERM_GRACE_S
        while _group_members(pgid) and time.monotonic() < deadline:
            time.sleep(0.05)
        for pid in _group_members(pgid):
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
    sys.stderr.flush()
    os._exit(0)
