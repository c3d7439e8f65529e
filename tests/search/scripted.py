"""Test doubles for the algorithm: a policy that answers each step from a script, PRM and ORM that
score by what the text contains, and a verifier that judges a patch by its diff and a reproduction
script by what it contains."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from swe_lsp.llm import GenerateRequest, Generation, Sample, Score, Usage
from swe_lsp.sandbox import RunResult
from swe_lsp.search import Issue, JobReport, Progress, ResolveRequest, read_trajectory, resolve
from swe_lsp.search.model import PatchCandidate, Reproduction, Verification
from swe_lsp.search.runtime import Roles
from swe_lsp.settings import Settings

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "statsmini"
ISSUE = (EXAMPLE / "ISSUE.md").read_text()

GOOD_PATCH = """### statsmini/core.py
<<<<<<< SEARCH
    values = list(values)
    return sum(values) / len(values)
=======
    values = list(values)
    if not values:
        raise ValueError("mean() requires at least one data point")
    return sum(values) / len(values)
>>>>>>> REPLACE
"""
# The same fix, formatted differently: merges with GOOD_PATCH.
GOOD_PATCH_REFORMATTED = GOOD_PATCH.replace('raise ValueError("mean', "raise ValueError(  'mean").replace(
    'point")', "point'  )"
)
OTHER_PATCH = """### statsmini/core.py
<<<<<<< SEARCH
    values = list(values)
    return sum(values) / len(values)
=======
    values = list(values)
    return sum(values) / max(len(values), 1)
>>>>>>> REPLACE
"""
BROKEN_PATCH = """### statsmini/core.py
<<<<<<< SEARCH
    return total / count
=======
    return 0
