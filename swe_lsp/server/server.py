"""The language server object: pygls' `LanguageServer` plus the session, the job store, the job
queue, the progress reporter, the indexer and the environment checks. Handlers live in
`swe_lsp.server.api`, one module per LSP method or command; `create_server()` registers them all.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.server import LanguageServer
from pygls.uris import to_fs_path

from swe_lsp import __version__
from swe_lsp.errors import SweLspError
from swe_lsp.search.job import JobReport
from swe_lsp.server.engine import EngineWorker
from swe_lsp.server.engine_service import socket_path
from swe_lsp.server.env_checks import EnvChecks
from swe_lsp.server.indexing import Indexer
from swe_lsp.server.jobs import JobManager
from swe_lsp.server.progress import ProgressReporter
from swe_lsp.server.protocol import SweLspProtocol, converter_factory
from swe_lsp.server.review import current_documents
from swe_lsp.server.session import Session
from swe_lsp.server.shared_engine import SharedEngine, shared_engine_supported
from swe_lsp.server.store import JobStore
from swe_lsp.server.worker import Started, WorkerGone

logger = logging.getLogger(__name__)

LEARNING_TITLE = "Learning from the history"
EMBEDDING_TITLE = "Embedding the symbols"


class SweLspServer(LanguageServer):
    """swe-lsp's server state. Everything here is touched from the event loop only (the engine's
    and the indexer's threads hand their results to the loop)."""

    def __init__(self, engine_spec: str | None = None, store_path: Path | None = None) -> None:
        super().__init__(
            "swe-lsp", __version__, protocol_cls=SweLspProtocol, converter_factory=converter_factory
        )
        self.session = Session()
        self.engine_spec = engine_spec
        self.store_path = store_path
        self.startup_errors: list[str] = []
        self.reporter = ProgressReporter(self, lambda: self.session.client.work_done_progress)
        self.indexer = Indexer(
            on_error=lambda msg: self.show(msg, types.MessageType.Warning),
            on_train=self._learning,
            on_embed=self._embedding,
        )
        self.env_checks = EnvChecks(self)
        self.worker_pid: int | None = None
        self._store: JobStore | None = None
        self._jobs: JobManager | None = None

    # -- lazily created parts ---------------------------------------------------------------

    @property
    def store(self) -> JobStore:
        """The job store (opened on `initialize`, which also marks interrupted jobs)."""
        if self._store is None:
            self._store = JobStore(self.store_path)
            interrupted = self._store.recover()
            if interrupted:
                logger.info("marked %d job(s) of a previous server as interrupted", len(interrupted))
        return self._store

    @property
    def jobs(self) -> JobManager:
        """The job queue (its engine worker starts on the first job)."""
        if self._jobs is None:
            loop = asyncio.get_running_loop()
            self._jobs = JobManager(self.store, self._engine_factory(loop), self.reporter, self._base_texts)
        return self._jobs

    def _engine_factory(self, loop: asyncio.AbstractEventLoop):  # type: ignore[no-untyped-def]
        """A worker of this server's own, or the per-user shared engine (`model.shared_engine`);
        a worker of its own, saying why, when the shared engine's runtime folder is unusable."""
        if self.session.settings.model.shared_engine and shared_engine_supported():
            try:
                socket_path(self.engine_spec)
            except SweLspError as exc:
                self.show(
                    f"swe-lsp: no shared engine, this window loads its own: {exc}", types.MessageType.Warning
                )
            else:
                return lambda on_message, on_exit: SharedEngine(
                    loop, self._spy(on_message), self._spy_exit(on_exit), self.engine_spec
                )
        return lambda on_message, on_exit: EngineWorker(
            loop, self._spy(on_message), self._spy_exit(on_exit), self.engine_spec
        )

    def _spy(self, on_message):  # type: ignore[no-untyped-def]
        """`on_message`, keeping `worker_pid` (debugInfo) to the worker that is up, if any."""

        def handle(message: object) -> None:
            if isinstance(message, Started):
                self.worker_pid = message.pid
            elif isinstance(message, WorkerGone):
                self.worker_pid = None
            on_message(message)

        return handle

    def _spy_exit(self, on_exit):  # type: ignore[no-untyped-def]
        """`on_exit`, forgetting the worker that ended."""

        def handle(code: int | None, why: str | None = None) -> None:
            self.worker_pid = None
            on_exit(code, why)

        return handle

    # -- helpers for handlers ---------------------------------------------------------------

    @property
    def root(self) -> Path | None:
        """The first workspace folder (whose swe-lsp.toml the settings come from)."""
        return self.session.root

    @property
    def folders(self) -> list[Path]:
        """Every workspace folder of the window, the first first (as the client lists them, and as
        `workspace/didChangeWorkspaceFolders` changes them)."""
        found = [Path(p) for f in self.workspace.folders.values() if (p := to_fs_path(f.uri))]
        return found or ([self.root] if self.root is not None else [])

    def folder_for(self, uri: str | None) -> Path | None:
        """The workspace folder a document belongs to (the innermost that holds it), else the
        first folder: a job belongs to the folder of the file it was raised in."""
        path = Path(fs) if uri and (fs := to_fs_path(uri)) else None
        if path is not None:
            holding = [f for f in self.folders if path.is_relative_to(f)]
            if holding:
                return max(holding, key=lambda f: len(f.parts))
        return self.root

    def indexing_settings(self) -> tuple[object, ...]:
        """The settings a folder's background work follows (where the cache is, whether it learns
        from history, whether and with which model it embeds ahead): when they change, each folder
        is built again (its index loads from the cache), so the work starts or stops then, not at
        the next editor start."""
        s = self.session.settings
        return (s.cache_path(), s.search.history_ranker, s.search.semantic_ranker, s.search.embedding_model)

    def index_folders(self) -> None:
        """Index every workspace folder that exists (`index_folder`)."""
        for folder in self.folders:
            if folder.is_dir():
                self.index_folder(folder)

    def index_folder(self, folder: Path) -> None:
        """Index a workspace folder in the background (and learn its ranker from its history when
        `search.history_ranker` is on, and embed its symbols ahead when `search.semantic_ranker` is)."""
        settings = self.session.settings
        self.indexer.build(
            folder,
            settings.cache_path(),
            learn=settings.search.history_ranker,
            embed=settings.search.semantic_ranker,
            embedding_model=settings.search.embedding_model,
        )

    def _learning(self, root: str, message: Mapping[str, Any]) -> None:
        """The indexer's word on learning a folder's ranker from its history: a progress bar from
        its first commit to its end (none when there was nothing new to learn from)."""
        key = f"learn:{root}"
        if self._background_bar(key, f"{LEARNING_TITLE} of {Path(root).name}", message, "commits"):
            return
        if message.get("model") == "workspace":
            self.reporter.end_bar(key, f"the ranker learned from {message.get('queries')} commits")
        else:
            self.reporter.end_bar(key, f"the shipped ranker serves: {message.get('note') or 'no model'}")

    def _embedding(self, root: str, message: Mapping[str, Any]) -> None:
        """The indexer's word on embedding a folder's symbols ahead: a progress bar while it runs."""
        key = f"embed:{root}"
        if self._background_bar(key, f"{EMBEDDING_TITLE} of {Path(root).name}", message, "symbols"):
            return
        counts = f"{message.get('embedded')} symbols embedded, {message.get('stored')} already stored"
        if message.get("stopped") == "off":
            self.reporter.end_bar(key, f"stopped (search.semantic_ranker is off): {counts}")
            return
        left = "" if message.get("stopped") == "done" else "; the rest when a job needs them"
        self.reporter.end_bar(key, counts + left)

    def _background_bar(self, key: str, title: str, message: Mapping[str, Any], unit: str) -> bool:
        """An indexer's progress line (`done`/`total` `unit`) or error on the bar `key`: True when
        the message was one of those, False when it is the work's end, for the caller to word."""
        if "done" in message:
            done, total = int(message["done"]), int(message["total"])
            self.reporter.open_bar(key, title)
            self.reporter.report_bar(key, f"{done}/{total} {unit}", done * 100 // max(total, 1))
            return True
        if "error" in message:
            self.reporter.end_bar(key, f"failed: {message['error']}")
            return True
        return False

    def new_job_id(self) -> str:
        """A short, unique job id."""
        return uuid.uuid4().hex[:12]

    def show(self, message: str, kind: types.MessageType = types.MessageType.Error) -> None:
        """`window/showMessage`."""
        self.window_show_message(types.ShowMessageParams(type=kind, message=message))

    def _base_texts(self, report: JobReport) -> Mapping[str, str | None]:
        """The snapshot texts of the files a finished job's candidates change: the current texts
        wherever they still hash as the snapshot's (the usual case: the job ran on what the user
        sees). A file edited during the job has no recorded text and its candidates are stale."""
        record = self.store.job(report.job_id)
        if record is None:
            return {}
        root = Path(record.workspace)
        wanted: dict[str, str | None] = {}
        for cand in report.candidates:
            for path, expected in cand.base_hashes.items():
                wanted.setdefault(path, expected)
        now = current_documents(self.workspace, root, wanted)
        from swe_lsp.patch import content_hash

        return {p: now.texts[p] for p, h in wanted.items() if content_hash(now.texts[p]) == h}

    def close(self, grace_s: float = 5.0) -> None:
        """Cancel jobs and checks, stop the worker (waiting up to `grace_s` for it) and the indexer,
        close the store (shutdown or exit)."""
        if self._jobs is not None:
            self._jobs.close(grace_s)
            self._jobs = None
        self.indexer.close()
        self.env_checks.close()
        if self._store is not None:
            self._store.close()
            self._store = None


def create_server(engine_spec: str | None = None, store_path: Path | None = None) -> SweLspServer:
    """The server with every handler registered."""
    from swe_lsp.server.api import register_all

    server = SweLspServer(engine_spec, store_path)
    register_all(server)
    return server
