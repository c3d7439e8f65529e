"""Environment checks for the editors (`swe-lsp.checkEnvironment`): the workspace's sandbox
environment built or reused and the project's tests run there, as `swe-lsp sandbox test` does.

A check runs in a daemon thread of its own, never on the event loop and never in the engine
worker (a check must not wait behind a job, nor a job behind a check; the sandbox imports no
torch): a build can take twenty minutes and must not hold up the server's exit, hence a thread and
not an executor. Its log lines reach the editor as `$/progress` reports, at most five a second
(a pip install writes thousands of lines); the latest line wins. One check runs at a time.

Cancelling (`swe-lsp.cancelEnvironmentCheck`, or `window/workDoneProgress/cancel` on the check's
token) answers the command at once. The tests are stopped and their container removed; a build
under way cannot be stopped half-way and finishes in the background, its image cached for the
next job.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from swe_lsp.errors import SweLspError
from swe_lsp.settings import SandboxSettings

if TYPE_CHECKING:
    from swe_lsp.sandbox.env_report import EnvCheck
    from swe_lsp.server.server import SweLspServer

logger = logging.getLogger(__name__)

TITLE = "swe-lsp: checking the sandbox environment"
REPORT_INTERVAL_S = 0.2
_MESSAGE_CHARS = 160


@dataclass
class _Check:
    id: str
    cancel: threading.Event = field(default_factory=threading.Event)
    cancelled: asyncio.Event = field(default_factory=asyncio.Event)
    token: types.ProgressToken | None = None


class EnvChecks:
    """The server's environment checks: at most one running, cancellable."""

    def __init__(self, server: SweLspServer) -> None:
        self._server = server
        self._check: _Check | None = None

    @property
    def running(self) -> str | None:
        """The id of the check under way, if any."""
        return self._check.id if self._check else None

    async def run(
        self,
        root: Path,
        settings: SandboxSettings,
        tests: Sequence[str],
        client_token: types.ProgressToken | None,
    ) -> dict[str, Any]:
        """Check `root` with `settings`; the result's JSON (`EnvCheck.to_json`, plus `checkId`)."""
        from swe_lsp.sandbox.env_check import cancelled_check, describe_environment

        if self._check is not None:
            raise SweLspError(
                "an environment check is already running; wait for it, or cancel it "
                "(swe-lsp.cancelEnvironmentCheck)"
            )
        check = self._check = _Check(uuid.uuid4().hex[:12])
        try:
            check.token = await self._open_progress(check, client_token)
            # Files and one question to Docker (up to 10 s when it hangs): off the loop too.
            description = await asyncio.to_thread(describe_environment, root, settings)
            self._report(check, "environment: " + description.plan.python.describe(), 0)
            done = self._start(check, root, settings, tests, description)
            waiting = asyncio.ensure_future(check.cancelled.wait())
            await asyncio.wait({done, waiting}, return_when=asyncio.FIRST_COMPLETED)
            waiting.cancel()
            if not done.done():  # cancelled: the thread's late result (or error) goes nowhere
                done.cancel()
                result = cancelled_check(description)
            else:
                result = done.result()
        except BaseException as exc:
            self._end(check, f"failed: {exc}")
            raise
        finally:
            self._check = None
        self._end(check, result.summary())
        return {"checkId": check.id, **result.to_json()}

    def cancel(self, token: types.ProgressToken | None = None) -> bool:
        """Cancel the running check (only if its progress token is `token`, when given)."""
        check = self._check
        if check is None or (token is not None and check.token != token):
            return False
        check.cancel.set()
        check.cancelled.set()
        return True

    def close(self) -> None:
        """Stop the running check's tests (server shutdown)."""
        if self._check is not None:
            self._check.cancel.set()

    def _start(
        self,
        check: _Check,
        root: Path,
        settings: SandboxSettings,
        tests: Sequence[str],
        description: Any,
    ) -> asyncio.Future[EnvCheck]:
        """Run the check in its thread; the future is resolved on the loop."""
        from swe_lsp.sandbox.env_check import check_environment

        loop = asyncio.get_running_loop()
        done: asyncio.Future[EnvCheck] = loop.create_future()
        on_line = _Throttled(loop, lambda line, pct: self._report(check, line, pct))

        def settle(fn: Callable[[Any], None], value: Any) -> None:
            if not done.done():
                fn(value)

        def work() -> None:
            try:
                result = check_environment(
                    root, settings, tests, on_line, check.cancel, description=description
                )
            except BaseException as exc:
                _call_soon(loop, settle, done.set_exception, exc)
            else:
                _call_soon(loop, settle, done.set_result, result)

        threading.Thread(target=work, name=f"swe-lsp-env-check-{check.id}", daemon=True).start()
        return done

    # -- $/progress ------------------------------------------------------------------------------

    async def _open_progress(
        self, check: _Check, client_token: types.ProgressToken | None
    ) -> types.ProgressToken | None:
        """The client's token, else one the server creates (when the client supports it)."""
        progress = self._server.work_done_progress
        token = client_token
        if token is None and self._server.session.client.work_done_progress:
            token = f"swe-lsp/check/{check.id}"
            try:
                await progress.create_async(token)
            except Exception as exc:  # the client refused: no bar, the check goes on
                logger.warning("client refused progress token %s: %s", token, exc)
                return None
        if token is not None:
            progress.begin(
                token,
                types.WorkDoneProgressBegin(title=TITLE, cancellable=True, message="planning", percentage=0),
            )
        return token

    def _report(self, check: _Check, line: str, percentage: int | None) -> None:
        if check.token is not None and self._check is check:
            self._server.work_done_progress.report(
                check.token,
                types.WorkDoneProgressReport(
                    message=line[:_MESSAGE_CHARS], percentage=percentage, cancellable=True
                ),
            )

    def _end(self, check: _Check, message: str) -> None:
        if check.token is not None:
            self._server.work_done_progress.end(check.token, types.WorkDoneProgressEnd(message=message))
            self._server.work_done_progress.tokens.pop(check.token, None)
            check.token = None


class _Throttled:
    """The check thread's lines, handed to `send(line, percentage)` on the loop at most once per
    REPORT_INTERVAL_S; the percentage follows the build's steps and never goes back."""

    def __init__(self, loop: asyncio.AbstractEventLoop, send: Callable[[str, int], None]) -> None:
        self._loop = loop
        self._send = send
        self._lock = threading.Lock()
        self._line = ""
        self._percentage = 0
        self._pending = False

    def __call__(self, line: str) -> None:
        from swe_lsp.sandbox.env_check import phase_fraction

        logger.debug("environment check: %s", line)
        fraction = phase_fraction(line)
        with self._lock:
            self._line = line
            if fraction is not None:
                self._percentage = max(self._percentage, int(fraction * 100))
            if self._pending:
                return
            self._pending = True
        _call_soon(self._loop, self._loop.call_later, REPORT_INTERVAL_S, self._flush)

    def _flush(self) -> None:
        with self._lock:
            line, percentage, self._pending = self._line, self._percentage, False
        self._send(line, percentage)


def _call_soon(loop: asyncio.AbstractEventLoop, fn: Callable[..., Any], *args: Any) -> None:
    """`fn(*args)` on the loop, from the check's thread; nothing once the loop is closed (the
    server exited while a build went on)."""
    try:
        loop.call_soon_threadsafe(fn, *args)
    except RuntimeError:
        logger.debug("environment check finished after the server's loop closed")
