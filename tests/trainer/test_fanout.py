"""Issue 15, part 4: `swe-train eval`, `synth` and `reject` as Ray tasks, on a local Ray instance of two
worker processes over three instances of the two-issue repository (the third is the first issue
with a FAIL_TO_PASS test the gold patch does not pass, so its environment "does not build").

The teacher is scripted per issue and answers the same whatever order it is asked in, so the Ray
run and the sequential run must write the same results, timings aside. Tasks run in other
processes: each logs the pid that opened its model to a file, which is how a test can tell that a
rerun recomputed nothing."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from repo_fixture import ISSUES
from teacher_double import SCRIPTS, ScriptedTeacher, answer, edit_block

from swe_lsp.llm import Backend, GenerateRequest, Generation, get_manifest
from swe_lsp.llm.openai_backend import OpenAIBackend
from swe_lsp.sandbox.local_sandbox import LocalSandbox
from swe_lsp.settings import ModelSettings, SandboxSettings, Settings
from trainer.cli import main
from trainer.evaluate import evaluate
from trainer.fanout import EndpointModel, FanoutError, RayOptions, connect, fan_out, raise_failures
from trainer.instances import DataError, Instance, read_instances
from trainer.ray_steps import evaluate_on_ray, reject_on_ray, synthesize_on_ray
from trainer.reject import reject
from trainer.runs import Runner
from trainer.synth import synthesize

HERE = Path(__file__).resolve().parent
CLAMP_SCRIPT = """```python
import sys
from pkg.core import clamp
if clamp(10, 0, 5) == 5:
    print("ISSUE RESOLVED")
    sys.exit(0)
print("ISSUE REPRODUCED")
sys.exit(1)
```"""
CLAMP_FIX = edit_block("    return max(low, value)\n", "    return min(high, max(low, value))\n")
CLAMP = {
    "understand": [answer('["pkg/core.py"]')],
    "localize": [answer("LOCATIONS\npkg/core.py::clamp")],
    "patch": [answer(CLAMP_FIX)],
    "repro": [answer(CLAMP_SCRIPT)],
    "refine": [answer(CLAMP_FIX)],
}
TIMINGS = ("wall_seconds", "sandbox_seconds")


class TwoIssueTeacher(ScriptedTeacher):
    """The scripted teacher of `teacher_double` for `mean-empty` (a wrong patch, then the right
    one on refinement), and a right patch at once for `clamp-high`, chosen by the issue in the
    prompt: one answer per stage, so what it says does not depend on what it was asked before."""

    def generate(self, requests: Sequence[GenerateRequest]) -> list[Generation]:
        out = []
        for r in requests:
            text = "\n".join(m.content for m in r.prompt if not isinstance(r.prompt, str))
            self.scripts = CLAMP if ISSUES["clamp-high"][:40] in text else SCRIPTS
            out += super().generate([r])
        return out


@dataclass(frozen=True)
class TeacherModel:
    """The teacher as a Ray task opens it (the test's stand-in for `EndpointModel`): every open
    appends the opening process's pid to `log`."""

    log: Path

    def open(self) -> Backend:
        with self.log.open("a", encoding="utf-8") as fh:
            fh.write(f"{os.getpid()}\n")
        return TwoIssueTeacher()


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[RayOptions]:
    """A local Ray instance with two worker processes for the module, shut down after it. Its
    session folder is a short one under /tmp (Ray's socket paths must fit in about 107 bytes,
    which pytest's tmp_path does not promise); the workers import this folder's test doubles."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")
    options = RayOptions(workers=2, temp_dir=temp, runtime_env={"env_vars": {"PYTHONPATH": str(HERE)}})
    with connect(options):
        yield options
    shutil.rmtree(temp, ignore_errors=True)


@pytest.fixture
def instances(pr_list: Path, tmp_path: Path) -> list[Instance]:
    run = tmp_path / "collected"
    assert main(["collect", "--git", str(pr_list), "--out", str(run)]) == 0
    found = {i.instance_id: i for i in read_instances(run / "collect" / "instances.jsonl")}
    broken = Instance(
        **{
            **found["mean-empty"].to_json(),
            "instance_id": "broken-env",
            "FAIL_TO_PASS": ("tests/test_core.py::nope",),
        }
    )
    return [found["mean-empty"], found["clamp-high"], broken]


def _settings(tmp_path: Path) -> Settings:
    return Settings.model_validate(
        {
            "cache_dir": str(tmp_path / "cache"),
            "model": {"seed": 0},
            "search": {"budget": 1, "beam": 1, "max_localization_rounds": 1, "max_refinements": 1},
            "sandbox": {"kind": "local", "timeout_s": 60},
        }
    )


def _rows(path: Path) -> list[dict[str, Any]]:
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    return [{k: v for k, v in r.items() if k not in TIMINGS} for r in rows]


def _report(path: Path) -> dict[str, Any]:
    report = json.loads(path.read_text())
    for row in report["budgets"].values():
        for key in TIMINGS:
            del row["cost_per_instance"][key]
    return report


def _opens(log: Path) -> list[int]:
    return [int(line) for line in log.read_text().split()] if log.is_file() else []


def test_eval_on_two_ray_workers_merges_as_the_sequential_run_and_resumes(
    ray_cluster: RayOptions, instances: list[Instance], tmp_path: Path
) -> None:
    settings = _settings(tmp_path)
    budgets = [1]
    alone = tmp_path / "sequential"
    with LocalSandbox(SandboxSettings(kind="local", timeout_s=60)) as box:
        expected = evaluate(
            instances, TwoIssueTeacher(), settings, alone, budgets, Runner(box, 60), "scripted"
        )
    # The doubles answer as meant: one resolved, one not (wrong, then refined), one unscored.
    by = {(r["instance_id"], r["budget"]): r for r in _rows(alone / "eval" / "results.jsonl")}
    assert by["clamp-high", 1]["resolved"] is True and by["mean-empty", 1]["resolved"] is True
    assert by["broken-env", 1]["resolved"] is None and by["broken-env", 1]["environment"] != "builds"

    log = tmp_path / "opens.log"
    out = tmp_path / "ray"
    done: list[str] = []
    report = evaluate_on_ray(
        instances, TeacherModel(log), settings, out, budgets, "scripted", ray_cluster, advance=done.append
    )
    pids = _opens(log)
    assert len(pids) == 3 and os.getpid() not in pids  # one task per instance, none in the driver
    assert len(set(pids)) <= 2  # on the two worker processes
    assert sorted(done) == sorted(f"{i.instance_id} done" for i in instances)  # merged as each finished
    assert _rows(out / "eval" / "results.jsonl") == _rows(alone / "eval" / "results.jsonl")
    assert _report(out / "eval" / "report.json") == _report(alone / "eval" / "report.json")
    assert report["environment"] == expected["environment"]
    for name in ("predictions.jsonl", "predictions-n1.jsonl"):
        assert (out / "eval" / name).read_text() == (alone / "eval" / name).read_text()
    # The workers' job folders came back to the driver's run folder.
    assert (out / "eval" / "jobs" / "clamp-high-n1" / "trajectory.jsonl").is_file()

    # A rerun finds everything done: no task runs, nothing changes.
    before = (out / "eval" / "results.jsonl").read_text()
    evaluate_on_ray(instances, TeacherModel(log), settings, out, budgets, "scripted", ray_cluster)
    assert len(_opens(log)) == 3
    assert (out / "eval" / "results.jsonl").read_text() == before

    # An interrupted run: clamp-high's rows never made it, and the last append was cut short.
    kept = [line for line in before.splitlines() if '"clamp-high"' not in line]
    (out / "eval" / "results.jsonl").write_text("\n".join(kept) + '\n{"instance_id": "clamp-hi')
    evaluate_on_ray(instances, TeacherModel(log), settings, out, budgets, "scripted", ray_cluster)
    assert len(_opens(log)) == 4  # only clamp-high ran again
    assert _rows(out / "eval" / "results.jsonl") == _rows(alone / "eval" / "results.jsonl")

    # Another model's evaluation is never mixed into this one's file.
    with pytest.raises(DataError, match="holds results of scripted"):
        evaluate_on_ray(instances, TeacherModel(log), settings, out, budgets, "other", ray_cluster)


def test_synth_then_reject_on_two_ray_workers_write_the_sequential_files_and_resume(
    ray_cluster: RayOptions, instances: list[Instance], tmp_path: Path
) -> None:
    instances = instances[:2]  # both issues: the eval test covers the broken environment
    settings = _settings(tmp_path)
    alone = tmp_path / "sequential"
    expected = synthesize(instances, TwoIssueTeacher(), settings, alone, samples=1)
    log = tmp_path / "opens.log"
    out = tmp_path / "ray"
    summary = synthesize_on_ray(instances, TeacherModel(log), settings, out, 1, ray_cluster)
    assert len(_opens(log)) == 2
    assert summary == expected and (summary.run, summary.failed, summary.resolved) == (2, 0, 2)
    for inst in instances:
        ours = json.loads((out / "synth" / inst.instance_id / "0" / "report.json").read_text())
        theirs = json.loads((alone / "synth" / inst.instance_id / "0" / "report.json").read_text())
        for report in (ours, theirs):
            for key in TIMINGS:
                del report["cost"][key]
        assert ours == theirs
        assert (out / "synth" / inst.instance_id / "0" / "trajectory.jsonl").is_file()
    again = synthesize_on_ray(instances, TeacherModel(log), settings, out, 1, ray_cluster)
    assert len(_opens(log)) == 2 and (again.run, again.skipped) == (0, 2)

    # reject over each run's trajectories, judged here and as Ray tasks: the same files.
    with LocalSandbox(SandboxSettings(kind="local", timeout_s=60)) as box:
        expected_report = reject(instances, alone, Runner(box, 60))
    box_settings = SandboxSettings(kind="local", timeout_s=60)
    report = reject_on_ray(instances, out, box_settings, 60, ray_cluster)
    assert report == expected_report and report["counts"]["instances"] == 2 and report["orm_pairs"] > 0
    for name in ("sft.jsonl", "labels.jsonl", "pairs.jsonl", "report.json"):
        assert (out / "reject" / name).read_text() == (alone / "reject" / name).read_text(), name
    judged = (out / "reject" / "instances.jsonl").read_text()
    assert reject_on_ray(instances, out, box_settings, 60, ray_cluster) == report
    assert (out / "reject" / "instances.jsonl").read_text() == judged  # nothing judged again


def test_ray_refuses_a_model_each_task_would_load_and_a_local_endpoint_on_a_cluster(tmp_path: Path) -> None:
    manifest = get_manifest("smollm2-135m")
    with pytest.raises(FanoutError, match="loaded in process by each task"):
        EndpointModel.of(manifest, ModelSettings(backend="transformers"), tmp_path, cluster=False)
    local = ModelSettings(backend="openai", base_url="http://localhost:8000/v1")
    assert EndpointModel.of(manifest, local, tmp_path, cluster=False).settings == local
    with pytest.raises(FanoutError, match="local to this machine"):
        EndpointModel.of(manifest, local, tmp_path, cluster=True)
    remote = ModelSettings(backend="openai", base_url="http://gpu-node:8000/v1")
    model = EndpointModel.of(manifest, remote, tmp_path, cluster=True)
    # What a task receives: a pickled copy, which opens a client of the endpoint and loads nothing.
    with pickle.loads(pickle.dumps(model)).open() as backend:
        assert isinstance(backend, OpenAIBackend)


def _half(n: int) -> float:
    """A task for the failure test: odd numbers are an error, as a step's bug would be."""
    if n % 2:
        raise ValueError(f"{n} is odd")
    return n / 2


def test_a_failed_task_leaves_no_result_and_the_run_ends_naming_it(ray_cluster: RayOptions) -> None:
    """The other tasks' results are still merged (the driver must not stop at the first failure),
    and the error says which instances failed and that a rerun retries them."""
    merged: dict[str, float] = {}
    jobs = [(f"i{n}", (n,)) for n in range(5)]
    failures = fan_out(_half, jobs, ray_cluster, merged.__setitem__)
    assert merged == {"i0": 0.0, "i2": 1.0, "i4": 2.0}
    assert sorted(failures) == ["i1", "i3"] and failures["i1"] == "ValueError: 1 is odd"
    with pytest.raises(FanoutError, match=r"2 of 5 instance task\(s\) failed.*i1: ValueError: 1 is odd"):
        raise_failures(failures, len(jobs))
    raise_failures({}, len(jobs))  # nothing failed: nothing raised
