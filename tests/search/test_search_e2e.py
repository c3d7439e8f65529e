"""End to end: `resolve` on the example workspace with the embedded model through the real default
backend (the pipeline runs honestly; solving the issue is not expected of a 135M model), and with
a scripted policy that writes the known-good patch, verified in a real sandbox."""

from __future__ import annotations

import hashlib
import json
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import pytest
from scripted import (
    EXAMPLE,
    GOOD_PATCH,
    GOOD_REPRO,
    ISSUE,
    OTHER_PATCH,
    ContainsScorer,
    ScriptedPolicy,
    answer,
    roles,
)

from swe_lsp.llm import GenerateRequest, Generation, Score, ScoreRequest
from swe_lsp.llm.backend import Backend, ChatTemplate
from swe_lsp.search import COST_FILE, Issue, Progress, ResolveRequest, read_trajectory, resolve
from swe_lsp.settings import Settings


def tree_digest(root: Path) -> dict[str, str]:
    """Every file under `root` by content hash. (Not the enclosing repository's .git/index: other
    git clients on a shared checkout refresh it; the snapshot's own tests cover .git.)"""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def isolated_kind() -> str:
    """bwrap where it works here, else docker where an engine answers, else local (the model's
    script then runs unisolated, in a temporary copy)."""
    from swe_lsp.sandbox.bwrap_sandbox import bwrap_problem
    from swe_lsp.sandbox.docker_engine import engine_problem

    if bwrap_problem() is None:
        return "bwrap"
    return "docker" if engine_problem() is None else "local"


@pytest.mark.slow
def test_embedded_model_runs_the_whole_pipeline(model_cache: Path, tmp_path: Path) -> None:
    """The in-repo example (a subfolder of this git repository) through the transformers backend."""
    from swe_lsp.llm import get_manifest, open_backend

    settings = Settings.model_validate(
        {
            "cache_dir": str(model_cache),
            "model": {"backend": "transformers", "threads": 1, "seed": 0},
            "search": {
                "budget": 1,
                "beam": 1,
                "max_localization_rounds": 1,
                "max_refinements": 0,
                "max_tokens": 96,
            },
            "sandbox": {"kind": isolated_kind(), "timeout_s": 120},
        }
    )
    before = tree_digest(EXAMPLE)
    progress: list[Progress] = []
    request = ResolveRequest("e2e", EXAMPLE, Issue(ISSUE), out_dir=tmp_path / "out")
    with open_backend(get_manifest("smollm2-135m"), settings.model, model_cache) as backend:
        report = resolve(request, backend, settings, progress.append, threading.Event())
    assert report.state == "done", report.error
    assert tree_digest(EXAMPLE) == before
    records = read_trajectory(tmp_path / "out" / "trajectory.jsonl")
    stages = {r.stage for r in records}
    assert {"understand", "localize"} <= stages
    # The understanding answer is constrained to existing files, so it always parses.
    assert all(r.outcome != "rejected" for r in records if r.stage == "understand")
    cost = json.loads((tmp_path / "out" / COST_FILE).read_text())
    assert cost["total"]["model_calls"] >= 3 and cost["stages"]["understand"]["completion_tokens"] > 0
    assert report.cost.total.prompt_tokens == cost["total"]["prompt_tokens"]
    assert [p.fraction for p in progress] == sorted(p.fraction for p in progress)
    for candidate in report.candidates:  # whatever it found is a real diff of the example
        assert candidate.diff.startswith("diff --git a/")


@pytest.mark.slow
def test_embedded_model_runs_the_synifer_profile(model_cache: Path, tmp_path: Path) -> None:
    """The same model under the SWE-SynInfer+ prompt profile: its prompts go out, unconstrained,
    and whatever it answers is read into the same records (it is not expected to follow them)."""
    from swe_lsp.llm import get_manifest, open_backend

    builtin = get_manifest("smollm2-135m").source
    manifest = tmp_path / "smollm2-synifer.toml"
    manifest.write_text('prompts = "synifer"\n' + builtin.read_text())
    (tmp_path / "templates").mkdir()
    for template in (builtin.parent / "templates").glob("*.jinja"):
        (tmp_path / "templates" / template.name).write_text(template.read_text())
    settings = Settings.model_validate(
        {
            "cache_dir": str(model_cache),
            "model": {"name": str(manifest), "backend": "transformers", "threads": 1, "seed": 0},
            "search": {
                "budget": 1,
                "beam": 1,
                "max_localization_rounds": 1,
                "max_refinements": 0,
                "max_tokens": 64,
            },
            "sandbox": {"kind": isolated_kind(), "timeout_s": 120},
        }
    )
    request = ResolveRequest("synifer", EXAMPLE, Issue(ISSUE), out_dir=tmp_path / "out")
    with open_backend(get_manifest(str(manifest)), settings.model, model_cache) as backend:
        report = resolve(request, backend, settings, lambda p: None, threading.Event())
    assert report.state == "done", report.error
    records = read_trajectory(tmp_path / "out" / "trajectory.jsonl")
    understand = [r for r in records if r.stage == "understand"]
    assert understand and "- /statsmini/core.py" in understand[0].messages[-1].content
    assert "files_to_modify" in understand[0].messages[-1].content
    for record in records:  # every answer was read: sampled, or rejected with a reason
        assert record.outcome != "rejected" or record.detail


