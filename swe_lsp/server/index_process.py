"""The idle-time indexer's own process: builds and updates workspace indexes for the language server.

Why a process and not a thread of the server: a cold build of a large repository (django: seconds
of parsing, with the garbage collector paused for the whole build) holds the server's interpreter,
so requests answered meanwhile wait on the GIL and on the collector. In a process of its own, at a
lower CPU priority, the build costs the server nothing but the messages.

Protocol: one JSON object per line. Tasks on stdin: `{"op": "build", "root": ..., "cache": ...,
"learn": bool}`, `{"op": "update", "paths": [...]}`. Results on `--out-fd`, one per build and one per
folder an update touched: `{"op": ..., "root": ..., "files": N}`, or `{"op": ..., "root": ...,
"error": ...}` when it failed. The process ends when stdin closes, so it never outlives the server
that started it (also when that server is killed: the pipe closes with it).

Learning: after a build that succeeded (its result already sent) and asked to `learn`, the process
trains the folder's file ranker from its git history (`learning.train_workspace`: incremental,
bounded by its time budget, nothing when the folder has no git history). Meanwhile it says how far
it got, at most twice a second: `{"op": "train", "root": ..., "done": n, "total": m}` (commits), and
once it is over, one of `{"op": "train", "root": ..., "model": "workspace" | "prior" | "none",
"queries": N, "new_queries": N, "seconds": S, "note": ...}` or `{"op": "train", "root": ...,
"error": ...}`. A failed training ends neither the process nor the index. Tasks sent meanwhile
wait for it (the process does one thing at a time). A folder that learns is trained again when an
update finds its git HEAD moved (a pull, a checkout, a commit: `train_workspace` then computes only
the new commits), checked at most once a HEAD_CHECK_S per folder.

Embedding ahead: a build task with `"semantic": {"model": M}` (`search.semantic_ranker`; M is
`search.embedding_model`, null for the bundled model) then has the folder's symbols embedded and
stored for the jobs (`workspace.embed_ahead`), on the CPU with one thread (the GPU is the engine's),
one batch at a time, and only while no task waits: a task that arrives is answered after the batch
at hand. It says `{"op": "embed", "root": ..., "done": n, "total": m}` (symbols, at most twice a
second) and, when the folder's queue is empty or its budget spent, `{"op": "embed", "root": ...,
"embedded": N, "stored": N, "total": N, "seconds": S, "stopped": "done" | "budget"}`, or `{"op":
"embed", "root": ..., "error": ...}` (the model could not be loaded: nothing else changes). A saved
file's symbols are embedded next; once the folder's queue is over, a save's are embedded by a queue
of their own, which says nothing (seconds of work: no progress bar for each save). A folder built
again (its settings changed) drops what it had queued: with embedding ahead off, a queue at work
ends with `"stopped": "off"`; with learning off, a HEAD move no longer retrains it.

    python -m swe_lsp.server.index_process --out-fd N
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import select
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

# Below the server and the engine: indexing is what the machine does when it has nothing better.
NICENESS = 10
# Training's progress lines: at most one per this many seconds (and the last commit's).
PROGRESS_INTERVAL_S = 0.5
# A learning folder's HEAD is read again on an update at most this often: a save storm (a branch
# switch rewrites hundreds of files) costs one git read, and a minute's delay to relearn after a
# pull is nothing next to the RETRAIN_AFTER commits a retraining waits for.
HEAD_CHECK_S = 60.0


def serve(tasks: IO[str], results: IO[str]) -> None:
    """Answer tasks until `tasks` closes; the indexes stay in memory between tasks, so an update
    re-reads only the saved files. Between tasks, folders' symbols are embedded ahead, a batch at a
    time (only when `tasks` is a file whose waiting input can be seen; an iterator is all tasks)."""
    from swe_lsp.workspace import RepoIndex

    indexes: dict[Path, Any] = {}
    # Folders that learn: the cache dir, the HEAD their last training saw, and when it was read.
    learning: dict[Path, tuple[Path, str | None, float]] = {}
    # Folders that embed ahead: their queue (None once it is over), and its last progress line;
    # the queue that ended (its model and index: a save's symbols are embedded with them), and the
    # folders whose queue at work holds saved files only (no progress bar for those).
    ahead: dict[Path, Any] = {}
    embed_said: dict[Path, float] = {}
    ended: dict[Path, Any] = {}
    quiet: set[Path] = set()
    reader = _TaskReader(tasks)

    def say(message: dict[str, object]) -> None:
        results.write(json.dumps(message) + "\n")
        results.flush()

    while True:
        waiting = [root for root, job in ahead.items() if job is not None]
        line = reader.next_line(wait=not waiting)
        if line is _EOF:
            return
        if line is None:  # no task waits: one batch of the first folder's embedding
            root = waiting[0]
            job = ahead[root]
            more = _embed_step(root, job, say, embed_said, root in quiet)
            if not more:
                ahead[root], ended[root] = None, job
                quiet.discard(root)
            continue
        task = json.loads(line)
        if task["op"] == "build":
            root = Path(task["root"]).resolve()
            try:
                indexes[root] = RepoIndex.build_or_load(root, task["cache"], key=str(root))
            except Exception as exc:
                say({"op": "build", "root": str(root), "error": f"{exc}"})
                continue
            say({"op": "build", "root": str(root), "files": len(indexes[root])})
            if task.get("learn"):
                learning[root] = (Path(task["cache"]), git_head(root), time.monotonic())
                learn(root, indexes[root], Path(task["cache"]), say)
            else:  # built again with learning off (the setting changed): no relearning on HEAD moves
                learning.pop(root, None)
            if ahead.get(root) is not None and task.get("semantic") is None and root not in quiet:
                _embed_end(root, ahead[root], say, "off")  # its bar ends, saying why
            ahead[root] = None
            ended.pop(root, None)
            quiet.discard(root)
            if task.get("semantic") is not None:
                ahead[root] = embed_ahead(root, indexes[root], Path(task["cache"]), task["semantic"], say)
        elif task["op"] == "update":
            paths = [Path(p).resolve() for p in task["paths"]]
            for root, index in indexes.items():
                mine = [p for p in paths if p.is_relative_to(root)]
                if not mine:
                    continue
                try:
                    index.update(mine)
                except Exception as exc:
                    say({"op": "update", "root": str(root), "error": f"{exc}"})
                    continue
                say({"op": "update", "root": str(root), "files": len(index)})
                saved = [p.relative_to(root).as_posix() for p in mine]
                if ahead.get(root) is not None:
                    ahead[root].front(saved)
                elif root in ended and (again := ended[root].saved(saved)).total:
                    ahead[root] = again
                    quiet.add(root)
            for root in [r for r in learning if any(p.is_relative_to(r) for p in paths)]:
                cache, head, checked = learning[root]
                if time.monotonic() - checked < HEAD_CHECK_S:
                    continue
                now = git_head(root)
                learning[root] = (cache, now, time.monotonic())
                if now is not None and now != head:
                    learn(root, indexes[root], cache, say)


class _EOFType:
    pass


_EOF = _EOFType()


class _TaskReader:
    """Task lines from a file, read through its descriptor so that `next_line(wait=False)` can tell
    that none is waiting (a buffered text file cannot: a line already in its buffer is invisible to
    select); from any other iterable, simply the next line."""

    def __init__(self, tasks: Any) -> None:
        try:
            self._fd: int | None = tasks.fileno()
        except (AttributeError, OSError, ValueError):
            self._fd = None
        self._lines = iter(tasks)
        self._buffer = b""
        self._closed = False

    def next_line(self, wait: bool) -> str | _EOFType | None:
        """The next task line; None when `wait` is false and no whole line has arrived; _EOF at
        the end."""
        if self._fd is None:
            return next(self._lines, _EOF)
        while True:
            if b"\n" in self._buffer:
                line, _, self._buffer = self._buffer.partition(b"\n")
                return line.decode("utf-8")
            if self._closed:
                if self._buffer:
                    line, self._buffer = self._buffer, b""
                    return line.decode("utf-8")
                return _EOF
            if not select.select([self._fd], [], [], None if wait else 0)[0]:
                return None
            chunk = os.read(self._fd, 1 << 16)
            if chunk:
                self._buffer += chunk
            else:
                self._closed = True


Say = Callable[[dict[str, object]], None]


def embed_ahead(root: Path, index: Any, cache_dir: Path, semantic: dict[str, Any], say: Say) -> Any:
    """`root`'s embedding queue (`workspace.embed_ahead.EmbedAhead`), or None when the model cannot
    be loaded (said once as the folder's embed error)."""
    try:
        import torch

        from swe_lsp.workspace.embed_ahead import EmbedAhead, files_in_order
        from swe_lsp.workspace.history import cached_history
        from swe_lsp.workspace.semantic import load_semantic

        torch.set_num_threads(1)  # one core, as the ranker's training: the machine stays the user's
        model = load_semantic(semantic.get("model"), cache_dir, device="cpu")
        history = cached_history(cache_dir, str(root))
        return EmbedAhead(index, model, files_in_order(index, history))
    except Exception as exc:  # not installed, weights refused, torch missing: the index goes on
        say({"op": "embed", "root": str(root), "error": f"{type(exc).__name__}: {exc}"})
        return None


def _embed_step(root: Path, job: Any, say: Say, said: dict[Path, float], quiet: bool = False) -> bool:
    """One batch of `root`'s queue, with its progress line (at most one per PROGRESS_INTERVAL_S) and
    its end (none of those when `quiet`: a few saved files' symbols, a second or two, need no bar;
    a failure then goes to the log); False once it is over (failed included: never raises)."""
    try:
        more = job.step()
    except Exception as exc:
        if quiet:
            print(f"embedding the saved files' symbols of {root} failed: {exc!r}", file=sys.stderr)
        else:
            say({"op": "embed", "root": str(root), "error": f"{type(exc).__name__}: {exc}"})
        return False
    if quiet:
        return more
    now = time.monotonic()
    if more and now - said.get(root, 0.0) >= PROGRESS_INTERVAL_S:
        said[root] = now
        say({"op": "embed", "root": str(root), "done": job.done, "total": job.total})
    if not more:
        _embed_end(root, job, say)
    return more


def _embed_end(root: Path, job: Any, say: Say, stopped: str | None = None) -> None:
    """Say where `root`'s queue ended: its report, `stopped` as it says (`done`, `budget`) unless
    given (`off`: the folder was built again with embedding ahead off)."""
    report = job.report()
    say({"op": "embed", "root": str(root), "embedded": report.embedded, "stored": report.stored,
         "total": report.total, "seconds": report.seconds, "stopped": stopped or report.stopped})  # fmt: skip


def git_head(root: Path) -> str | None:
    """The commit `root`'s repository has checked out; None without git or commits."""
    try:
        import git

        return git.Repo(root, search_parent_directories=True).head.commit.hexsha
    except Exception:  # not a repository, no commit yet, git missing: nothing to relearn from
        return None


def learn(root: Path, index: Any, cache_dir: Path, say: Callable[[dict[str, object]], None]) -> None:
    """Train `root`'s ranker from its history, saying how far it got and what came of it; never
    raises (the index and the process go on whatever training does)."""
    last = 0.0

    def progress(done: int, total: int) -> None:
        nonlocal last
        now = time.monotonic()
        if now - last >= PROGRESS_INTERVAL_S or done >= total:
            last = now
            say({"op": "train", "root": str(root), "done": done, "total": total})

    try:
        from swe_lsp.workspace.learning import train_workspace

        report = train_workspace(root, index, cache_dir, key=str(root), progress=progress)
    except Exception as exc:
        say({"op": "train", "root": str(root), "error": f"{type(exc).__name__}: {exc}"})
        return
    say(
        {
            "op": "train",
            "root": str(root),
            "model": report.model,
            "queries": report.queries,
            "new_queries": report.new_queries,
            "seconds": round(report.seconds, 3),
            "note": report.note,
        }
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="swe-lsp's indexer process (started by the server)")
    parser.add_argument("--out-fd", type=int, required=True)
    args = parser.parse_args(argv)
    with contextlib.suppress(OSError):
        os.nice(NICENESS)
    # BrokenPipeError: the server went away mid-answer.
    with os.fdopen(args.out_fd, "w", encoding="utf-8") as results, contextlib.suppress(BrokenPipeError):
        serve(sys.stdin, results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
