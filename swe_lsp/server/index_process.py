"""The idle-time indexer's own process: builds and updates workspace indexes for the language server.

Why a process and not a thread of the server: a cold build of a large repository (django: seconds
of parsing, with the garbage collector paused for the whole build) holds the server's interpreter,
so requests answered meanwhile wait on the GIL and on the collector. In a process of its own, at a
lower CPU priority, the build costs the server nothing but the messages.

Protocol: one JSON object per line. Tasks on stdin: `{"op": "build", "root": ..., "cache": ...}`,
`{"op": "update", "paths": [...]}`. Results on `--out-fd`, one per build and one per folder an
update touched: `{"op": ..., "root": ..., "files": N}`, or `{"op": ..., "root": ..., "error": ...}`
when it failed. The process ends
when stdin closes, so it never outlives the server that started it (also when that server is
killed: the pipe closes with it).

    python -m swe_lsp.server.index_process --out-fd N
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
from pathlib import Path
from typing import IO, Any

# Below the server and the engine: indexing is what the machine does when it has nothing better.
NICENESS = 10


def serve(tasks: IO[str], results: IO[str]) -> None:
    """Answer tasks until `tasks` closes; the indexes stay in memory between tasks, so an update
    re-reads only the saved files."""
    from swe_lsp.workspace import RepoIndex

    indexes: dict[Path, Any] = {}

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
