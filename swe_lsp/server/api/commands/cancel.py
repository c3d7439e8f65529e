"""`swe-lsp.cancel {jobId}` -> `{jobId, state}`: cancel a queued job at once, or ask the engine to
stop a running one (it confirms with a `cancelled` state in `swe-lsp/jobUpdated` and the progress
end). The worker stays up for the next job. Unknown job: `InvalidParams`.

Execution: event loop, synchronous; sends one message to the engine worker.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from swe_lsp.server.api.commands import command
from swe_lsp.server.params import JobArgs, invalid
from swe_lsp.server.protocol import CANCEL

if TYPE_CHECKING:
    from swe_lsp.server.server import SweLspServer


def register(server: SweLspServer) -> None:
    @command(server, CANCEL)
    def cancel(ls: SweLspServer, raw: list[Any]) -> dict[str, str]:
        args = JobArgs.parse(raw, CANCEL)
        if ls.store.job(args.job_id) is None:
            raise invalid(f"{CANCEL}: no job {args.job_id!r}")
        return {"jobId": args.job_id, "state": ls.jobs.cancel(args.job_id)}
