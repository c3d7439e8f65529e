"""Idle-time indexing: each workspace folder's `RepoIndex` is built on `initialized` (and when a
folder is added) and updated on `didSave`, in one background thread, so that a job's snapshot
starts from a warm cache.

The index is stored where the engine looks for it (`settings.cache_path()`, keyed by the resolved
workspace path, as `swe-lsp localize` does). Requests never wait on it; a failure is logged and
shown once, never raised into a handler.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)


class Indexer:
    """Builds and updates the workspace folders' indexes off the event loop, one task at a time."""

    def __init__(self, on_error: Callable[[str], None]) -> None:
        # A daemon thread, not an executor: a long build must not hold up the server's exit.
        self._tasks: queue.Queue[Callable[[], None] | None] = queue.Queue()
        self._thread = threading.Thread(target=self._run, name="swe-lsp-index", daemon=True)
        self._thread.start()
        self._on_error = on_error
        self._indexes: dict[Path, Any] = {}
        self._lock = threading.Lock()
        self.state = "idle"  # idle | building | ready | failed
        self.files = 0

    def _run(self) -> None:
        while (task := self._tasks.get()) is not None:
            task()

    def build(self, root: Path, cache_dir: Path) -> None:
        """Build (or load and refresh) the index of `root` in the background."""
        self._tasks.put(lambda: self._build(root, cache_dir))

    def update(self, paths: Iterable[Path]) -> None:
        """Re-index saved files in the background (after the build, if it is still running)."""
        paths = list(paths)
        self._tasks.put(lambda: self._update(paths))

    def _build(self, root: Path, cache_dir: Path) -> None:
        self.state = "building"
        try:
            from swe_lsp.workspace import RepoIndex

            root = root.resolve()
            index = RepoIndex.build_or_load(root, cache_dir, key=str(root))
        except Exception as exc:
            self.state = "failed"
            logger.exception("indexing %s failed", root)
            self._on_error(f"swe-lsp: indexing the workspace failed: {exc}")
            return
        with self._lock:
            self._indexes[root] = index
            self.files = sum(len(i) for i in self._indexes.values())
        self.state = "ready"
        logger.info("index of %s ready: %d files", root, self.files)

    def _update(self, paths: list[Path]) -> None:
        with self._lock:
            indexes = dict(self._indexes)
        for root, index in indexes.items():
            mine = [p for p in paths if p.resolve().is_relative_to(root)]
            if not mine:
                continue
            try:
                changed = index.update(mine)
            except Exception:
                logger.exception("updating the index of %s failed", root)
                continue
            logger.debug("re-indexed %s", changed)
        with self._lock:
            self.files = sum(len(i) for i in self._indexes.values())

    def close(self) -> None:
        """Stop taking work (a build under way is abandoned with the process)."""
        self._tasks.put(None)
