"""The ORM is trained on exactly the text it scores: the issue a job's preference pairs carry (the
store's export, as `swe-train orm --feedback` reads it) is byte for byte the text the ORM was
given at run time, where the issue was raised included."""

from __future__ import annotations

from pathlib import Path

from scripted import FILE_ANSWERS, GOOD_PATCH, GOOD_REPRO, ISSUE, LOCATE, OTHER_PATCH, answer, run_job

from swe_lsp.search import Issue
from swe_lsp.server.store import JobStore
from trainer.orm import store_pairs


def test_a_feedback_pair_carries_the_issue_text_the_orm_scored(workspace: Path, tmp_path: Path) -> None:
    issue = Issue(ISSUE, path="statsmini/core.py", start_line=4, end_line=6)
    scripts = {
        "understand": FILE_ANSWERS,
        "localize": LOCATE,
        "patch": [answer(GOOD_PATCH), answer(OTHER_PATCH)],
        "repro": [answer(GOOD_REPRO)],
        "refine": [answer(OTHER_PATCH)],
    }
    run = run_job(workspace, tmp_path, scripts, issue=issue)
    assert len(run.report.candidates) == 2
    scored = set(run.orm.issues)
    assert len(scored) == 1
    text = scored.pop()
    assert text.endswith("\n\n(Raised in statsmini/core.py, line 4-6.)")

    db = tmp_path / "jobs.sqlite3"
    store = JobStore(db)
    store.add_job("job", str(workspace), issue)
    store.finish_job(run.report, {})
    store.add_feedback("job", 1, "applied")
    store.close()
    pairs = store_pairs(db)
    assert len(pairs) == 1
    assert pairs[0]["issue"] == text
