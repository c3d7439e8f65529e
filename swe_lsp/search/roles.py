"""The three roles one model plays: the policy writes, the PRM scores each stage's candidates, the
ORM scores final patches. Each is a small class over a backend and the manifest's role spec, so the
controller never asks how a role is served, and scripted test doubles slot in for it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol

from swe_lsp.llm import Backend, GenerateRequest, Generation, Manifest, Score, ScoreRequest
from swe_lsp.search.prompts import orm_messages, prm_messages


class Policy(Protocol):
    """Writes the answers: n samples per request."""

    def generate(self, requests: Sequence[GenerateRequest]) -> list[Generation]:
        """Samples for each request, in order."""
        ...


class ProcessRewardModel(Protocol):
    """Scores one stage's candidates: P(Yes) that the step is right."""

    def score(self, stage: str, issue: str, steps: Sequence[str]) -> list[Score]:
        """A score in [0, 1] for each rendered step, in order."""
        ...


class OutcomeRewardModel(Protocol):
    """Scores final patches from the issue and the diff only."""

    def score(self, issue: str, diffs: Sequence[str]) -> list[Score]:
        """A score in [0, 1] for each diff, in order (higher is better)."""
        ...


class BackendPolicy:
    """The policy: the base model, or the `policy` adapter when the manifest has one."""

    def __init__(self, backend: Backend, manifest: Manifest) -> None:
        self.backend = backend
        self.adapter = "policy" if manifest.roles["policy"].kind == "adapter" else None

    def generate(self, requests: Sequence[GenerateRequest]) -> list[Generation]:
        """Samples through the policy adapter (if any), batched in one backend call."""
        routed = [GenerateRequest(r.prompt, r.sampling, r.constraint, self.adapter) for r in requests]
        return self.backend.generate(routed)


class BackendPRM:
    """The PRM: a Yes/No adapter, or the base model prompted as a judge (same prompt either way)."""

    def __init__(self, backend: Backend, manifest: Manifest) -> None:
        self.backend = backend
        self.adapter = "prm" if manifest.roles["prm"].kind == "adapter" else None

    def score(self, stage: str, issue: str, steps: Sequence[str]) -> list[Score]:
        """P(Yes) for each step, batched."""
        if not steps:
            return []
        requests = [ScoreRequest(prm_messages(stage, issue, s), adapter=self.adapter) for s in steps]
        return self.backend.p_yes(requests)


class BackendORM:
    """The ORM. As an adapter: the implicit DPO reward beta * (log pi_orm(diff) - log pi_base(diff)),
    squashed to [0, 1] with a sigmoid so one early-stop threshold fits both kinds. As a judge: P(Yes)
    for the issue and the patch."""

    def __init__(self, backend: Backend, manifest: Manifest) -> None:
        self.backend = backend
        spec = manifest.roles["orm"]
        self.adapter = "orm" if spec.kind == "adapter" else None
        self.beta = spec.beta

    def score(self, issue: str, diffs: Sequence[str]) -> list[Score]:
        """One score in [0, 1] per diff, batched."""
        if not diffs:
            return []
        if self.adapter is None:
            return self.backend.p_yes([ScoreRequest(orm_messages(issue, d)) for d in diffs])
        prompt = orm_messages(issue)
        tuned = self.backend.logprob([ScoreRequest(prompt, d, adapter=self.adapter) for d in diffs])
        base = self.backend.logprob([ScoreRequest(prompt, d) for d in diffs])
        return [
            Score(_sigmoid(self.beta * (t.value - b.value)), t.usage + b.usage)
            for t, b in zip(tuned, base, strict=True)
        ]


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)
