"""`swe-lsp/candidateDiff {jobId, rank}` -> `{jobId, rank, diff, files}`: one candidate's unified
diff (for clients that show the patch as text). Unknown job or rank: `InvalidParams`.

Execution: event loop, synchronous; one SQLite read.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from swe_lsp.server.params import CandidateArgs, invalid
from swe_lsp.server.protocol import CANDIDATE_DIFF

if TYPE_CHECKING:
    from swe_lsp.server.server import SweLspServer


def register(server: SweLspServer) -> None:
    @server.feature(CANDIDATE_DIFF)
    def candidate_diff(ls: SweLspServer, params: Any) -> dict[str, Any]:
        args = CandidateArgs.parse(params, CANDIDATE_DIFF)
        cand = ls.store.candidate(args.job_id, args.rank)
        if cand is None:
            raise invalid(f"{CANDIDATE_DIFF}: job {args.job_id!r} has no candidate {args.rank}")
        return {"jobId": args.job_id, "rank": args.rank, "diff": cand.diff, "files": list(cand.files)}
