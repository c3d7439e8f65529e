"""The teacher in `swe-train synth`: how many tokens a turn may take, and how often it was cut.

Serving bounds a turn by the model's manifest (`swe_lsp.llm.limits`: 8k tokens for understanding,
localization and the reproduction script, 16k for a patch; 1k for the embedded model), sized for
answering quickly. A teacher's trajectories are the SFT targets: a think cut at the limit is no
thought the student should learn to stop at, and the answer after it is missing, so the step is
rejected and the sample wasted. Reasoning teachers (R1-distilled, QwQ-style, the paper's
long-reasoning trajectories) finish a repository step in about 8-16k thinking tokens and then
write the answer (a patch of up to a few thousand tokens), hence `TEACHER_TURN_TOKENS`: 16k of
thought and 4k of answer. A turn must still leave its prompt room in the context (the search
sizes prompts as context minus output), so the default never takes more than half the teacher's
context: on a 32k-context manifest that is 16k for every stage, the serving patch limit, which
then also holds for understanding and localization. `--max-tokens` overrides it, and synth counts
the generations the engine stopped at the limit (`finish_reason == "length"`, which every backend
reports) so the summary says how often the teacher was cut and whether to raise the context.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from swe_lsp.llm import GenerateRequest, Generation, Manifest
from swe_lsp.search.roles import Policy

# 16k tokens of thinking plus 4k of answer: see the module docstring.
TEACHER_TURN_TOKENS = 20480
# What every backend's `Sample.finish_reason` says when decoding stopped at `max_tokens`.
CUT = "length"


def teacher_max_tokens(manifest: Manifest) -> int:
    """The output tokens per turn synth gives `manifest`'s model by default: TEACHER_TURN_TOKENS,
    at most half its context (the prompt needs the rest), never below the manifest's own largest
    per-stage limit (synth never thinks shorter than serving)."""
    serving = max(manifest.limits.turn_tokens.values())
    return max(min(TEACHER_TURN_TOKENS, manifest.context_length // 2), serving)


@dataclass
class CutCounter:
    """Generations sampled, and those the engine stopped at the token limit."""

    generations: int = 0
    cut: int = 0

    def add(self, finish_reasons: Sequence[str]) -> None:
        """Count the samples of one request."""
        self.generations += len(finish_reasons)
        self.cut += sum(r == CUT for r in finish_reasons)


class CountingPolicy:
    """A policy that counts what `inner` generates into `counter` and changes nothing else."""

    def __init__(self, inner: Policy, counter: CutCounter) -> None:
        self.inner = inner
        self.counter = counter

    def generate(self, requests: Sequence[GenerateRequest]) -> list[Generation]:
        """The inner policy's samples, counted."""
        generations = self.inner.generate(requests)
        for generation in generations:
            self.counter.add([s.finish_reason for s in generation.samples])
        return generations
