"""What one command in a sandbox produced, and the bounded buffer its output is collected in.

Every backend (docker, bwrap, local) returns the same `RunResult`, so the search stage never asks
which one ran. Output is capped because a test suite stuck in a print loop must not fill memory or
the model's context: the head and the tail are kept, since a traceback's cause is at the top and
pytest's summary at the bottom.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass


@dataclass(frozen=True)
class RunResult:
    """The outcome of one command: exit status, captured output and how the run ended.

    `exit_code` is None when the command never finished (killed at the timeout or cancelled).
    `truncated` says that stdout or stderr lost bytes in the middle to the output cap.
    """

    exit_code: int | None
    stdout: str
    stderr: str
    timed_out: bool = False
    cancelled: bool = False
    duration_s: float = 0.0
    truncated: bool = False

    @property
    def ok(self) -> bool:
        """True when the command finished by itself with exit status 0."""
        return self.exit_code == 0 and not self.timed_out and not self.cancelled


class OutputCap:
    """A thread-safe byte sink that keeps the first and last `limit // 2` bytes of a stream.

    Reader threads append as data arrives; `text()` joins head and tail with a marker saying how
    much was cut, so a reader of the result knows it is not the whole output.
    """

    def __init__(self, limit: int) -> None:
        self._half = max(limit // 2, 1)
        self._head = bytearray()
        self._tail = bytearray()
        self._dropped = 0
        self._lock = threading.Lock()

    def write(self, data: bytes) -> None:
        """Append `data`, dropping from the middle once the cap is reached."""
        if not data:
            return
        with self._lock:
            room = self._half - len(self._head)
            if room > 0:
                self._head += data[:room]
                data = data[room:]
            if not data:
                return
            self._tail += data
            extra = len(self._tail) - self._half
            if extra > 0:
                del self._tail[:extra]
                self._dropped += extra

    @property
    def truncated(self) -> bool:
        """Whether any byte was dropped."""
        return self._dropped > 0

    def text(self) -> str:
        """The kept output, decoded leniently (test output is not always valid UTF-8)."""
        with self._lock:
            if not self._dropped:
                return (self._head + self._tail).decode("utf-8", "replace")
            marker = f"\n... [{self._dropped} bytes of output cut by swe-lsp] ...\n"
            return self._head.decode("utf-8", "replace") + marker + self._tail.decode("utf-8", "replace")
