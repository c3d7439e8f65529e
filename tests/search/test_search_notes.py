"""Without a PRM (`prm = "none"`), the beam keeps each stage's k candidates by vote, and the job's
report and cost file say so."""

from __future__ import annotations

import json
from pathlib import Path

from scripted import GOOD_PATCH, GOOD_REPRO, LOCATE, answer, outcomes, read_trajectory, run_job

from swe_lsp.search.controller import BEAM_WITHOUT_PRM

CORE = answer('["statsmini/core.py"]')
SPREAD = answer('["statsmini/spread.py"]')
INIT = answer('["statsmini/__init__.py"]')


def test_without_a_prm_the_beam_keeps_by_vote(workspace: Path, tmp_path: Path) -> None:
    # Four samples: spread once (u0), core twice (u1, u2), __init__ once (u3). k = 2 keeps core (two
    # votes) and then spread (one vote, sampled before __init__).
    scripts = {
        "understand": [SPREAD, CORE, CORE, INIT],
        "localize": LOCATE,
        "patch": [answer(GOOD_PATCH)],
        "repro": [answer(GOOD_REPRO)],
    }
    run = run_job(workspace, tmp_path, scripts, no_prm=True)
    assert run.report.state == "done", run.report.error
    assert outcomes(run, "understand") == {"u0": "kept", "u1": "kept", "u2": "merged", "u3": "pruned"}
    records = {r.candidate_id: r for r in read_trajectory(run.out / "trajectory.jsonl")}
    assert records["u1"].detail == "kept by vote: 2 sample(s)"
    assert records["u3"].detail == "pruned by vote: 1 sample(s)"
    assert all(r.prm is None for r in records.values())
    assert run.prm.calls == []  # the PRM double is not even reachable
    assert run.report.notes == (BEAM_WITHOUT_PRM,)
    assert json.loads((run.out / "cost.json").read_text())["beam_rule"] == BEAM_WITHOUT_PRM
    # The ORM still ranks the final patches.
    assert run.report.candidates and run.report.candidates[0].evidence.orm_score == 0.95


def test_with_a_prm_the_report_has_no_beam_note(workspace: Path, tmp_path: Path) -> None:
    run = run_job(workspace, tmp_path)
    assert run.report.notes == ()
    assert json.loads((run.out / "cost.json").read_text())["beam_rule"] is None
    assert run.prm.calls  # the PRM scored the stages