>>>>>>> REPLACE
"""
GOOD_REPRO = """```python
import sys
from statsmini import mean
try:
    mean([])
except ValueError:
    print("ISSUE RESOLVED")
    sys.exit(0)
except ZeroDivisionError:
    pass
print("ISSUE REPRODUCED")
sys.exit(1)
```"""


def answer(text: str) -> str:
    return f"<think>step</think><answer>{text}</answer>"


def stage_of(request: GenerateRequest) -> str:
    """Which step a prompt is for, read from the text of its last user turn."""
    assert not isinstance(request.prompt, str)
    last = request.prompt[-1].content
    first = next(m.content for m in request.prompt if m.role == "user")
    if "Which files must be read" in last or "files_to_modify" in last:
        return "understand"
    if "did not reproduce the issue on the original repository" in last:
        return "repro_retry"
    if "failed verification" in last:
        return "refine"
    if "could not be applied" in last:
        return "patch_retry"
    if "standalone Python script" in last:
        return "repro"
    if "search/replace edit blocks" in first or "<patched>" in first:
        return "patch"
    return "localize"


@dataclass
class ScriptedPolicy:
    """Answers each stage from its list, in turn (cycling); records every request."""

    scripts: dict[str, list[str]]
    calls: list[tuple[str, int]] = field(default_factory=list)
    requests: list[GenerateRequest] = field(default_factory=list)
    on_call: Callable[[str], None] | None = None
    _next: dict[str, int] = field(default_factory=dict)

    def generate(self, requests: Sequence[GenerateRequest]) -> list[Generation]:
        out = []
        for r in requests:
            stage = stage_of(r)
            if self.on_call:
                self.on_call(stage)
            self.calls.append((stage, r.sampling.n))
            self.requests.append(r)
            fallback = {"patch_retry": "patch", "repro_retry": "repro"}.get(stage, "")
            options = self.scripts.get(stage) or self.scripts.get(fallback, [""])
            samples = []
            for _ in range(r.sampling.n):
                i = self._next.get(stage, 0)
                self._next[stage] = i + 1
                text = options[i % len(options)]
                valid = r.constraint.accepts(text) if r.constraint else True
                samples.append(Sample(text, "stop", valid))
            out.append(Generation(tuple(samples), Usage(100, 10 * r.sampling.n, 1)))
        return out


@dataclass
class ContainsScorer:
    """Scores a text by the first marker it contains (`default` otherwise); records every call,
    and the issue text each call was given."""

    markers: list[tuple[str, float]]
    default: float = 0.5
    calls: list[list[str]] = field(default_factory=list)
    issues: list[str] = field(default_factory=list)

    def _one(self, text: str) -> float:
        return next((s for m, s in self.markers if m in text), self.default)

    def score(self, *args: object) -> list[Score]:
        texts = list(args[-1])  # type: ignore[call-overload]
        self.calls.append(texts)
        self.issues.append(str(args[-2]))  # PRM: (stage, issue, steps); ORM: (issue, diffs)
        return [Score(self._one(t), Usage(50, 0, 1)) for t in texts]


REPRODUCING_RUN = RunResult(1, "ISSUE REPRODUCED\n", "", duration_s=0.5)


@dataclass
class DiffVerifier:
    """Verified when the diff contains `marker` and the job kept a reproduction script; records
    what it verified. A script's original-tree run is the first of `runs` whose key the script
    contains (a reproducing run when none does); every script it was asked to run is recorded."""

    marker: str = "raise ValueError"
    verified_ids: list[str] = field(default_factory=list)
    seconds: float = 1.5
    runs: dict[str, RunResult] = field(default_factory=dict)
    reproduced_scripts: list[str] = field(default_factory=list)
    reproductions: list[Reproduction] = field(default_factory=list)

    def reproduce(self, script: str) -> RunResult:
        self.reproduced_scripts.append(script)
        return next((r for key, r in self.runs.items() if key in script), REPRODUCING_RUN)

    def verify(self, patch: PatchCandidate, reproduction: Reproduction) -> Verification:
        self.verified_ids.append(patch.id)
        self.reproductions.append(reproduction)
        script = reproduction.script
        ok = self.marker in patch.diff and script is not None
        return Verification(
            patch.id,
            ok,
            reproduced=script is not None,
            repro_script=script,
            sandbox_seconds=self.seconds,
            notes=() if ok else ("still fails",),
            log="" if ok else "ISSUE REPRODUCED",
        )


def roles(policy: ScriptedPolicy, prm: ContainsScorer, orm: ContainsScorer) -> Roles:
    return Roles(policy, prm, orm)  # type: ignore[arg-type]


def never() -> threading.Event:
    return threading.Event()


FILE_ANSWERS = [
    answer('["statsmini/core.py"]'),
    answer('["statsmini/spread.py"]'),
    answer('["statsmini/__init__.py"]'),
    answer('["statsmini/core.py", "statsmini/spread.py"]'),
]
LOCATE = [answer("LOCATIONS\nstatsmini/core.py::mean")]


@dataclass
class Run:
    report: JobReport
    policy: ScriptedPolicy
    prm: ContainsScorer
    orm: Any
    verifier: Any
    progress: list[Progress]
    out: Path


def run_job(
    workspace: Path,
    tmp_path: Path,
    scripts: dict[str, list[str]] | None = None,
    strategy: str = "devsearch",
    prm: list[tuple[str, float]] | None = None,
    orm: list[tuple[str, float]] | None = None,
    cancel_at: str | None = None,
    verifier: Any = None,
    orm_double: Any = None,
    sandbox: dict[str, Any] | None = None,
    cancel: threading.Event | None = None,
    model: Path | None = None,
    issue: Issue | None = None,
    no_prm: bool = False,
    **search: Any,
) -> Run:
    """One job through `resolve` with the doubles; `cancel_at` sets the cancel event when the
    policy is first asked for that step. `verifier` and `orm_double` replace the default doubles;
    with `sandbox` (settings), the job opens that sandbox itself, as the server does. `model` is a
    manifest file whose limits and context the job runs under (default: the embedded model's);
    `issue` what the job is asked (default: the example's ISSUE.md, raised nowhere); `no_prm`: the
    job has no PRM (a manifest with `prm = "none"`)."""
    cancel = cancel or threading.Event()
    policy = ScriptedPolicy(
        scripts
        or {
            "understand": FILE_ANSWERS,
            "localize": LOCATE,
            "patch": [answer(GOOD_PATCH)],
            "repro": [answer(GOOD_REPRO)],
        },
        on_call=(lambda stage: cancel.set() if stage == cancel_at else None),
    )
    prm_double = ContainsScorer(
        prm or [("core.py\nstatsmini/spread.py", 0.7), ("core.py", 0.9), ("spread", 0.8)], 0.1
    )
    orm_double = orm_double or ContainsScorer(orm or [("raise ValueError", 0.95)], 0.2)
    verifier = verifier if verifier is not None or sandbox is not None else DiffVerifier()
    values = {"budget": 4, "beam": 2, "max_localization_rounds": 2, "max_refinements": 1, **search}
    settings = Settings.model_validate(
        {
            "cache_dir": str(tmp_path / "cache"),
            "search": values,
            "sandbox": sandbox or {},
            **({"model": {"name": str(model)}} if model else {}),
        }
    )
    progress: list[Progress] = []
    out = tmp_path / "out"
    report = resolve(
        ResolveRequest("job", workspace, issue or Issue(ISSUE), strategy=strategy, out_dir=out),
        None,  # type: ignore[arg-type]  # roles are given: the backend is never used
        settings,
        progress.append,
        cancel,
        roles=Roles(policy, None if no_prm else prm_double, orm_double),  # type: ignore[arg-type]
        verifier_factory=None if sandbox is not None else (lambda root: verifier),
    )
    return Run(report, policy, prm_double, orm_double, verifier, progress, out)


def outcomes(run: Run, stage: str) -> dict[str, str]:
    return {
        r.candidate_id: r.outcome for r in read_trajectory(run.out / "trajectory.jsonl") if r.stage == stage
    }
