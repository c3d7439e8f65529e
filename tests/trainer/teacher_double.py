"""A scripted teacher for synth's tests: a `Backend` that answers each Dev-Search stage of the
`mean-empty` instance from a script (read from the prompt's text, as tests/search/scripted.py
does), scores flatly, and records what it was asked and which samples it reported cut."""

from __future__ import annotations

from collections.abc import Sequence
from typing import ClassVar

from repo_fixture import FIXES

from swe_lsp.llm import ChatTemplate, GenerateRequest, Generation, Sample, Score, ScoreRequest, Usage
from swe_lsp.llm.backend import Backend


def answer(text: str) -> str:
    """A turn in the server's format: a short think, then the answer."""
    return f"<think>step</think><answer>{text}</answer>"


def stage_of(request: GenerateRequest) -> str:
    """Which step a prompt is for, read from the text of its last user turn."""
    assert not isinstance(request.prompt, str)
    last = request.prompt[-1].content
    first = next(m.content for m in request.prompt if m.role == "user")
    if "Which files must be read" in last:
        return "understand"
    if "did not reproduce the issue on the original repository" in last:
        return "repro"
    if "failed verification" in last:
        return "refine"
    if "could not be applied" in last:
        return "patch"
    if "standalone Python script" in last:
        return "repro"
    if "search/replace edit blocks" in first:
        return "patch"
    return "localize"


def edit_block(search: str, replace: str) -> str:
    """One search/replace edit block on pkg/core.py, as the patch stage asks for it."""
    return f"### pkg/core.py\n<<<<<<< SEARCH\n{search}=======\n{replace}>>>>>>> REPLACE\n"


# The gold fix of `mean-empty` as edit blocks, and a wrong one the server's verification catches
# (the script below still reproduces with it).
SEARCH, FIXED, _ = FIXES["mean-empty"]
GOOD = edit_block(SEARCH, FIXED)
WRONG = edit_block(SEARCH, "    values = list(values)\n    return sum(values) / max(len(values), 1)\n")
# Reproduces unless mean([]) raises ValueError (returning a number is the issue too).
SCRIPT = """```python
import sys
from pkg.core import mean
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
SCRIPTS = {
    "understand": [answer('["pkg/core.py"]')],
    "localize": [answer("LOCATIONS\npkg/core.py::mean")],
    "patch": [answer(WRONG)],
    "repro": [answer(SCRIPT)],
    "refine": [answer(GOOD)],
}


class ScriptedTeacher(Backend):
    """Answers each stage from `scripts` in turn (cycling); the stages in `cut` report their
    samples as stopped at the token limit (`finish_reason` "length"). Records every request's
    stage and token limit, and how many samples it reported cut."""

    name: ClassVar[str] = "scripted-teacher"

    def __init__(self, scripts: dict[str, list[str]] | None = None, cut: Sequence[str] = ()) -> None:
        super().__init__(ChatTemplate("{% for m in messages %}{{ m.content }}\n{% endfor %}"))
        self.scripts = scripts or SCRIPTS
        self.cut_stages = set(cut)
        self.asked: list[tuple[str, int]] = []
        self.cut = 0
        self._next: dict[str, int] = {}

    def generate(self, requests: Sequence[GenerateRequest]) -> list[Generation]:
        out = []
        for r in requests:
            stage = stage_of(r)
            self.asked.append((stage, r.sampling.max_tokens))
            options = self.scripts.get(stage, [""])
            samples = []
            for _ in range(r.sampling.n):
                i = self._next.get(stage, 0)
                self._next[stage] = i + 1
                reason = "length" if stage in self.cut_stages else "stop"
                self.cut += reason == "length"
                samples.append(Sample(options[i % len(options)], reason, True))
            out.append(Generation(tuple(samples), Usage(100, 10 * r.sampling.n, 1)))
        return out

    def logprob(self, requests: Sequence[ScoreRequest]) -> list[Score]:
        return [Score(-1.0, Usage(10, 0, 1)) for _ in requests]

    def p_yes(self, requests: Sequence[ScoreRequest]) -> list[Score]:
        return [Score(0.5, Usage(10, 0, 1)) for _ in requests]
