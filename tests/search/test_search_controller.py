"""The algorithm with scripted policy, PRM, ORM and verifier: what survives each stage, early stop,
the budget, cancellation, and how the strategies differ."""

from __future__ import annotations

import hashlib
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from scripted import (
    BROKEN_PATCH,
    FILE_ANSWERS,
    GOOD_PATCH,
    GOOD_PATCH_REFORMATTED,
    GOOD_REPRO,
    LOCATE,
    OTHER_PATCH,
    answer,
    outcomes,
    run_job,
    stage_of,
)


def test_exactly_the_top_k_survive_each_stage(workspace: Path, tmp_path: Path) -> None:
    scripts = {
        "understand": FILE_ANSWERS,
        "localize": [*LOCATE, answer("LOCATIONS\nstatsmini/core.py:1-9")],
        "patch": [answer(GOOD_PATCH)],
        "repro": [answer(GOOD_REPRO)],
    }
    run = run_job(workspace, tmp_path, scripts)
    assert run.report.state == "done", run.report.error
    understand = outcomes(run, "understand")
    # PRM: core.py 0.9 (u0), spread 0.8 (u1), __init__ 0.1 (u2), core+spread 0.7 (u3): top 2 = u0, u1.
    assert understand == {"u0": "kept", "u1": "kept", "u2": "pruned", "u3": "pruned"}
    localize = outcomes(run, "localize")
    # n=4 split over the 2 kept parents; the same locations from both parents are one answer.
    assert localize == {"u0.l0": "kept", "u0.l1": "kept", "u1.l0": "merged", "u1.l1": "merged"}
    # n=4 patches split over the 2 kept location sets, all the same fix: one candidate, 4 votes.
    assert len(run.report.candidates) == 1
    assert run.report.candidates[0].evidence.votes == 4
    # One PRM batch per stage, over that stage's distinct candidates.
    assert [len(c) for c in run.prm.calls] == [4, 2, 1]


def test_the_same_file_set_is_one_candidate(workspace: Path, tmp_path: Path) -> None:
    # The same two files in either order are one answer: the beam keeps it once, not twice.
    same = [
        answer('["statsmini/core.py", "statsmini/spread.py"]'),
        answer('["statsmini/spread.py", "statsmini/core.py"]'),
    ]
    run = run_job(
        workspace, tmp_path, {"understand": same, "localize": LOCATE, "patch": [answer(GOOD_PATCH)]}
    )
    assert outcomes(run, "understand") == {"u0": "kept", "u1": "merged", "u2": "merged", "u3": "merged"}
    assert len(run.prm.calls[0]) == 1  # one distinct file set scored


def test_good_patch_verified_and_ranked_first(workspace: Path, tmp_path: Path) -> None:
    patches = [answer(OTHER_PATCH), answer(GOOD_PATCH)]
    run = run_job(
        workspace,
        tmp_path,
        {
            "understand": FILE_ANSWERS,
            "localize": LOCATE,
            "patch": patches,
            "repro": [answer(GOOD_REPRO)],
            "refine": [answer(OTHER_PATCH)],
        },
    )
    first, second = run.report.candidates
    assert first.evidence.verified and "raise ValueError" in first.diff
    assert not second.evidence.verified
    assert first.evidence.orm_score == 0.95 and first.rank == 1
    assert (
        first.base_hashes["statsmini/core.py"]
        == hashlib.sha256((workspace / "statsmini/core.py").read_bytes()).hexdigest()
    )


def test_early_stop_skips_the_remaining_verifications(workspace: Path, tmp_path: Path) -> None:
    # Two distinct good fixes, both with ORM 0.95 >= 0.8: the second is never verified.
    other_good = GOOD_PATCH.replace("at least one data point", "data")
    scripts = {
        "understand": FILE_ANSWERS,
        "localize": LOCATE,
        "patch": [answer(GOOD_PATCH), answer(other_good)],
        "repro": [answer(GOOD_REPRO)],
    }
    run = run_job(workspace, tmp_path, scripts)
    assert len(run.report.candidates) == 2
    assert len(run.verifier.verified_ids) == 1
    cost = (run.out / "cost.json").read_text()
    assert '"stopped_early": true' in cost
    # With the threshold out of reach, both are verified.
    run2 = run_job(workspace, tmp_path / "again", scripts, early_stop_score=1.0)
    assert len(run2.verifier.verified_ids) == 2


