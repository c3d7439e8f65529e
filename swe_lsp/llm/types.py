"""The data that flows through the model layer: requests in, samples and scores out.

Every backend takes and returns exactly these types, so the search and the trainer never know which
engine served them. Each result carries its own token `Usage`, so a job can add up its cost per stage.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import jsonschema


@dataclass(frozen=True)
class Message:
    """One chat turn. Backends render a sequence of these with the model's chat template."""

    role: Literal["system", "user", "assistant"]
    content: str


# A prompt is either already-rendered text, or chat messages the backend renders with the manifest's
# chat template (then the generation prompt for the assistant turn is added).
Prompt = str | tuple[Message, ...]


@dataclass(frozen=True)
class Constraint:
    """Constrained decoding: the output must be one of `choices`, match `regex`, or be JSON valid
    against `schema`. Backends enforce it in the engine where they can and always check it after, so
    a sample cut off by `max_tokens` is marked invalid instead of passed on."""

    kind: Literal["choice", "regex", "json"]
    choices: tuple[str, ...] = ()
    pattern: str = ""
    schema: Mapping[str, Any] = field(default_factory=dict)

    @staticmethod
    def choice(options: Sequence[str]) -> Constraint:
        """Exactly one of `options` (e.g. file paths that exist)."""
        if not options:
            raise ValueError("a choice constraint needs at least one option")
        return Constraint("choice", choices=tuple(options))

    @staticmethod
    def regex(pattern: str) -> Constraint:
        """The whole output matches `pattern`."""
        re.compile(pattern)
        return Constraint("regex", pattern=pattern)

    @staticmethod
    def json_schema(schema: Mapping[str, Any]) -> Constraint:
        """The output is one JSON value valid against `schema`."""
        jsonschema.Draft202012Validator.check_schema(schema)
        return Constraint("json", schema=schema)

    def as_regex(self) -> str:
        """The constraint as one regular expression (for engines that take only regexes)."""
        if self.kind == "choice":
            return "(" + "|".join(re.escape(c) for c in self.choices) + ")"
        if self.kind == "regex":
            return self.pattern
        raise ValueError("a JSON-schema constraint has no regex form here; use the engine's JSON mode")

    def accepts(self, text: str) -> bool:
        """Whether `text` satisfies the constraint."""
        if self.kind == "choice":
            return text in self.choices
        if self.kind == "regex":
            return re.fullmatch(self.pattern, text, flags=re.DOTALL) is not None
        try:
            jsonschema.validate(json.loads(text), dict(self.schema))
        except (ValueError, jsonschema.ValidationError):
            return False
        return True


@dataclass(frozen=True)
class SamplingConfig:
    """How to sample. `temperature == 0` is greedy (then `n > 1` gives n identical samples)."""

    n: int = 1
    temperature: float = 0.0
    top_p: float = 1.0
    max_tokens: int = 256
    stop: tuple[str, ...] = ()
    seed: int | None = None

    def __post_init__(self) -> None:
        if self.n < 1:
            raise ValueError("n must be at least 1")
        if self.max_tokens < 1:
            raise ValueError("max_tokens must be at least 1")
        if not 0 < self.top_p <= 1:
            raise ValueError("top_p must be in (0, 1]")


@dataclass(frozen=True)
class GenerateRequest:
    """n samples for one prompt, optionally constrained, optionally through a named adapter."""

    prompt: Prompt
    sampling: SamplingConfig = SamplingConfig()
    constraint: Constraint | None = None
    adapter: str | None = None


@dataclass(frozen=True)
class ScoreRequest:
    """A prompt to score: for `p_yes` the continuation is ignored; for `logprob` it is what is scored."""

    prompt: Prompt
    continuation: str = ""
    adapter: str | None = None


@dataclass(frozen=True)
class Usage:
    """Tokens a call spent, so a job can report its cost per stage."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    calls: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.calls + other.calls,
        )


@dataclass(frozen=True)
class Sample:
    """One completion. `valid` is False when a constraint was given and the text does not satisfy it
    (e.g. cut off at `max_tokens`): the caller rejects the candidate instead of parsing it."""

    text: str
    finish_reason: str
    valid: bool = True


@dataclass(frozen=True)
class Generation:
    """The n samples of one request and what they cost."""

    samples: tuple[Sample, ...]
    usage: Usage

    @property
    def texts(self) -> list[str]:
        return [s.text for s in self.samples]


@dataclass(frozen=True)
class Score:
    """A probability (`p_yes`) or a log-probability (`logprob`), with its cost."""

    value: float
    usage: Usage


def total_usage(results: Sequence[Generation | Score]) -> Usage:
    """The summed cost of a batch of results."""
    usage = Usage()
    for r in results:
        usage = usage + r.usage
    return usage
