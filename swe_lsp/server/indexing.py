"""Idle-time indexing: each workspace folder's `RepoIndex` is built on `initialized` (and when a
folder is added) and updated on `didSave`, in a process of its own (`index_process`), so that a
job's snapshot starts from a warm cache and a cold build of a large repository never holds the
server's interpreter while it answers requests.

The index is stored where the engine looks for it (`settings.cache_path()`, keyed by the resolved
workspace path, as `swe-lsp localize` does); the server keeps no index in memory, only the state
it shows. Requests never wait on it; a failure is logged and shown once, never raised into a
handler. The indexer process is started with the first build, restarted by the next build when it
died, and ends when the server closes its stdin (or dies).

A build asked to `learn` (`search.history_ranker`) is followed, in the indexer process, by training
the folder's file ranker from its git history (`learning.train_workspace`). What the process says
of it is kept per folder (`ranker`: its state and last report, for debugInfo) and handed to
`on_train` for the progress bar; a failed training is logged, and shown once per server.
A build asked to embed (`search.semantic_ranker`) then has the folder's symbols embedded ahead for
the jobs (`workspace.embed_ahead`), between the indexer's other tasks; what the process says of it is
kept per folder (`semantic`, for debugInfo) and handed to `on_embed` for the progress bar.
`on_error`, `on_train` and `on_embed` are called on the event loop that sent the builds (the reader
thread hands them over), directly when there was none.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import IO, Any

logger = logging.getLogger(__name__)


# A folder's ranker `state`: `off` (not asked to learn), `waiting` (its index is being built),
# `training`, then the model serving it (`workspace`, `prior`, `none`), or `failed`; `skipped` when
# its index build failed (nothing to learn with).
RANKER_STATES = ("off", "waiting", "training", "workspace", "prior", "none", "failed", "skipped")
_REPORT_KEYS = ("model", "queries", "new_queries", "seconds", "note", "error", "done", "total")
_EMBED_KEYS = ("embedded", "stored", "total", "done", "seconds", "stopped", "error")


class Indexer:
    """Sends the workspace folders' index builds and updates to the indexer process, and keeps
    what it reports: `state` (idle | building | ready | failed), the indexed `files`, and each
    folder's `ranker` (see RANKER_STATES)."""

    def __init__(
        self,
        on_error: Callable[[str], None],
        on_train: Callable[[str, Mapping[str, Any]], None] | None = None,
        on_embed: Callable[[str, Mapping[str, Any]], None] | None = None,
    ) -> None:
        self._on_error = on_error
        self._on_train = on_train
        self._on_embed = on_embed
        self._semantic: dict[str, dict[str, Any]] = {}
        self._lock = threading.Lock()
        self._proc: subprocess.Popen[str] | None = None
        self._files: dict[str, int] = {}
        self._ranker: dict[str, dict[str, Any]] = {}
        self._pending = 0  # builds sent and not yet answered
        self._closed = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._train_error_shown = False
        self.state = "idle"

    @property
    def files(self) -> int:
        """Files in the folders' indexes, as the indexer last reported them."""
        with self._lock:
            return sum(self._files.values())

    @property
    def ranker(self) -> dict[str, dict[str, Any]]:
        """Per folder (resolved path): the ranker's `state` and the last report of its training
        (model, queries, new_queries, seconds, note; done and total while it trains; error)."""
        with self._lock:
            return {root: dict(state) for root, state in self._ranker.items()}

    @property
    def semantic(self) -> dict[str, dict[str, Any]]:
        """Per folder (resolved path): how embedding its symbols ahead goes (`state`: off, waiting,
        embedding, done, budget, failed, or skipped when its build failed; and the last report:
        done/total, embedded, stored, seconds, error)."""
        with self._lock:
            return {root: dict(state) for root, state in self._semantic.items()}

    @property
    def pid(self) -> int | None:
        """The indexer process's pid while it runs (for debugInfo and tests)."""
        proc = self._proc
        return proc.pid if proc is not None and proc.poll() is None else None

    def build(
        self,
        root: Path,
        cache_dir: Path,
        learn: bool = False,
        embed: bool = False,
        embedding_model: str | None = None,
    ) -> None:
        """Build (or load and refresh) the index of `root` in the indexer process, then, with
        `learn`, train its ranker from its history there, and with `embed`, embed its symbols ahead
        (with `embedding_model`, None for the bundled one)."""
        resolved = str(root.resolve())
        with contextlib.suppress(RuntimeError):  # no loop: the callbacks run on the reader thread
            self._loop = asyncio.get_running_loop()
        with self._lock:
            self._pending += 1
            self.state = "building"
            self._ranker[resolved] = {"state": "waiting" if learn else "off"}
            self._semantic[resolved] = {"state": "waiting" if embed else "off"}
        task: dict[str, object] = {"op": "build", "root": resolved, "cache": str(cache_dir), "learn": learn}
        if embed:
            task["semantic"] = {"model": embedding_model}
        self._send(task)

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
            if self._closed:
                return
            # A training under way (or waiting for its build) is lost with the process.
            cut = [root for root, st in self._ranker.items() if st["state"] in ("waiting", "training")]
            for root in cut:
                self._ranker[root] = {"state": "failed", "error": f"the indexer process exited ({code})"}
            cut_embed = [r for r, st in self._semantic.items() if st["state"] in ("waiting", "embedding")]
            for root in cut_embed:
                self._semantic[root] = {"state": "failed", "error": f"the indexer process exited ({code})"}
            if code == 0 and not lost and not cut and not cut_embed:
                return
            self.state = "failed"
        for root in cut:
            self._deliver_train(root, {"op": "train", "root": root, "error": "the indexer process exited"})
        for root in cut_embed:
            if self._on_embed is not None:
                message = {"op": "embed", "root": root, "error": "the indexer process exited"}
                self._deliver(self._on_embed, root, message)
        logger.warning("the indexer process exited with %s", code)
        self._deliver(
            self._on_error,
            f"swe-lsp: the indexer process exited ({code}); the next save or folder restarts it",
        )

    def _took(self, message: dict[str, object]) -> None:
        root = str(message["root"])
        error = message.get("error")
        if message["op"] == "train":
            self._trained(root, message)
            return
        if message["op"] == "embed":
            self._embedded(root, message)
            return
        with self._lock:
            if message["op"] == "build":
                self._pending = max(0, self._pending - 1)
                if self._ranker.get(root, {}).get("state") == "waiting":
                    self._ranker[root] = {"state": "training" if error is None else "skipped"}
                if error is not None and self._semantic.get(root, {}).get("state") == "waiting":
                    self._semantic[root] = {"state": "skipped"}
            if error is None:
                self._files[root] = int(message["files"])  # type: ignore[call-overload]
                self.state = "building" if self._pending else "ready"
                logger.info("index of %s ready: %d files", root, self._files[root])
                return
            self.state = "failed" if not self._pending else "building"
        logger.warning("indexing %s failed: %s", root, error)
        self._deliver(self._on_error, f"swe-lsp: indexing the workspace failed: {error}")

    def _trained(self, root: str, message: Mapping[str, Any]) -> None:
        """A training's progress or end: keep it, pass it on."""
        report = {k: message[k] for k in _REPORT_KEYS if k in message}
        error = message.get("error")
        with self._lock:
            if "done" in message:
                state = "training"
            elif error is not None:
                state = "failed"
            else:
                state = str(message.get("model", "none"))
            self._ranker[root] = {"state": state, **report}
            show = error is not None and not self._train_error_shown
            self._train_error_shown = self._train_error_shown or show
        if error is not None:
            logger.warning("learning the ranker of %s from its history failed: %s", root, error)
        elif "done" not in message:
            logger.info("ranker of %s: %s", root, report)
        self._deliver_train(root, message)
        if show:
            self._deliver(self._on_error, f"swe-lsp: learning the ranker from the history failed: {error}")

    def _embedded(self, root: str, message: Mapping[str, Any]) -> None:
        """Embedding ahead's progress or end: keep it, pass it on (a failure is logged: the jobs then
        embed what they need themselves, or go on without the signal)."""
        report = {k: message[k] for k in _EMBED_KEYS if k in message}
        if "error" in message:
            state = "failed"
        elif "stopped" in message:
            state = str(message["stopped"])
        else:
            state = "embedding"
        with self._lock:
            self._semantic[root] = {"state": state, **report}
        if state == "failed":
            logger.warning("embedding the symbols of %s ahead failed: %s", root, message["error"])
        elif state != "embedding":
            logger.info("symbols of %s embedded ahead: %s", root, report)
        if self._on_embed is not None:
            self._deliver(self._on_embed, root, message)

    def _deliver_train(self, root: str, message: Mapping[str, Any]) -> None:
        if self._on_train is not None:
            self._deliver(self._on_train, root, message)

    def _deliver(self, fn: Callable[..., None], *args: Any) -> None:
        """`fn(*args)` on the builds' event loop (directly without one; nothing once it closed)."""
        loop = self._loop
        if loop is None:
            fn(*args)
            return
        try:
            loop.call_soon_threadsafe(fn, *args)
        except RuntimeError:
            logger.debug("the indexer reported after the server's loop closed")
