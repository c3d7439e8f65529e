"""Telling the editor how jobs go: `$/progress` (begin/report/end, cancellable) and the custom
`swe-lsp/jobUpdated` notification.

A job's progress token is the client's, when it passed one in the command's arguments
(`workDoneToken`), else one the server creates with `window/workDoneProgress/create` (when the
client supports it). Creating a token is a round trip; reports arriving before the answer are
coalesced and sent once it comes, so the editor sees begin, the latest report, and end, in order.
`window/workDoneProgress/cancel` on a job's token cancels the job.

The server's own background work (learning a folder's ranker from its history, reported by the
indexer) gets bars of the same kind through `open_bar`/`report_bar`/`end_bar`: always a
server-created token, not cancellable, keyed by a name of the caller's.

Runs on the event loop; every method returns at once.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer

from swe_lsp.server.store import JobRecord
from swe_lsp.server.views import job_view

logger = logging.getLogger(__name__)

JOB_UPDATED = "swe-lsp/jobUpdated"
STAGES = ("model", "snapshot", "index", "understand", "localize", "patch", "verify", "rank")


@dataclass
class _Bar:
    token: types.ProgressToken
    title: str
    cancellable: bool = True
    message: str = "queued"
    ready: bool = False
    begun: bool = False
    percentage: int = 0
    report: types.WorkDoneProgressReport | None = None
    end: types.WorkDoneProgressEnd | None = None
    started: float = field(default_factory=time.monotonic)


def describe(record: JobRecord) -> str:
    """`localize (4/7): <engine's message>`: the stage, where it is among the stages, the message."""
    if record.stage in STAGES[1:]:
        return f"{record.stage} ({STAGES.index(record.stage)}/{len(STAGES) - 1}): {record.message}"
    if record.stage:
        return f"{record.stage}: {record.message}"
    return record.message


class ProgressReporter:
    """One progress bar per job, plus `swe-lsp/jobUpdated` for every change."""

    def __init__(self, server: LanguageServer, supports_progress: Callable[[], bool]) -> None:
        self._server = server
        self._supports_progress = supports_progress
        self._bars: dict[str, _Bar] = {}
        self._by_token: dict[Any, str] = {}
        self._tasks: set[asyncio.Future[None]] = set()

    def open(self, job_id: str, title: str, client_token: types.ProgressToken | None) -> None:
        """Give the job a progress bar: the client's token, or a server-created one."""
        if client_token is not None:
            bar = _Bar(client_token, title, ready=True)
        elif self._supports_progress():
            bar = _Bar(f"swe-lsp/job/{job_id}", title)
            # Keep a reference: the loop holds tasks weakly.
            self._tasks.add(task := asyncio.ensure_future(self._create(job_id, bar)))
            task.add_done_callback(self._tasks.discard)
        else:
            return
        self._bars[job_id] = bar
        self._by_token[bar.token] = job_id

    async def _create(self, key: str, bar: _Bar) -> None:
        try:
            await self._server.work_done_progress.create_async(bar.token)
        except Exception as exc:  # the client refused: no bar, the work goes on
            logger.warning("client refused progress token %s: %s", bar.token, exc)
            self._drop(key)
            return
        bar.ready = True
        self._flush(key, bar)

    def open_bar(self, key: str, title: str, message: str = "") -> None:
        """A bar for background work that is not a job (`key`: the caller's name for it, not a job
        id); nothing when it is open already or the client has no progress."""
        if key in self._bars or not self._supports_progress():
            return
        bar = _Bar(f"swe-lsp/{key}/{uuid.uuid4().hex[:8]}", title, cancellable=False, message=message)
        self._bars[key] = bar
        self._tasks.add(task := asyncio.ensure_future(self._create(key, bar)))
        task.add_done_callback(self._tasks.discard)

    def report_bar(self, key: str, message: str, percentage: int | None = None) -> None:
        """Where the work of `open_bar(key)` is (nothing when it has no bar)."""
        bar = self._bars.get(key)
        if bar is None:
            return
        if percentage is not None:
            bar.percentage = max(bar.percentage, min(100, percentage))
        bar.report = types.WorkDoneProgressReport(message=message, percentage=bar.percentage)
        self._flush(key, bar)

    def end_bar(self, key: str, message: str) -> None:
        """Close the bar of `open_bar(key)` (nothing when it has none)."""
        bar = self._bars.get(key)
        if bar is None:
            return
        bar.end = types.WorkDoneProgressEnd(message=message)
        self._flush(key, bar)

    def job_for_token(self, token: types.ProgressToken) -> str | None:
        """The job a progress token belongs to."""
        return self._by_token.get(token)

    def job_changed(self, record: JobRecord) -> None:
        """A job moved: report it."""
        self._notify(record)
        bar = self._bars.get(record.id)
        if bar is None:
            return
        bar.percentage = max(bar.percentage, min(100, int(record.fraction * 100)))
        bar.report = types.WorkDoneProgressReport(
            message=describe(record), percentage=bar.percentage, cancellable=True
        )
        self._flush(record.id, bar)

    def job_finished(self, record: JobRecord) -> None:
        """A job ended: close its bar."""
        self._notify(record)
        bar = self._bars.get(record.id)
        if bar is None:
            return
        summary = {
            "done": f"{record.candidate_count} candidate(s) ready to review"
            if record.candidate_count or not record.message.startswith("no candidate")
            else record.message,
            "cancelled": "cancelled",
        }.get(record.state, f"{record.state}: {record.error or record.message}")
        bar.end = types.WorkDoneProgressEnd(message=summary)
        self._flush(record.id, bar)

    def _flush(self, key: str, bar: _Bar) -> None:
        if not bar.ready:
            return
        progress = self._server.work_done_progress
        if not bar.begun:
            bar.begun = True
            progress.begin(
                bar.token,
                types.WorkDoneProgressBegin(
                    title=bar.title, cancellable=bar.cancellable, message=bar.message or None, percentage=0
                ),
            )
        if bar.report is not None:
            progress.report(bar.token, bar.report)
            bar.report = None
        if bar.end is not None:
            progress.end(bar.token, bar.end)
            self._drop(key)

    def _drop(self, key: str) -> None:
        bar = self._bars.pop(key, None)
        if bar is not None:
            self._by_token.pop(bar.token, None)
            self._server.work_done_progress.tokens.pop(bar.token, None)

    def _notify(self, record: JobRecord) -> None:
        self._server.protocol.notify(JOB_UPDATED, job_view(record))
