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


# The characters that are special in a regex outside a character class, in Python's `re` and in the
# regex dialects of the constrained-decoding engines. `re.escape` also escapes spaces and `#` (for
# verbose mode), which xgrammar does not recognise (it warns on every one), so it is not used here.
_SPECIAL = re.compile(r"([\\.^$*+?{}\[\]|()])")


def regex_escape(text: str) -> str:
    """`text` as a regex matching exactly itself, in Python and in xgrammar."""
    return _SPECIAL.sub(r"\\\1", text)


def regex_not_starting(prefixes: Sequence[str], exact: Sequence[str] = (), stop: str = "\n") -> str:
    """A regex for a run of characters other than `stop` that neither starts with one of `prefixes`
    nor equals one of `exact`: a walk down the trie of the forbidden strings, because the regex
    dialects of constrained decoding have no lookahead to say "not". Repeats are unbounded (`*`):
    counted repeats nested in alternatives make xgrammar's compile take seconds."""
    stop_class = {"\n": r"\n", "\t": r"\t"}.get(stop) or (regex_escape(stop) if stop in "]^-\\" else stop)

    def walk(seen: str) -> str:
        forbidden = (*prefixes, *exact)
        nexts = sorted({f[len(seen)] for f in forbidden if f.startswith(seen) and len(f) > len(seen)})
        other = "[^" + stop_class + "".join(regex_escape(c) if c in "]^-\\" else c for c in nexts) + "]"
        alts = [f"{other}[^{stop_class}]*"]
        for c in nexts:
            child = seen + c
            if child in prefixes:
                continue
            if child in exact:
                alts.append(f"{regex_escape(c)}[^{stop_class}]+")
            else:
                alts.append(regex_escape(c) + walk(child))
        return "(" + "|".join(alts) + ")?"

    return walk("")


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
            return "(" + "|".join(regex_escape(c) for c in self.choices) + ")"
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
    """A prompt to score: for `p_yes` the continuation is ignored; for `logprob` it is what is scored.
    `labels`: the (yes, no) words `p_yes` compares; a trained verifier answers in its own words (the
    R2E-Gym / SWE-Lego verifiers write `YES` or `NO`), the project's judges and PRM in Yes or No."""

    prompt: Prompt
    continuation: str = ""
    adapter: str | None = None
    labels: tuple[str, str] = ("Yes", "No")


@dataclass(frozen=True)
class Usage:
    """Tokens a call spent, so a job can report its cost per stage. `uncounted_calls`: calls whose
    tokens the engine did not report (an OpenAI-compatible server may omit `usage`); their tokens are
    missing from the counts, and the cost report says so rather than under-report in silence."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    calls: int = 0
    uncounted_calls: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.prompt_tokens + other.prompt_tokens,
            self.completion_tokens + other.completion_tokens,
            self.calls + other.calls,
            self.uncounted_calls + other.uncounted_calls,
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
