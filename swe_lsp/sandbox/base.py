"""The one interface every sandbox kind offers: sessions that hold a copied tree and run commands.

A verification runs the reproduction script on the original tree, writes the candidate's changed
files, runs the script again and then the regression tests. Copying the tree (or starting a
container) once per candidate instead of once per command is what keeps a verification close to the
cost of running the tests bare, hence sessions. `Sandbox.run` is the one-shot shorthand.
"""

from __future__ import annotations

import enum
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import ClassVar, Self

from swe_lsp.sandbox.result import OutputCap, RunResult
from swe_lsp.settings import SandboxSettings

Command = Sequence[str] | str
# How often a wait looks at the cancel event: the bound on how late a cancellation is noticed.
POLL_S = 0.05


def command_argv(command: Command) -> list[str]:
    """A string is a shell command line (`sh -c`); a sequence is an argv, run as it is."""
    if isinstance(command, str):
        return ["sh", "-c", command]
    argv = list(command)
    if not argv:
        raise ValueError("empty command")
    return argv


class Ending(enum.Enum):
    """How a wait for a command ended."""

    FINISHED = "finished"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"


def wait_for(finished: threading.Event, timeout_s: float, cancel: threading.Event | None) -> Ending:
    """Block until `finished` is set, `timeout_s` passes or `cancel` is set, whichever is first."""
    deadline = time.monotonic() + timeout_s
    while not finished.wait(POLL_S):
        if cancel is not None and cancel.is_set():
            return Ending.CANCELLED
        if time.monotonic() >= deadline:
            return Ending.TIMED_OUT
    return Ending.FINISHED


def result_of(
    ending: Ending, exit_code: Callable[[], int | None], out: OutputCap, err: OutputCap, start: float
) -> RunResult:
    """The `RunResult` of a wait that ended with `ending`; `exit_code` is asked only if it finished."""
    return RunResult(
        exit_code=exit_code() if ending is Ending.FINISHED else None,
        stdout=out.text(),
        stderr=err.text(),
        timed_out=ending is Ending.TIMED_OUT,
        cancelled=ending is Ending.CANCELLED,
        duration_s=time.monotonic() - start,
        truncated=out.truncated or err.truncated,
    )


class _Closing(ABC):
    """Something to close, usable as a context manager that closes it."""

    @abstractmethod
    def close(self) -> None:
        """Release what this holds; safe to call twice."""

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()


class SandboxSession(_Closing):
    """A private copy of one tree inside a sandbox; commands run in its root, one at a time.

    Close it (or use it as a context manager) to remove the copy and anything still running; a
    cancelled run closes the session itself, and later runs come back cancelled at once.
    """

    def __init__(self, settings: SandboxSettings) -> None:
        self.settings = settings
        self.cancelled = False

    def run(
        self,
        command: Command,
        timeout_s: float | None = None,
        env: Mapping[str, str] | None = None,
        cancel: threading.Event | None = None,
    ) -> RunResult:
        """Run `command` in the tree's root; kill it at `timeout_s` (default: settings) or on `cancel`.

        `env` adds to the sandbox's small environment; the host's is never passed on whole.
        """
        if self.cancelled or (cancel is not None and cancel.is_set()):
            return RunResult(None, "", "", cancelled=True)
        timeout = self.settings.timeout_s if timeout_s is None else timeout_s
        result = self._run(command_argv(command), timeout, dict(env or {}), cancel)
        if result.cancelled:
            self.cancelled = True
            self.close()
        return result

    @abstractmethod
    def _run(
        self, argv: list[str], timeout_s: float, env: dict[str, str], cancel: threading.Event | None
    ) -> RunResult:
        """Run `argv` in the kind's own way; the checks around it are `run`'s."""

    @abstractmethod
    def put_files(self, files: Mapping[str, bytes | None]) -> None:
        """Write each relative path's new content into the copy (None deletes the file)."""

    @abstractmethod
    def close(self) -> None:
        """Kill what still runs and remove the copy; safe to call twice."""

    def copy_in(self, copy: Callable[[], object]) -> None:
        """Run the copying of the tree; on any failure close (nothing is left behind) and re-raise."""
        try:
            copy()
        except BaseException:
            self.close()
            raise


class Sandbox(_Closing):
    """A kind of sandbox (docker, bwrap, local) configured by `SandboxSettings`."""

    kind: ClassVar[str]

    def __init__(self, settings: SandboxSettings) -> None:
        self.settings = settings

    @abstractmethod
    def session(self, tree: Path, job_id: str | None = None) -> SandboxSession:
        """Copy `tree` into a fresh sandbox; `job_id` labels what it starts, for sweeping."""

    def describe(self) -> str:
        """One line for logs and the user: which kind, and with what."""
        return self.kind

    def ready(self, tree: Path) -> bool:
        """Whether a session of `tree` starts without building anything first (the process-based
        kinds always do; Docker once `tree`'s environment image is built)."""
        return True

    def prepare(self, tree: Path) -> None:
        """Start, in the background, what the first session of `tree` will need, so that it is ready
        by the time a patch is (the model works for minutes first). Returns at once; never raises
        (a failure shows when the session starts). The process-based kinds need nothing."""
        return None

    def close(self) -> None:
        """Release what the sandbox holds between sessions (Docker: warm containers); idempotent."""
        return None  # the process-based kinds hold nothing between sessions

    def run(
        self,
        tree: Path,
        command: Command,
        timeout_s: float | None = None,
        env: Mapping[str, str] | None = None,
        cancel: threading.Event | None = None,
    ) -> RunResult:
        """Run one command on a fresh copy of `tree` and clean up."""
        with self.session(tree) as session:
            return session.run(command, timeout_s, env=env, cancel=cancel)
