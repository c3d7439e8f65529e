"""`swe-lsp localize`: ranked files and symbols for an issue (retrieval only, no model yet).

It runs on a snapshot of the workspace, as a job does, so it sees unsaved-to-git work and skips
ignored files; the index is cached under the workspace's key, so a second run starts warm.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from swe_lsp.cli.common import load_workspace_settings, positive_int, read_issue


def register(subparsers: Any) -> None:
    """Add the `localize` subcommand."""
    parser = subparsers.add_parser(
        "localize",
        help="rank the files and symbols an issue is likely about",
        description="Rank the files and symbols of a workspace for an issue (retrieval only).",
    )
    parser.add_argument("--workspace", type=Path, default=Path.cwd(), help="workspace folder (default: .)")
    parser.add_argument("--issue", required=True, help="file with the issue text, or - for standard input")
    parser.add_argument("--top", type=positive_int, default=10, help="how many files (default 10)")
    parser.add_argument("--symbols", type=positive_int, default=None, help="symbols (default 2 x top)")
    parser.add_argument(
        "--json", action="store_true", help='print {"files": [...], "symbols": [{"file", "name"}]} only'
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Snapshot, index, retrieve, print."""
    from swe_lsp.workspace import RepoIndex, WorkspaceError, make_snapshot, retrieve

    issue = read_issue(args.issue)
    workspace = args.workspace.resolve()
    if not workspace.is_dir():
        raise WorkspaceError(f"{args.workspace}: no such folder; pass the workspace with --workspace")
    cache_dir = load_workspace_settings(workspace).settings.cache_path()
    with make_snapshot(workspace, {}, cache_dir) as snapshot:
        index = RepoIndex.build_or_load(snapshot.root, cache_dir, key=str(workspace))
        found = retrieve(index, issue, top=args.top, top_symbols=args.symbols or 2 * args.top)
    if args.json:
        print(json.dumps(found.to_json()))
        return 0
    print("Files:")
    for n, hit in enumerate(found.files, 1):
        print(f"{n:>3}. {hit.path}  ({hit.score:.3f}: {', '.join(hit.reasons)})")
    print("Symbols:")
    for n, sym in enumerate(found.symbols, 1):
        print(f"{n:>3}. {sym.file}:{sym.start}-{sym.end} {sym.name} [{sym.kind}]  ({sym.score:.3f})")
    return 0
