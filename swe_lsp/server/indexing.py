"""Idle-time indexing: each workspace folder's `RepoIndex` is built on `initialized` (and when a
folder is added) and updated on `didSave`, in a process of its own (`index_process`), so that a
job's snapshot starts from a warm cache and a cold build of a large repository never holds the
server's interpreter while it answers requests.

The index is stored where the engine looks for it (`settings.cache_path()`, keyed by the resolved
workspace path, as `swe-lsp localize` does); the server keeps no index in memory, only the state
it shows. Requests never wait on it; a failure is logged and shown once, never raised into a
handler. The indexer process is started with the first build, restarted by the next build when it
died, and ends when the server closes its stdin (or dies).
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO

logger = logging.getLogger(__name__)


class Indexer:
    """Sends the workspace folders' index builds and updates to the indexer process, and keeps
    what it reports: `state` (idle | building | ready | failed) and the indexed `files`."""

    def __init__(self, on_error: Callable[[str], None]) -> None:
        self._on_error = on_error
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[str] | None = None
        self._files: dict[str, int] = {}
        self._pending = 0  # builds sent and not yet answered
        self._closed = False
        self.state = "idle"

    @property
    def files(self) -> int:
        """Files in the folders' indexes, as the indexer last reported them."""
        with self._lock:
            return sum(self._files.values())

    @property
    def pid(self) -> int | None:
        """The indexer process's pid while it runs (for debugInfo and tests)."""
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def build(self, root: Path, cache_dir: Path) -> None:
        """Build (or load and refresh) the index of `root` in the indexer process."""
        with self._lock:
            self._pending += 1
            self.state = "building"
        self._send({"op": "build", "root": str(root.resolve()), "cache": str(cache_dir)})

    def update(self, paths: Iterable[Path]) -> None:
        """Re-index saved files (after the builds already sent)."""
        self._send({"op": "update", "paths": [str(p) for p in paths]})

    def close(self) -> None:
        """End the indexer process: its stdin closes, so it stops after the task at hand; a build
        under way is abandoned (the next server loads what the cache holds and goes on)."""
        with self._lock:
            self._closed = True
            proc, self._proc = self._proc, None
        if proc is None:
            return
        with contextlib.suppress(OSError):
            proc.stdin.close()  # type: ignore[union-attr]
        with contextlib.suppress(ProcessLookupError):
            proc.terminate()

    def _send(self, task: dict[str, object]) -> None:
        with self._lock:
            if self._closed:
                return
            proc = self._proc if self._proc is not None and self._proc.poll() is None else None
            if proc is None:
                proc = self._proc = self._start()
        try:
            proc.stdin.write(json.dumps(task) + "\n")  # type: ignore[union-attr]
            proc.stdin.flush()  # type: ignore[union-attr]
        except OSError as exc:  # it died between the check and the write: the reader says so
            logger.warning("cannot reach the indexer process: %s", exc)

    def _start(self) -> subprocess.Popen[str]:
        read_fd, write_fd = os.pipe()
        proc = subprocess.Popen(
            [sys.executable, "-m", "swe_lsp.server.index_process", "--out-fd", str(write_fd)],
            stdin=subprocess.PIPE,
            stdout=sys.stderr.fileno(),  # nothing it prints may reach the LSP stream
            pass_fds=(write_fd,),
            text=True,
        )
        os.close(write_fd)
        results = os.fdopen(read_fd, "r", encoding="utf-8")
        threading.Thread(
            target=self._read, args=(proc, results), name="swe-lsp-index-reader", daemon=True
        ).start()
        logger.info("indexer process started (pid %s)", proc.pid)
        return proc

    def _read(self, proc: subprocess.Popen[str], results: IO[str]) -> None:
        for line in results:
            self._took(json.loads(line))
        results.close()
        code = proc.wait()
        with self._lock:
            lost, self._pending = self._pending, 0
            if self._closed or (code == 0 and not lost):
                return
            self.state = "failed"
        logger.warning("the indexer process exited with %s", code)
        self._on_error(f"swe-lsp: the indexer process exited ({code}); the next save or folder restarts it")

    def _took(self, message: dict[str, object]) -> None:
        root = str(message["root"])
        error = message.get("error")
        with self._lock:
            if message["op"] == "build":
                self._pending = max(0, self._pending - 1)
            if error is None:
                self._files[root] = int(message["files"])  # type: ignore[call-overload]
                self.state = "building" if self._pending else "ready"
                logger.info("index of %s ready: %d files", root, self._files[root])
                return
            self.state = "failed" if not self._pending else "building"
        logger.warning("indexing %s failed: %s", root, error)
        self._on_error(f"swe-lsp: indexing the workspace failed: {error}")
