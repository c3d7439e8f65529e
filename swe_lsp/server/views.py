"""The JSON shapes of the custom LSP surface (camelCase, like LSP itself): a job, a candidate and
its evidence. One place, so `swe-lsp/jobs`, `swe-lsp/jobUpdated` and `swe-lsp/candidates` agree.
"""

from __future__ import annotations

import time
from typing import Any

from swe_lsp.search.job import Candidate, Cost, Evidence
from swe_lsp.server.store import JobRecord


def cost_view(cost: Cost, started: float | None = None) -> dict[str, Any]:
    """Tokens, model calls and sandbox seconds spent, in all and per stage."""
    total = cost.total
    wall = cost.wall_seconds or (time.time() - started if started else 0.0)
    return {
        "promptTokens": total.prompt_tokens,
        "completionTokens": total.completion_tokens,
        "modelCalls": total.model_calls,
        "uncountedCalls": total.uncounted_calls,
        "sandboxSeconds": round(total.sandbox_seconds, 3),
        "wallSeconds": round(wall, 3),
        "stages": {
            name: {
                "promptTokens": c.prompt_tokens,
                "completionTokens": c.completion_tokens,
                "modelCalls": c.model_calls,
                "sandboxSeconds": round(c.sandbox_seconds, 3),
                "wallSeconds": round(c.wall_seconds, 3),
            }
            for name, c in cost.stages.items()
        },
    }


def job_view(record: JobRecord) -> dict[str, Any]:
    """A job for `swe-lsp/jobs` and `swe-lsp/jobUpdated`."""
    running = record.state in ("queued", "running")
    return {
        "jobId": record.id,
        "state": record.state,
        "stage": record.stage,
        "message": record.message,
        "fraction": round(record.fraction, 4),
        "issue": record.issue.text,
        "path": record.issue.path,
        "workspace": record.workspace,
        "candidates": record.candidate_count,
        "cost": cost_view(record.cost, record.created if running else None),
        "error": record.error,
        "created": record.created,
        "updated": record.updated,
    }


def evidence_view(ev: Evidence) -> dict[str, Any]:
    """What ran in the sandbox, what passed, the scores."""
    return {
        "verified": ev.verified,
        "reproduced": ev.reproduced,
        "reproBeforeExit": ev.repro_before_exit,
        "reproAfterExit": ev.repro_after_exit,
        "testsCommand": ev.tests_command,
        "testsExit": ev.tests_exit,
        "testsOutputTail": ev.tests_output_tail,
        "reproScript": ev.repro_script,
        "prmScores": dict(ev.prm_scores),
        "ormScore": ev.orm_score,
        "votes": ev.votes,
        "notes": list(ev.notes),
    }


def candidate_view(
    cand: Candidate,
    uris: dict[str, dict[str, str]],
    hunks: list[dict[str, Any]],
    edit: Any,
    edit_error: str | None,
) -> dict[str, Any]:
    """A candidate for `swe-lsp/candidates`: rank, score, evidence, the diff, its hunks, the
    `swe-lsp:` documents to diff against, and the `WorkspaceEdit` (None, with `editError`, when it
    cannot be built as things stand)."""
    return {
        "rank": cand.rank,
        "score": cand.score,
        "summary": cand.summary,
        "files": list(cand.files),
        "diff": cand.diff,
        "hunks": hunks,
        "evidence": evidence_view(cand.evidence),
        "documents": uris,
        "edit": edit,
        "editError": edit_error,
    }