@pytest.mark.parametrize("kind", [pytest.param("docker", marks=pytest.mark.docker), "bwrap"])
def test_known_good_patch_is_verified_and_ranked_first(kind: str, workspace: Path, tmp_path: Path) -> None:
    """A scripted policy writes a wrong fix and the right one; the real sandbox runs the
    reproduction script and the example's tests: only the right one verifies, and it ranks first."""
    if kind == "bwrap":
        from swe_lsp.sandbox.bwrap_sandbox import bwrap_problem

        if (problem := bwrap_problem()) is not None:
            pytest.skip(problem)
    policy = ScriptedPolicy(
        {
            "understand": [answer('["statsmini/core.py"]')],
            "localize": [answer("LOCATIONS\nstatsmini/core.py::mean")],
            "patch": [answer(OTHER_PATCH), answer(GOOD_PATCH)],
            "repro": [answer(GOOD_REPRO)],
        }
    )
    flat = ContainsScorer([], 0.5)  # the rewards do not tell the patches apart: the sandbox must
    settings = Settings.model_validate(
        {
            "cache_dir": str(tmp_path / "cache"),
            "search": {"budget": 2, "beam": 2, "max_localization_rounds": 1, "max_refinements": 0},
            "sandbox": {"kind": kind, "timeout_s": 180},
        }
    )
    before = tree_digest(workspace)
    request = ResolveRequest("docker-e2e", workspace, Issue(ISSUE), out_dir=tmp_path / "out")
    report = resolve(
        request, None, settings, lambda p: None, threading.Event(), roles=roles(policy, flat, flat)
    )  # type: ignore[arg-type]
    assert report.state == "done", report.error
    assert tree_digest(workspace) == before
    first, second = report.candidates
    assert "raise ValueError" in first.diff and first.evidence.verified
    assert (
        first.evidence.reproduced
        and first.evidence.repro_before_exit == 1
        and first.evidence.repro_after_exit == 0
    )
    assert first.evidence.tests_exit == 0 and "tests/test_core.py" in (first.evidence.tests_command or "")
    assert not second.evidence.verified and second.evidence.repro_after_exit == 1
    assert report.cost.total.sandbox_seconds > 0


class EndlessBackend(Backend):
    """A backend double whose generation never ends by itself: it waits for the interrupt the job
    arms on its backend, as a real engine's long turn ends early only at a decoding step."""

    name = "endless"

    def __init__(self) -> None:
        super().__init__(ChatTemplate(""))
        self.started = threading.Event()

    def generate(self, requests: Sequence[GenerateRequest]) -> list[Generation]:
        self.started.set()
        while not self.interrupted():
            time.sleep(0.01)
        self.stop_if_interrupted()
        return []

    def logprob(self, requests: Sequence[ScoreRequest]) -> list[Score]:
        return []


def test_a_cancel_ends_a_generation_under_way_and_the_job_is_cancelled(tmp_path: Path) -> None:
    settings = Settings.model_validate(
        {
            "cache_dir": str(tmp_path / "cache"),
            "search": {"budget": 1, "beam": 1},
            "sandbox": {"kind": "local"},
        }
    )
    backend, cancel, done = EndlessBackend(), threading.Event(), []
    request = ResolveRequest("cancel", EXAMPLE, Issue(ISSUE), out_dir=tmp_path / "out")
    job = threading.Thread(
        target=lambda: done.append(resolve(request, backend, settings, lambda p: None, cancel)), daemon=True
    )
    job.start()
    assert backend.started.wait(60), "the search never reached a generation"
    cancel.set()
    job.join(60)
    assert done and done[0].state == "cancelled", done
    assert not backend.interrupted()  # disarmed when the job ended
