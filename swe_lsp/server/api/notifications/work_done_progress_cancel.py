"""`window/workDoneProgress/cancel`: the user pressed Cancel on a job's progress: cancel the job
(or the environment check whose progress it is).

Execution: event loop, synchronous; sends one message to the engine worker.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from lsprotocol import types

if TYPE_CHECKING:
    from swe_lsp.server.server import SweLspServer


def register(server: SweLspServer) -> None:
    @server.feature(types.WINDOW_WORK_DONE_PROGRESS_CANCEL)
    def cancel(ls: SweLspServer, params: types.WorkDoneProgressCancelParams) -> None:
        job_id = ls.reporter.job_for_token(params.token)
        if job_id is not None:
            ls.jobs.cancel(job_id)
        else:
            ls.env_checks.cancel(params.token)
