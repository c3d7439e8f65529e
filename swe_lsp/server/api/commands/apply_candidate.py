"""`swe-lsp.applyCandidate {jobId, rank, hunks?}` -> `{applied, failureReason?}`: the only thing
that writes to the workspace, and only through the editor: one `workspace/applyEdit` with a label,
carrying the documents' versions, for all hunks or the chosen ones (`path#index` ids, or paths).

Before sending, every file the candidate changes is compared with the snapshot (content hash of the
open buffer, else the file on disk): if one changed, nothing is sent and the answer names it. The
versions in the edit make the editor refuse it if a buffer changes after that check; the client's
transactional handling means nothing is half-applied. The outcome (applied; declined: the editor
answered `applied: false` or an error, e.g. eglot's "User cancelled server edit"; refused as stale)
is recorded in the store as the user's feedback, and answered without a traceback.

Execution: event loop, async: it awaits the editor's answer to `workspace/applyEdit` without
blocking other messages.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from lsprotocol import types

from swe_lsp.server.api.commands import command
from swe_lsp.server.params import CandidateArgs, invalid
from swe_lsp.server.protocol import APPLY_CANDIDATE
from swe_lsp.server.review import ApplyRefused, current_documents, downgrade_edit, prepare_apply

if TYPE_CHECKING:
    from swe_lsp.server.server import SweLspServer


def register(server: SweLspServer) -> None:
    @command(server, APPLY_CANDIDATE)
    async def apply_candidate(ls: SweLspServer, raw: list[Any]) -> dict[str, Any]:
        args = CandidateArgs.parse(raw, APPLY_CANDIDATE)
        record = ls.store.job(args.job_id)
        cand = ls.store.candidate(args.job_id, args.rank)
        if record is None or cand is None:
            raise invalid(f"{APPLY_CANDIDATE}: job {args.job_id!r} has no candidate {args.rank}")
        client = ls.session.client
        if not client.apply_edit:
            raise invalid(f"{APPLY_CANDIDATE}: the editor does not support workspace/applyEdit")
        root = Path(record.workspace)
        try:
            now = current_documents(ls.workspace, root, cand.base_hashes)
            edit = prepare_apply(root, cand, now, args.hunks)
            if not (client.document_changes or client.resource_operations):
                edit = downgrade_edit(edit)
        except ApplyRefused as exc:
            ls.store.add_feedback(args.job_id, args.rank, "refused_stale", args.hunks, str(exc))
            ls.show(str(exc), types.MessageType.Warning)
            return {"applied": False, "failureReason": str(exc)}
        label = f"swe-lsp: apply candidate {args.rank} of job {args.job_id}"
        if args.hunks is not None:
            label += f" ({len(args.hunks)} hunk(s))"
        try:
            result = await ls.workspace_apply_edit_async(
                types.ApplyWorkspaceEditParams(edit=edit, label=label)
            )
        except Exception as exc:  # the client answered with an error: the user declined the edit
            reason = str(exc) or type(exc).__name__
            applied = False
        else:
            applied = bool(result.applied)
            reason = result.failure_reason or "the editor did not apply the edit"
        if applied:
            ls.store.add_feedback(args.job_id, args.rank, "applied", args.hunks)
            return {"applied": True}
        ls.store.add_feedback(args.job_id, args.rank, "declined", args.hunks, reason)
        ls.show(f"swe-lsp: candidate {args.rank} was not applied: {reason}", types.MessageType.Warning)
        return {"applied": False, "failureReason": reason}