def test_a_refinement_is_a_new_candidate_beside_the_original(workspace: Path, tmp_path: Path) -> None:
    scripts = {
        "understand": FILE_ANSWERS[:1],
        "localize": LOCATE,
        "patch": [answer(OTHER_PATCH)],
        "repro": [answer(GOOD_REPRO)],
        "refine": [answer(GOOD_PATCH)],
    }
    run = run_job(workspace, tmp_path, scripts, budget=1, beam=1)
    assert [s for s, _ in run.policy.calls].count("refine") == 1
    refine_prompt = next(r for r in run.policy.requests if "failed verification" in r.prompt[-1].content)
    assert "ISSUE REPRODUCED" in refine_prompt.prompt[-1].content
    # Both are candidates, each verified once under its own id; the original keeps its own ORM score.
    assert run.verifier.verified_ids == ["u0.l0.p0", "u0.l0.p0.r1"]
    best, original = run.report.candidates
    assert best.evidence.verified and "raise ValueError" in best.diff and best.score == 0.95
    assert any("a refinement of u0.l0.p0" in n for n in best.evidence.notes)
    assert not original.evidence.verified and "max(len" in original.diff
    assert original.score == 0.2 and original.evidence.orm_score == 0.2 and original.evidence.votes == 1
    assert outcomes(run, "patch") == {"u0.l0.p0": "failed"}
    assert outcomes(run, "refine") == {"u0.l0.p0.r1": "verified"}


def test_a_refinement_that_fails_too_still_ranks_on_its_own_score(workspace: Path, tmp_path: Path) -> None:
    # The refinement is a worse fix by the ORM (0.1) than the original (0.2): with the old replace,
    # the original and its score were gone; now the original ranks first among the unverified.
    scripts = {
        "understand": FILE_ANSWERS[:1],
        "localize": LOCATE,
        "patch": [answer(OTHER_PATCH)],
        "repro": [answer(GOOD_REPRO)],
        "refine": [answer(BROKEN_PATCH.replace("return total / count", "return sum(values) / len(values)"))],
    }
    run = run_job(workspace, tmp_path, scripts, budget=1, beam=1, orm=[("return 0", 0.1)])
    first, second = run.report.candidates
    assert not first.evidence.verified and not second.evidence.verified
    assert "max(len" in first.diff and first.score == 0.2
    assert "return 0" in second.diff and second.score == 0.1


def test_unresolved_location_is_sent_back(workspace: Path, tmp_path: Path) -> None:
    localize = [answer("LOCATIONS\nstatsmini/core.py::average"), answer("LOCATIONS\nstatsmini/core.py::mean")]
    scripts = {
        "understand": FILE_ANSWERS[:1],
        "localize": localize,
        "patch": [answer(GOOD_PATCH)],
        "repro": [answer(GOOD_REPRO)],
    }
    run = run_job(workspace, tmp_path, scripts, budget=1, beam=1)
    second = [
        r
        for r in run.policy.requests
        if r.prompt[-1].role == "user" and "do not resolve" in r.prompt[-1].content
    ]
    assert len(second) == 1 and "average" in second[0].prompt[-1].content
    # History pruning: the earlier turn is replayed as its answer only.
    assert second[0].prompt[-2].content == "<answer>\nLOCATIONS\nstatsmini/core.py::average\n</answer>"
    assert run.report.candidates[0].evidence.verified


def test_unmatched_edit_blocks_get_feedback_then_a_retry(workspace: Path, tmp_path: Path) -> None:
    scripts = {
        "understand": FILE_ANSWERS[:1],
        "localize": LOCATE,
        "patch": [answer(BROKEN_PATCH)],
        "patch_retry": [answer(GOOD_PATCH)],
        "repro": [answer(GOOD_REPRO)],
    }
    run = run_job(workspace, tmp_path, scripts, budget=1, beam=1)
    retry = next(r for r in run.policy.requests if "could not be applied" in r.prompt[-1].content)
    assert "SEARCH text was not found" in retry.prompt[-1].content
    assert run.report.candidates and "raise ValueError" in run.report.candidates[0].diff
    # With no retries allowed, the broken patch is the end of it.
    run2 = run_job(workspace, tmp_path / "no-retry", scripts, budget=1, beam=1, max_refinements=0)
    assert run2.report.candidates == ()


def test_budget_n_samples_per_stage(workspace: Path, tmp_path: Path) -> None:
    for n, k in ((1, 1), (3, 2), (5, 2)):
        run = run_job(workspace, tmp_path / f"n{n}", budget=n, beam=k)
        asked = Counter()
        for stage, count in run.policy.calls:
            asked[stage] += count
        assert asked["understand"] == n
        assert asked["patch"] == n  # every patch applied: no retries
        first_round = [
            c
            for (s, c), r in zip(run.policy.calls, run.policy.requests, strict=True)
            if s == "localize" and len(r.prompt) == 2
        ]
        assert sum(first_round) == n


