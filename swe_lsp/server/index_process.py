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

    python -m swe_lsp.server.index_process --out-fd N
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
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
    re-reads only the saved files."""
    from swe_lsp.workspace import RepoIndex

    indexes: dict[Path, Any] = {}
    # Folders that learn: the cache dir, the HEAD their last training saw, and when it was read.
    learning: dict[Path, tuple[Path, str | None, float]] = {}

    def say(message: dict[str, object]) -> None:
        results.write(json.dumps(message) + "\n")
        results.flush()

    for line in tasks:
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
            for root in [r for r in learning if any(p.is_relative_to(r) for p in paths)]:
                cache, head, checked = learning[root]
                if time.monotonic() - checked < HEAD_CHECK_S:
                    continue
                now = git_head(root)
                learning[root] = (cache, now, time.monotonic())
                if now is not None and now != head:
                    learn(root, indexes[root], cache, say)


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
