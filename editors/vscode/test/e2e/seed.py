"""Seed the job store with a finished job holding one real two-hunk candidate for the VS Code
end-to-end test, so review and apply do not depend on what the embedded model produces.

Usage: python seed.py WORKSPACE  (the store is the server's default one: set XDG_DATA_HOME)
Prints a JSON object: {jobId, expectedAll, expectedSecondHunk}.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from swe_lsp.patch import Patch, content_hash
from swe_lsp.search.job import Candidate, Cost, Evidence, Issue, JobReport, StageCost
from swe_lsp.server.store import JobStore

FIX_ADD = ("    return a - b\n\n\ndef sub", "    return a + b\n\n\ndef sub")
FIX_DIV = (
    "    # TODO: raise ValueError when b is zero\n    return a / b",
    '    if b == 0:\n        raise ValueError("division by zero")\n    return a / b',
)


def main() -> None:
    root = Path(sys.argv[1]).resolve()
    path = "calc.py"
    original = (root / path).read_text()
    assert FIX_ADD[0] in original and FIX_DIV[0] in original, "the fixture's calc.py changed"
    fixed = original.replace(*FIX_ADD).replace(*FIX_DIV)
    only_div = original.replace(*FIX_DIV)
    patch = Patch.from_texts({path: original}, {path: fixed})
    assert len(patch.hunks()) == 2, patch.diff
    job_id = "e2eseeded001"
    store = JobStore()
    store.add_job(job_id, str(root), Issue(text="add() subtracts, and div() by zero is not checked", path=path))
    candidate = Candidate(
        rank=0,
        diff=patch.diff,
        files=patch.files,
        base_hashes={path: content_hash(original)},
        score=0.93,
        evidence=Evidence(
            verified=True,
            reproduced=True,
            repro_before_exit=1,
            repro_after_exit=0,
            tests_command="python -m pytest -q",
            tests_exit=0,
            tests_output_tail="2 passed",
            orm_score=0.93,
        ),
        summary="fix add() and check for division by zero",
    )
    cost = Cost({"patch": StageCost(1200, 300, 4, 1.5, 9.0)}, wall_seconds=12.0)
    store.finish_job(JobReport(job_id, "done", (candidate,), cost), {path: original})
    store.close()
    print(json.dumps({"jobId": job_id, "expectedAll": fixed, "expectedSecondHunk": only_div}))


if __name__ == "__main__":
    main()
