"""Test doubles for the algorithm: a policy that answers each step from a script, PRM and ORM that
score by what the text contains, and a verifier that judges a patch by its diff."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from swe_lsp.llm import GenerateRequest, Generation, Sample, Score, Usage
from swe_lsp.search.model import PatchCandidate, Verification
from swe_lsp.search.runtime import Roles

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
    first = request.prompt[1].content
    if "Which files must be read" in last:
        return "understand"
    if "failed verification" in last:
        return "refine"
    if "could not be applied" in last:
        return "patch_retry"
    if "standalone Python script" in last:
        return "repro"
    if "search/replace edit blocks" in first:
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
            options = self.scripts.get(stage) or self.scripts.get(
                "patch" if stage == "patch_retry" else "", [""]
            )
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
    """Scores a text by the first marker it contains (`default` otherwise); records every call."""

    markers: list[tuple[str, float]]
    default: float = 0.5
    calls: list[list[str]] = field(default_factory=list)

    def _one(self, text: str) -> float:
        return next((s for m, s in self.markers if m in text), self.default)

    def score(self, *args: object) -> list[Score]:
        texts = list(args[-1])  # type: ignore[call-overload]
        self.calls.append(texts)
        return [Score(self._one(t), Usage(50, 0, 1)) for t in texts]


@dataclass
class DiffVerifier:
    """Verified when the diff contains `marker`; records what it verified."""

    marker: str = "raise ValueError"
    verified_ids: list[str] = field(default_factory=list)
    seconds: float = 1.5

    def verify(self, patch: PatchCandidate, script: str | None) -> Verification:
        self.verified_ids.append(patch.id)
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
