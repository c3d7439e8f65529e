"""The three roles: the policy writes, the PRM scores each stage's candidates, the ORM scores final
patches. Each is a small class over the engine that serves it (`Backend.for_role`: one engine for
all three, or one per base model when the manifest puts a role on a model of its own) and the
manifest's role spec, so the controller never asks how a role is served, and scripted test doubles
slot in for it. A reward role scores by its spec's rule (`RoleSpec.scoring`): P(yes) of its labels
after its prompt (the project's judge prompt, or a public verifier's), or a DPO adapter's implicit
reward. A manifest without a PRM (`prm = "none"`) gives no PRM role at all (`roles.prm` is None).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Protocol

from swe_lsp.llm import Backend, GenerateRequest, Generation, Manifest, Message, Score, ScoreRequest
from swe_lsp.llm.manifest import RoleSpec
from swe_lsp.search.prompts import orm_messages, prm_messages
from swe_lsp.search.prompts.verifier import verifier_messages


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
        self.backend = backend.for_role("policy")
        self.adapter = "policy" if manifest.roles["policy"].kind == "adapter" else None

    def generate(self, requests: Sequence[GenerateRequest]) -> list[Generation]:
        """Samples through the policy adapter (if any), batched in one backend call."""
        routed = [GenerateRequest(r.prompt, r.sampling, r.constraint, self.adapter) for r in requests]
        return self.backend.generate(routed)


class _YesNo:
    """P(yes) after a role's prompt: its adapter (if any), its labels, and its prefix after the start
    of the assistant turn (the prompt is rendered here, with the role's engine's chat template, so
    that the prefix follows the generation prompt exactly as in the verifier's training)."""

    def __init__(self, backend: Backend, role: str, spec: RoleSpec) -> None:
        self.backend = backend
        self.adapter = role if spec.kind == "adapter" else None
        self.labels = spec.labels
        self.prefix = spec.prefix

    def score(self, prompts: Sequence[tuple[Message, ...]]) -> list[Score]:
        requests = [
            ScoreRequest(
                self.backend.render(p) + self.prefix if self.prefix else p,
                adapter=self.adapter,
                labels=self.labels,
            )
            for p in prompts
        ]
        return self.backend.p_yes(requests)


class BackendPRM:
    """The PRM: a Yes/No adapter, or the base model prompted as a judge (same prompt either way)."""

    def __init__(self, backend: Backend, manifest: Manifest) -> None:
        spec = manifest.roles["prm"]
        if spec.scoring("prm") != "yes_no":
            raise ValueError("a PRM scores one step as P(yes): its score must be 'yes_no'")
        self.backend = backend.for_role("prm")
        self._yes_no = _YesNo(self.backend, "prm", spec)
        self.adapter = self._yes_no.adapter

    def score(self, stage: str, issue: str, steps: Sequence[str]) -> list[Score]:
        """P(Yes) for each step, batched."""
        if not steps:
            return []
        return self._yes_no.score([prm_messages(stage, issue, s) for s in steps])


class BackendORM:
    """The ORM, by its scoring rule. `dpo_log_ratio` (an adapter trained with DPO): the implicit
    reward beta * (log pi_orm(diff) - log pi_base(diff)), squashed to [0, 1] with a sigmoid so one
    early-stop threshold fits every kind. `yes_no`: P(yes) for the issue and the patch, in the
    project's judge prompt or the format of the public verifier the manifest names."""

    def __init__(self, backend: Backend, manifest: Manifest) -> None:
        spec = manifest.roles["orm"]
        self.backend = backend.for_role("orm")
        self.rule = spec.scoring("orm")
        self.prompt = spec.prompt
        self.adapter = "orm" if spec.kind == "adapter" else None
        self.beta = spec.beta
        self._yes_no = _YesNo(self.backend, "orm", spec)

    def score(self, issue: str, diffs: Sequence[str]) -> list[Score]:
        """One score in [0, 1] per diff, batched."""
        if not diffs:
            return []
        if self.rule == "yes_no":
            if self.prompt == "judge":
                return self._yes_no.score([orm_messages(issue, d) for d in diffs])
            return self._yes_no.score([verifier_messages(self.prompt, issue, d) for d in diffs])
        prompt = orm_messages(issue)
        tuned = self.backend.logprob([ScoreRequest(prompt, d, adapter=self.adapter) for d in diffs])
        base = self.backend.logprob([ScoreRequest(prompt, d) for d in diffs])
        return [
            Score(_sigmoid(self.beta * (t.value - b.value)), t.usage + b.usage)
            for t, b in zip(tuned, base, strict=True)
        ]


def backend_prm(backend: Backend, manifest: Manifest) -> BackendPRM | None:
    """The manifest's PRM, or None when it has none (`prm = "none"`: the beam keeps by vote)."""
    return BackendPRM(backend, manifest) if manifest.has_role("prm") else None


def _sigmoid(x: float) -> float:
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)
