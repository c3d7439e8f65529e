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
  exits after cancelling its job: nothing is left running.
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
import struct
import sys
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, BinaryIO

from swe_lsp.errors import SweLspError
from swe_lsp.search.job import JobReport, Progress, ResolveRequest
from swe_lsp.settings import Settings

DEFAULT_ENGINE = "swe_lsp.search:resolve"
_HEADER = struct.Struct(">I")


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
            backend = self._load_backend(job) if getattr(engine, "needs_backend", True) else None
            if cancel.is_set():
                return JobReport(job_id, "cancelled")
            return engine(job.request, backend, job.settings, lambda p: self.send(JobProgress(p)), cancel)
        except SweLspError as exc:
            return JobReport(job_id, "failed", error=str(exc))
        except Exception as exc:
            traceback.print_exc(file=sys.stderr)
            error = f"internal error in the engine: {type(exc).__name__}: {exc}"
            return JobReport(job_id, "failed", error=error)

    def _load_backend(self, job: RunJob) -> Any:
        """The backend for the job's model settings, loaded once and reused while they stay the same."""
        settings = job.settings
        name = job.request.model or settings.model.name
        key = (name, settings.model, settings.models_dirs, settings.cache_path())
        if self._backend is not None and key == self._backend_key:
            return self._backend
        from swe_lsp.llm import get_manifest, open_backend

        if self._backend is not None:
            close = getattr(self._backend, "close", None)
            if callable(close):
                close()
            self._backend = None
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
    Worker(inbox, outbox, args.engine).run()
    outbox.close()
    # Engine threads (tokenizers, torch pools) must not keep a worker alive that the server let go.
    os._exit(0)
