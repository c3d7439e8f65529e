"""`swe-lsp.resolveIssue {issue, uri?, range?, budget?, model?, workDoneToken?}` -> `{jobId}` at once.

The job is queued for the engine with a snapshot request (the workspace folder that holds the
issue's file, else the first, plus the editor's unsaved buffers); progress goes to the client's
`workDoneToken` if given, else to a server-created token.

Execution: event loop, synchronous; records the job (one SQLite insert) and sends it to the engine
worker's pipe (started on first use, which is a process spawn, not a model load).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from pygls.uris import to_fs_path

from swe_lsp.search.job import Issue, ResolveRequest
from swe_lsp.server.api.commands import command
from swe_lsp.server.params import ResolveIssueArgs, invalid
from swe_lsp.server.protocol import RESOLVE_ISSUE
from swe_lsp.server.review import open_buffers

if TYPE_CHECKING:
    from swe_lsp.server.server import SweLspServer


def issue_of(args: ResolveIssueArgs, root: Path) -> Issue:
    """The issue with where it was raised, as a workspace-relative path and 1-based lines."""
    path = None
    if args.uri and (fs := to_fs_path(args.uri)):
        try:
            path = Path(fs).relative_to(root).as_posix()
        except ValueError:
            path = None
    start = args.range.start.line + 1 if args.range and path else None
    end = args.range.end.line + 1 if args.range and path else None
    return Issue(text=args.issue, path=path, start_line=start, end_line=end)


def register(server: SweLspServer) -> None:
    @command(server, RESOLVE_ISSUE)
    def resolve_issue(ls: SweLspServer, raw: list[Any]) -> dict[str, str]:
        args = ResolveIssueArgs.parse(raw)
        root = ls.folder_for(args.uri)
        if root is None or not root.is_dir():
            raise invalid(f"{RESOLVE_ISSUE}: the server has no workspace folder; open a folder first")
        job_id = ls.new_job_id()
        buffers, _versions = open_buffers(ls.workspace, root)
        request = ResolveRequest(
            job_id=job_id,
            workspace=root,
            issue=issue_of(args, root),
            buffers=buffers,
            budget=args.budget,
            model=args.model,
            out_dir=ls.store.path.parent / "jobs" / job_id,
        )
        ls.reporter.open(job_id, "swe-lsp: resolving issue", args.work_done_token)
        ls.jobs.submit(request, ls.session.settings)
        return {"jobId": job_id}
