"""The job queue: jobs wait here for the one engine, run one at a time, and land in the store.

Everything here runs on the server's event loop and returns at once: `submit` and `cancel` only
record and send small messages; the engine's answers arrive as `on_message` / `on_exit` calls from
the engine's reader thread (through `loop.call_soon_threadsafe`). A listener (the progress reporter)
hears every change.

Lifecycle: queued -> running -> done | failed | cancelled. When the worker dies mid-job, that job
is failed (or cancelled, if a cancel was asked for) and the queue goes on with a fresh worker.

Cancel is answered at once: the running job is `cancelled` for the user (progress ends, the editor
says so) the moment it is asked for, in every phase. The engine stops at its next check (before a
model call or a sandbox run; a generation, a sandbox run or an environment build is stopped where
it is: the backend aborts a generation between two decoding steps, keeping the model); until
it confirms, the next job waits in the queue, and the job's final report only adds its cost. An
engine that ignores a cancel for `cancel_grace_s` has its worker killed, except while it loads
the model: the load finishes and the model stays loaded for the next job.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from swe_lsp.search.job import JobReport, ResolveRequest
from swe_lsp.server.engine import Engine, OnExit
from swe_lsp.server.store import JobRecord, JobStore
from swe_lsp.server.worker import JobFinished, JobProgress, ModelLoading, Queued
from swe_lsp.settings import Settings

logger = logging.getLogger(__name__)

TERMINAL_STATES = ("done", "failed", "cancelled", "interrupted")


class JobListener(Protocol):
    """Hears about jobs as they change (the progress reporter)."""

    def job_changed(self, record: JobRecord) -> None: ...

    def job_finished(self, record: JobRecord) -> None: ...


@dataclass
class _Pending:
    request: ResolveRequest
    settings: Settings
    cancel_requested: bool = False
    loading: bool = False  # the worker is loading the model for it


class JobManager:
    """Queues jobs for the engine, tracks the running one, records everything in the store."""

    def __init__(
        self,
        store: JobStore,
        engine_factory: Callable[[Callable[[object], None], OnExit], Engine],
        listener: JobListener,
        base_texts: Callable[[JobReport], Mapping[str, str | None]],
        cancel_grace_s: float = 30.0,
    ) -> None:
        self._store = store
        self._engine_factory = engine_factory
        self._engine: Engine | None = None
        self._listener = listener
        self._base_texts = base_texts
        self._cancel_grace_s = cancel_grace_s
        self._queue: deque[str] = deque()
        self._pending: dict[str, _Pending] = {}
        self._running: str | None = None
        self._kill_timer: asyncio.TimerHandle | None = None
        self.worker_exits = 0
        self._closed = False

    @property
    def engine(self) -> Engine:
        """The engine, created on first use (its worker process starts on the first job)."""
        if self._engine is None:
            self._engine = self._engine_factory(self.on_message, self.on_exit)
        return self._engine

    @property
    def running(self) -> str | None:
        """The id of the job the engine works on, if any."""
        return self._running

    def queued(self) -> tuple[str, ...]:
        """Ids of the jobs waiting, first to run first."""
        return tuple(self._queue)

    def submit(self, request: ResolveRequest, settings: Settings) -> JobRecord:
        """Record and queue a job; it starts when the engine is free."""
        self._store.add_job(request.job_id, str(request.workspace), request.issue)
        self._pending[request.job_id] = _Pending(request, settings)
        self._queue.append(request.job_id)
        ahead = len(self._queue) - 1 + (self._running is not None)
        self._store.update_job(request.job_id, message=f"queued ({ahead} ahead)" if ahead else "queued")
        self._changed(request.job_id)
        self._dispatch()
        return self._record(request.job_id)

    def cancel(self, job_id: str) -> str:
        """Cancel a queued or running job; returns the job's state after the request (a running
        job stays `running` until the engine confirms)."""
        if job_id in self._queue:
            self._queue.remove(job_id)
            self._pending.pop(job_id, None)
            self._store.update_job(job_id, state="cancelled", message="cancelled before it started")
            self._listener.job_finished(self._record(job_id))
            return "cancelled"
        if job_id == self._running:
            pending = self._pending[job_id]
            if not pending.cancel_requested:
                pending.cancel_requested = True
                self.engine.cancel(job_id)
                self._arm_kill(job_id)
                step = "loading the model, kept loaded" if pending.loading else "stopping its current step"
                self._store.update_job(job_id, state="cancelled", message=f"cancelled (the engine is {step})")
                self._listener.job_finished(self._record(job_id))
            return "cancelled"
        record = self._store.job(job_id)
        return record.state if record else "unknown"

    def _arm_kill(self, job_id: str) -> None:
        self._kill_timer = asyncio.get_running_loop().call_later(
            self._cancel_grace_s, self._kill_unresponsive, job_id
        )

    def _kill_unresponsive(self, job_id: str) -> None:
        if self._running != job_id:
            return
        if self._pending[job_id].loading:  # killing would throw the model away: let the load end
            self._arm_kill(job_id)
            return
        logger.warning("engine ignored the cancel of %s; killing the worker", job_id)
        self.engine.kill()

    def _dispatch(self) -> None:
        if self._running is not None or not self._queue:
            return
        job_id = self._queue.popleft()
        pending = self._pending[job_id]
        self._running = job_id
        self._store.update_job(job_id, state="running", message="starting the engine")
        self._changed(job_id)
        self.engine.submit(pending.request, pending.settings)

    def on_message(self, message: object) -> None:
        """A message from the engine worker (on the event loop)."""
        if self._closed:  # a late answer after shutdown: the store is closed, the job recorded
            return
        running = self._pending.get(self._running) if self._running else None
        if isinstance(message, JobProgress):
            p = message.progress
            if p.job_id == self._running and running is not None:
                running.loading = False
                if not running.cancel_requested:  # a cancelled job's progress is over for the user
                    self._store.update_job(p.job_id, stage=p.stage, message=p.message, fraction=p.fraction)
                    self._changed(p.job_id)
        elif isinstance(message, ModelLoading):
            if message.job_id == self._running and running is not None:
                running.loading = message.fraction < 1.0
                if not running.cancel_requested:
                    self._store.update_job(message.job_id, stage="model", message=message.message)
                    self._changed(message.job_id)
        elif isinstance(message, Queued):  # the shared engine runs other windows' jobs first
            if message.job_id == self._running and running is not None and not running.cancel_requested:
                self._store.update_job(
                    message.job_id, message=f"waiting for the shared engine ({message.ahead} ahead)"
                )
                self._changed(message.job_id)
        elif isinstance(message, JobFinished):
            self._finish(message.report)

    def on_exit(self, code: int | None, why: str | None = None) -> None:
        """The engine worker died (on the event loop): fail its job, saying `why` when the engine
        knows better than its exit status, and go on with the queue."""
        if self._closed:
            return
        self.worker_exits += 1
        job_id = self._running
        if job_id is not None:
            cancelled = self._pending[job_id].cancel_requested
            self._finish(
                JobReport(
                    job_id,
                    "cancelled" if cancelled else "failed",
                    error=None
                    if cancelled
                    else why
                    or f"the engine worker exited unexpectedly (exit status {code}); it restarts "
                    "for the next job. The editor's log has its output.",
                )
            )

    def _finish(self, report: JobReport) -> None:
        job_id = report.job_id
        if job_id != self._running:
            return
        if self._kill_timer is not None:
            self._kill_timer.cancel()
            self._kill_timer = None
        pending = self._pending.pop(job_id)
        if pending.cancel_requested:  # answered when asked for: the report only adds its cost
            report = JobReport(job_id, "cancelled", cost=report.cost, trajectory_path=report.trajectory_path)
        self._running = None
        try:
            texts = self._base_texts(report) if report.candidates else {}
        except Exception:  # the review documents are a convenience: never lose the report for them
            logger.exception("could not read the base texts of %s", job_id)
            texts = {}
        self._store.finish_job(report, texts)
        message = {
            "done": f"{len(report.candidates)} candidate(s)"
            if report.candidates or not report.why_none
            else f"no candidate: {report.why_none}",
            "cancelled": "cancelled",
            "failed": report.error or "failed",
        }.get(report.state, report.state)
        if report.state == "done" and report.notes:  # e.g. "prm: none, beam kept by vote": the user sees it
            message += " (" + "; ".join(report.notes) + ")"
        if pending.cancel_requested:
            self._store.update_job(job_id, message="cancelled")
            self._changed(job_id)
        else:
            self._store.update_job(job_id, message=message)
            self._listener.job_finished(self._record(job_id))
        self._dispatch()

    def _changed(self, job_id: str) -> None:
        self._listener.job_changed(self._record(job_id))

    def _record(self, job_id: str) -> JobRecord:
        record = self._store.job(job_id)
        assert record is not None, job_id
        return record

    def close(self, grace_s: float = 5.0) -> None:
        """Cancel everything and stop the worker (at shutdown), waiting up to `grace_s` for it."""
        self._closed = True
        for job_id in list(self._queue):
            self.cancel(job_id)
        if self._kill_timer is not None:
            self._kill_timer.cancel()
        if self._running is not None:
            self._store.update_job(self._running, state="cancelled", message="the server shut down")
        if self._engine is not None:
            self._engine.close(grace_s)
