"""`swe-lsp/jobs {all?}` -> `{jobs: [job, ...]}`, newest first: this workspace's jobs (every
workspace's with `all: true`), discarded ones left out. See `views.job_view` for a job's fields.

Execution: event loop, synchronous; one indexed SQLite query (sub-millisecond for hundreds of jobs).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from swe_lsp.server.params import JobsArgs
from swe_lsp.server.protocol import JOBS
from swe_lsp.server.views import job_view

if TYPE_CHECKING:
    from swe_lsp.server.server import SweLspServer


def register(server: SweLspServer) -> None:
    @server.feature(JOBS)
    def jobs(ls: SweLspServer, params: Any) -> dict[str, Any]:
        args = JobsArgs.parse(params)
        records = ls.store.jobs()
        if not args.all_workspaces and ls.folders:
            mine = {str(f) for f in ls.folders}
            records = [r for r in records if r.workspace in mine]
        return {"jobs": [job_view(r) for r in records]}
