"""The repository index: every file's symbols and retrieval terms, persisted in the cache.

Persistence is keyed by content: each entry carries the digest of the bytes it was built from, and
a restarted server re-reads a file only when its size or mtime changed, re-parses it only when its
digest changed. A snapshot copied from the workspace keeps the workspace's mtimes and is loaded
under the workspace's key, so a job's snapshot starts warm from the index built at idle time.

`update()` re-parses only the blocks of a Python file that an edit changed (its column-0
definitions, or the members of a class; see `incremental`) and appends the changed entries to a
journal beside the main file instead of rewriting the whole index, which keeps a one-file update to
milliseconds; the next `build_or_load` folds the journal in. A build parses changed files whole,
so what it holds is `extract`'s output alone.
"""

from __future__ import annotations

import gc
import hashlib
import os
import pickle
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from swe_lsp.workspace.errors import WorkspaceError
from swe_lsp.workspace.extract import extract, file_digest
from swe_lsp.workspace.files import FileStat, walk
from swe_lsp.workspace.incremental import Blocks, blocks_of, reparse
from swe_lsp.workspace.model import FileIndex, Symbol

FORMAT_VERSION = 3
# A file's stat, its entry, and for a Python file its blocks (see `incremental`), or None.
_Entry = tuple[FileStat, FileIndex, Blocks | None]


class RepoIndex:
    """Files, symbols and terms of one tree, kept current with `update()`."""

    def __init__(self, root: Path, store: Path | None, entries: dict[str, _Entry]) -> None:
        self.root = root
        self._store = store
        self._entries = entries
        self._by_name: dict[str, list[Symbol]] | None = None
        self.version = 0  # bumped by every change, so caches built on the index know they are stale

    # -- building and persistence -------------------------------------------------------------

    @classmethod
    def build_or_load(cls, root: Path | str, cache_dir: Path | str | None, key: str | None = None
                      ) -> RepoIndex:  # fmt: skip
        """The index of `root`, reusing what the cache holds for it.

        `key` names the cache entry (default: the resolved root); a snapshot passes its source
        workspace so that it reuses the workspace's index. `cache_dir=None` keeps it in memory only.
        """
        root = Path(root).resolve()
        if not root.is_dir():
            raise WorkspaceError(f"{root}: not a folder; pass the workspace's root folder")
        store = _store_path(Path(cache_dir), key or str(root)) if cache_dir is not None else None
        with _no_gc():
            return cls._build(root, store)

    @classmethod
    def _build(cls, root: Path, store: Path | None) -> RepoIndex:
        old = _load(store) if store is not None else {}
        entries: dict[str, _Entry] = {}
        changed = False
        for rel, info in walk(root).items():
            entry = old.get(rel)
            if entry is not None and entry[0] == info:
                entries[rel] = entry
                continue
            new = _fresh_entry(root, rel, info, entry, incremental=False)
            if new is not None:
                entries[rel] = new
                changed = True
        changed = changed or len(entries) != len(old)
        index = cls(root, store, entries)
        if store is not None and (changed or store.with_suffix(".journal").exists()):
            index.save()
        return index

    def save(self) -> None:
        """Write the whole index (atomically) and drop the journal it supersedes."""
        if self._store is None:
            return
        try:
            self._store.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=self._store.parent, suffix=".tmp")
            with os.fdopen(fd, "wb") as fh:
                pickle.dump((FORMAT_VERSION, self._entries), fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, self._store)
            self._store.with_suffix(".journal").unlink(missing_ok=True)
        except OSError as exc:
            raise WorkspaceError(f"cannot write the index cache at {self._store.parent}: {exc}") from exc

    def update(self, paths: Iterable[Path | str]) -> list[str]:
        """Re-index the given files (absolute or root-relative); a path that no longer exists is
        dropped. Returns the relative paths whose entries changed; persists them to the journal."""
        changed: dict[str, _Entry | None] = {}
        for path in paths:
            rel = self.relative(path)
            if rel is None:
                continue
            full = self.root / rel
            try:
                st = full.stat()
            except (OSError, RuntimeError):
                st = None
            if st is None or not full.is_file():
                if self._entries.pop(rel, None) is not None:
                    changed[rel] = None
                continue
            info = FileStat(st.st_size, st.st_mtime_ns)
            new = _fresh_entry(self.root, rel, info, self._entries.get(rel), incremental=True)
            if new is not None and new != self._entries.get(rel):
                self._entries[rel] = new
                changed[rel] = new
        if changed:
            self._by_name = None
            self.version += 1
            self._journal(changed)
        return sorted(changed)

    def _journal(self, changed: dict[str, _Entry | None]) -> None:
        if self._store is None:
            return
        self._store.parent.mkdir(parents=True, exist_ok=True)
        with self._store.with_suffix(".journal").open("ab") as fh:
            pickle.dump((FORMAT_VERSION, changed), fh, protocol=pickle.HIGHEST_PROTOCOL)

    # -- queries ------------------------------------------------------------------------------

    def relative(self, path: Path | str) -> str | None:
        """`path` as a posix path relative to the root, or None when it lies outside it."""
        p = Path(path)
        if p.is_absolute():
            try:
                p = p.relative_to(self.root)
            except ValueError:
                try:
                    p = p.resolve().relative_to(self.root)
                except (ValueError, OSError, RuntimeError):
                    return None
        parts = p.parts
        if not parts or ".." in parts:
            return None
        return p.as_posix()

    @property
    def paths(self) -> list[str]:
        """Every indexed file, sorted."""
        return sorted(self._entries)

    def file(self, rel: str) -> FileIndex | None:
        """The entry of one file, or None if it is not indexed."""
        entry = self._entries.get(rel)
        return entry[1] if entry else None

    def files(self) -> Iterator[FileIndex]:
        """Every entry, in path order."""
        for rel in self.paths:
            yield self._entries[rel][1]

    def symbols(self) -> Iterator[Symbol]:
        """Every symbol of every file, in path then line order."""
        for entry in self.files():
            yield from entry.symbols

    def symbols_named(self, name: str) -> list[Symbol]:
        """Symbols whose short name is `name` (`filter` finds `QuerySet.filter` and `filter`)."""
        if self._by_name is None:
            by_name: dict[str, list[Symbol]] = {}
            for sym in self.symbols():
                by_name.setdefault(sym.short_name, []).append(sym)
            self._by_name = by_name
        return self._by_name.get(name, [])

    def __len__(self) -> int:
        return len(self._entries)


