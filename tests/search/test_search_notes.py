"""What a job's report notes say of how it ran: without a PRM (`prm = "none"`), the beam keeps each
stage's k candidates by vote (the cost file says so too); an embedding model that cannot load leaves
the symbols in the hand-weighted order and no learned ranker leaves the first stage's file order,
and the job goes on; the symbols the idle time did not embed are embedded with progress."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from scripted import GOOD_PATCH, GOOD_REPRO, LOCATE, answer, outcomes, read_trajectory, run_job

from swe_lsp.search.controller import BEAM_WITHOUT_PRM
from swe_lsp.search.engine import NO_LEARNED_RANKER

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


def test_an_embedding_model_that_cannot_load_is_a_note_not_a_failure(workspace: Path, tmp_path: Path) -> None:
    broken = tmp_path / "my-model"
    broken.mkdir()
    (broken / "config.json").write_text("{ not json")
    run = run_job(workspace, tmp_path, embedding_model=str(broken))
    assert run.report.state == "done", run.report.error
    (note,) = run.report.notes
    assert note.startswith(
        f"symbols ranked without the embedding model: cannot load the embedding model in {broken}"
    )
    assert run.report.candidates  # the search went on


def test_symbols_not_embedded_ahead_are_embedded_with_progress(workspace: Path, tmp_path: Path) -> None:
    run = run_job(workspace, tmp_path)  # a fresh cache: nothing was embedded ahead
    said = [p.message for p in run.progress if p.stage == "index"]
    assert any(m.startswith("embedding the best symbols (") for m in said), said
    last = [m for m in said if m.startswith("embedding")][-1]
    done, total = last.removeprefix("embedding the best symbols (").rstrip(")").split("/")
    assert done == total and int(total) > 0
    again = run_job(workspace, tmp_path)  # the same cache: the vectors are kept
    assert again.report.state == "done", again.report.error
    assert not any(p.message.startswith("embedding") for p in again.progress)


def test_no_learned_ranker_is_a_note(
    workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from swe_lsp.workspace.ranker import Ranker

    monkeypatch.setattr(Ranker, "load", classmethod(lambda cls, path, names=(): None))  # as without LightGBM
    run = run_job(workspace, tmp_path)
    assert run.report.state == "done", run.report.error
    assert run.report.notes == (NO_LEARNED_RANKER,)
    assert run.report.candidates
    off = run_job(workspace, tmp_path / "off", history_ranker=False)  # the user's choice: nothing to say
    assert off.report.notes == ()
