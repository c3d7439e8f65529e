"""A finished job with one real candidate on the calc workspace, recorded in the job store as the
engine would have, for the editors' review-and-apply tests.

The models a test can run here are too weak to promise a candidate, so the editors review and apply
a seeded one. Both editors seed through this module (Neovim's pytest by import, VS Code's
end-to-end runner through the command line below), so they review the same workspace and the same
kind of candidate, and a change to the store's schema breaks one place, not two.

Command line (the store is the server's default one: set XDG_DATA_HOME as the server will see it):

    python tests/seeded_jobs.py WORKSPACE [JOB_ID]

creates the calc workspace at WORKSPACE (which must not exist), seeds a job whose candidate fixes
`add` and `div` (two hunks) and prints a JSON object: {jobId, original, expectedAll, expectedHunks}
where expectedHunks[i] is calc.py with only hunk i applied.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from calc_workspace import BUGGY, make_calc_workspace

from swe_lsp.patch import Patch, content_hash
from swe_lsp.search.job import Candidate, Cost, Evidence, Issue, JobReport, StageCost
from swe_lsp.server.store import JobStore

PATH = "calc.py"


@dataclass(frozen=True)
class Fix:
    """One change to calc.py: `before` (which occurs exactly once in it) becomes `after`;
    `problem` is how an issue would describe it, `summary` how a candidate would."""

    before: str
    after: str
    problem: str
    summary: str


FIX_ADD = Fix("    return a - b\n", "    return a + b\n", "add() subtracts", "add: return the sum")
FIX_DIV = Fix(
    '    """Divide a by b."""\n    return a / b\n',
    '    """Divide a by b."""\n'
    "    if b == 0:\n"
    '        raise ValueError("division by zero")\n'
    "    return a / b\n",
    "div() does not check for a zero divisor",
    "div: refuse a zero divisor",
)


@dataclass(frozen=True)
class SeededJob:
    """What a test checks a seeded job's review and apply against (texts of calc.py)."""

    job_id: str
    original: str
    expected_all: str
    expected_hunks: tuple[str, ...]


def apply_fixes(text: str, fixes: Sequence[Fix]) -> str:
    """`text` with `fixes` applied; each must match exactly once, or the fixture and the fixes
    have drifted apart and the seeded candidate would not be the one the test expects."""
    for fix in fixes:
        assert text.count(fix.before) == 1, f"calc.py has {text.count(fix.before)} of {fix.before!r}"
        text = text.replace(fix.before, fix.after)
    return text


def seed_done_job(workspace: Path, job_id: str, fixes: Sequence[Fix] = (FIX_ADD,)) -> SeededJob:
    """Record a finished job on `workspace` with one verified candidate (score 0.90) that applies
    `fixes` to calc.py, one hunk per fix, in the store the server will open (XDG_DATA_HOME)."""
    original = (workspace / PATH).read_text()
    assert original == BUGGY, "the workspace is not the calc fixture (tests/calc_workspace.py)"
    fixed = apply_fixes(original, fixes)
    patch = Patch.from_texts({PATH: original}, {PATH: fixed})
    assert len(patch.hunks()) == len(fixes), f"expected one hunk per fix:\n{patch.diff}"
    candidate = Candidate(
        rank=0,
        diff=patch.diff,
        files=patch.files,
        base_hashes={PATH: content_hash(original)},
        score=0.9,
        evidence=Evidence(
            verified=True,
            reproduced=True,
            repro_before_exit=1,
            repro_after_exit=0,
            tests_command="python -m pytest -q",
            tests_exit=0,
            tests_output_tail="1 passed",
            orm_score=0.9,
        ),
        summary="; ".join(f.summary for f in fixes),
    )
    issue = Issue("; ".join(f.problem for f in fixes), PATH, 3, 3)
    cost = Cost({"patch": StageCost(1200, 300, 4, 1.5, 9.0)}, wall_seconds=12.0)
    store = JobStore()
    try:
        store.add_job(job_id, str(workspace), issue, state="running")
        store.finish_job(JobReport(job_id, "done", (candidate,), cost), {PATH: original})
    finally:
        store.close()
    return SeededJob(
        job_id=job_id,
        original=original,
        expected_all=fixed,
        expected_hunks=tuple(apply_fixes(original, [f]) for f in fixes),
    )


def main(argv: Sequence[str]) -> None:
    """The command line described in the module's docstring."""
    if len(argv) not in (1, 2):
        raise SystemExit("usage: python tests/seeded_jobs.py WORKSPACE [JOB_ID]")
    workspace = make_calc_workspace(Path(argv[0]).resolve())
    job = seed_done_job(workspace, argv[1] if len(argv) > 1 else "e2eseeded001", (FIX_ADD, FIX_DIV))
    print(
        json.dumps(
            {
                "jobId": job.job_id,
                "original": job.original,
                "expectedAll": job.expected_all,
                "expectedHunks": list(job.expected_hunks),
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1:])
