"""`swe-lsp.discardJob {jobId}` -> `{jobId, discarded: true}`: cancel the job if it runs, hide it
from `swe-lsp/jobs`, and record the user's rejection of its candidates (the trainer's ORM data).
Unknown job: `InvalidParams`.

Execution: event loop, synchronous; two SQLite writes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from swe_lsp.server.api.commands import command
from swe_lsp.server.params import JobArgs, invalid
from swe_lsp.server.protocol import DISCARD_JOB

if TYPE_CHECKING:
    from swe_lsp.server.server import SweLspServer


def register(server: SweLspServer) -> None:
    @command(server, DISCARD_JOB)
    def discard_job(ls: SweLspServer, raw: list[Any]) -> dict[str, Any]:
        args = JobArgs.parse(raw, DISCARD_JOB)
        if ls.store.job(args.job_id) is None:
            raise invalid(f"{DISCARD_JOB}: no job {args.job_id!r}")
        ls.jobs.cancel(args.job_id)
        ls.store.discard(args.job_id)
        return {"jobId": args.job_id, "discarded": True}