@contextmanager
def _no_gc() -> Iterator[None]:
    """Pause the cyclic garbage collector: building or unpickling tens of thousands of acyclic
    objects otherwise triggers full collections over and over (measured: a large share of a
    cold build, and most of a warm load)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _fresh_entry(root: Path, rel: str, info: FileStat, old: _Entry | None, incremental: bool
                 ) -> _Entry | None:  # fmt: skip
    """Re-read a file whose stat changed; reuse the old entry when its bytes did not. With
    `incremental` (an edit), re-parse only the changed blocks of a Python file where that applies;
    a build parses whole files, so that what it holds depends on `extract` alone."""
    try:
        data = (root / rel).read_bytes()
    except (OSError, RuntimeError):
        return None
    digest = file_digest(data)
    if old is not None and old[1].digest == digest:
        return info, old[1], old[2]
    if incremental and old is not None and old[2] is not None:
        reparsed = reparse(rel, data, digest, old[1], old[2])
        if reparsed is not None:
            return info, *reparsed
    entry, text = extract(rel, data)
    return info, entry, blocks_of(entry, text)


def _store_path(cache_dir: Path, key: str) -> Path:
    name = hashlib.sha1(key.encode("utf-8", "surrogatepass")).hexdigest()[:20]
    return cache_dir / "index" / f"{name}.pickle"


def _load(store: Path) -> dict[str, _Entry]:
    """The persisted entries with the journal replayed; empty when missing, stale or unreadable
    (a cache is never worth failing a job for: it is rebuilt)."""
    try:
        with store.open("rb") as fh:
            version, entries = pickle.load(fh)
    except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError, AttributeError):
        return {}
    if version != FORMAT_VERSION:
        return {}
    try:
        with store.with_suffix(".journal").open("rb") as fh:
            while True:
                version, changed = pickle.load(fh)
                if version != FORMAT_VERSION:
                    return {}
                for rel, entry in changed.items():
                    if entry is None:
                        entries.pop(rel, None)
                    else:
                        entries[rel] = entry
    except (OSError, EOFError, pickle.UnpicklingError, ValueError, TypeError):
        pass  # no journal, or a torn last record: what was read is still valid
    return entries
