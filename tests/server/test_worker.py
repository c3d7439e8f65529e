"""The engine worker's own rules, without a process: the model load counted in the job's time."""

from __future__ import annotations

from swe_lsp.search.job import Cost, JobReport, StageCost
from swe_lsp.server.worker import with_model_load


def test_a_model_load_is_the_jobs_first_stage_and_in_its_time() -> None:
    report = JobReport("j", "done", cost=Cost({"patch": StageCost(10, 20, 1, 0.0, 4.0)}, wall_seconds=5.0))
    loaded = with_model_load(report, 90.0)
    assert list(loaded.cost.stages) == ["model", "patch"]
    assert loaded.cost.stages["model"].wall_seconds == 90.0
    assert loaded.cost.wall_seconds == 95.0 and loaded.cost.total.model_calls == 1


def test_an_already_loaded_model_adds_nothing() -> None:
    report = JobReport("j", "done", cost=Cost({}, wall_seconds=5.0))
    assert with_model_load(report, 0.01) is report