def test_token_ceiling_stops_the_search(
    workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from swe_lsp.search import context

    real = context.SearchConfig.from_settings

    def tiny(*args: Any, **kwargs: Any) -> context.SearchConfig:
        cfg = real(*args, **kwargs)
        return context.SearchConfig(**{**cfg.__dict__, "token_ceiling": 500})

    monkeypatch.setattr(context.SearchConfig, "from_settings", staticmethod(tiny))
    run = run_job(workspace, tmp_path)
    assert run.report.state == "done"
    assert '"budget_exhausted": true' in (run.out / "cost.json").read_text()
    assert not any(stage == "patch" for stage, _ in run.policy.calls)


@pytest.mark.parametrize("stage", ["understand", "localize", "patch", "repro"])
def test_cancellation_between_calls(workspace: Path, tmp_path: Path, stage: str) -> None:
    run = run_job(workspace, tmp_path, cancel_at=stage)
    assert run.report.state == "cancelled"
    assert run.report.candidates == ()
    later = {"understand": 1, "localize": 2, "patch": 3, "repro": 4}
    assert all(later[s] <= later[stage] for s, _ in run.policy.calls if s in later)
    assert run.verifier.verified_ids == []


def test_progress_is_monotone_and_ends_at_one(workspace: Path, tmp_path: Path) -> None:
    run = run_job(workspace, tmp_path)
    fractions = [p.fraction for p in run.progress]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    assert {p.stage for p in run.progress} >= {
        "snapshot",
        "index",
        "understand",
        "localize",
        "patch",
        "verify",
        "rank",
    }


def test_strategies_differ_as_specified(workspace: Path, tmp_path: Path) -> None:
    patches = [answer(OTHER_PATCH), answer(GOOD_PATCH), answer(OTHER_PATCH), answer(GOOD_PATCH_REFORMATTED)]
    scripts = {
        "understand": FILE_ANSWERS,
        "localize": LOCATE,
        "patch": patches,
        "repro": [answer(GOOD_REPRO)],
        "refine": [answer(OTHER_PATCH)],
    }
    runs = {
        s: run_job(workspace, tmp_path / s, scripts, strategy=s, max_refinements=0, early_stop_score=1.0)
        for s in ("devsearch", "exec", "orm_exec", "vote")
    }
    # Only devsearch uses the PRM; only devsearch and orm_exec the ORM; vote runs nothing.
    assert runs["devsearch"].prm.calls and not any(runs[s].prm.calls for s in ("exec", "orm_exec", "vote"))
    assert runs["orm_exec"].orm.calls and not runs["exec"].orm.calls and not runs["vote"].orm.calls
    assert runs["vote"].verifier.verified_ids == []
    # exec and orm_exec verify every distinct rollout patch (2 distinct fixes from 4 rollouts).
    assert len(runs["exec"].verifier.verified_ids) == 2 == len(runs["orm_exec"].verifier.verified_ids)
    for s in ("exec", "orm_exec", "devsearch"):
        assert runs[s].report.candidates[0].evidence.verified, s
    # vote: 2 votes each; the tie keeps sampling order, so the other patch comes first.
    vote = runs["vote"].report.candidates
    assert [c.evidence.votes for c in vote] == [2, 2] and "max(len" in vote[0].diff
    assert vote[0].score == 0.5
    assert runs["exec"].report.candidates[0].score == 1.0


def test_failures_become_report_states(workspace: Path, tmp_path: Path) -> None:
    run = run_job(workspace, tmp_path, strategy="nope")
    assert run.report.state == "failed" and "unknown strategy" in (run.report.error or "")
    missing = run_job(tmp_path / "missing", tmp_path / "m")
    assert missing.report.state == "failed" and "no such folder" in (missing.report.error or "")


def test_patch_requests_are_constrained_to_the_shown_code(workspace: Path, tmp_path: Path) -> None:
    run = run_job(workspace, tmp_path, budget=1, beam=1)
    (patch,) = [r for r in run.policy.requests if stage_of(r) == "patch"]
    assert patch.constraint is not None and patch.constraint.accepts(answer(GOOD_PATCH))
    assert not patch.constraint.accepts(answer(GOOD_PATCH.replace("    values = list", "  values = list", 1)))
    free = run_job(workspace, tmp_path / "free", budget=1, beam=1, constrain_patches=False)
    assert [r.constraint for r in free.policy.requests if stage_of(r) == "patch"] == [None]
    assert free.report.candidates and run.report.candidates[0].diff == free.report.candidates[0].diff
