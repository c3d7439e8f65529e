"""The one interface every engine offers: `generate`, `p_yes` and `logprob`, batched.

- `generate`: n samples per prompt, optionally constrained (choice / regex / JSON schema), optionally
  through a named LoRA adapter (`policy`, `prm`, `orm`).
- `p_yes`: P("Yes") / (P("Yes") + P("No")) for the next token after a prompt. This is how a process
  reward model trained as a Yes/No classifier (or the base model prompted as a judge) scores a stage.
- `logprob`: log P(continuation | prompt): the ORM's implicit DPO reward is
  beta * (logprob under the ORM adapter - logprob under the base model).

A job arms its cancel event on the backend (`interruptible`): a generation under way then stops
between two decoding steps and raises `GenerationInterrupted`, so a cancel is honoured in about a
step, not after a reasoning model's 16k-token turn, and the model stays loaded for the next job.

Prompts are rendered here, once, with the manifest's chat template, so the text the model sees is the
same whichever engine serves it and whatever the trainer trained it on.
"""

from __future__ import annotations

import math
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any, ClassVar

import jinja2.sandbox

from swe_lsp.errors import BackendUnavailableError
from swe_lsp.llm.types import (
    Constraint,
    GenerateRequest,
    Generation,
    Message,
    Prompt,
    Sample,
    Score,
    ScoreRequest,
)

YES, NO = "Yes", "No"


class GenerationInterrupted(Exception):
    """A generation stopped because the event armed with `Backend.interruptible` was set (its job
    was cancelled). Its partial samples are dropped: a cut-off turn is no answer."""


class ChatTemplate:
    """A manifest's Jinja chat template, rendered in a sandbox (templates are data, not code)."""

    def __init__(self, source: str) -> None:
        env = jinja2.sandbox.ImmutableSandboxedEnvironment(keep_trailing_newline=True)
        self._template = env.from_string(source)

    def render(self, prompt: Prompt, add_generation_prompt: bool = True) -> str:
        """The text the model sees: `prompt` as is when it is text, else the rendered messages."""
        if isinstance(prompt, str):
            return prompt
        messages = [{"role": m.role, "content": m.content} for m in prompt]
        return self._template.render(messages=messages, add_generation_prompt=add_generation_prompt)


class Backend(ABC):
    """An engine serving one base model and its adapters. Use it as a context manager or `close()` it:
    engines hold gigabytes of memory and, for vLLM, worker processes."""

    name: ClassVar[str]
    # The armed interrupt (`interruptible`); a class default so that test doubles need not set it.
    _interrupt: threading.Event | None = None

    def __init__(self, template: ChatTemplate, adapters: Sequence[str] = ()) -> None:
        self.template = template
        self._adapters = tuple(adapters)

    @contextmanager
    def interruptible(self, event: threading.Event) -> Iterator[None]:
        """Within, a `generate` under way stops soon after `event` is set and raises
        `GenerationInterrupted` (the engine checks between decoding steps; how soon is the
        engine's: see each backend). Scoring calls are one step each and are not interrupted."""
        previous, self._interrupt = self._interrupt, event
        try:
            yield
        finally:
            self._interrupt = previous

    def interrupted(self) -> bool:
        """Whether the armed interrupt is set."""
        return self._interrupt is not None and self._interrupt.is_set()

    def stop_if_interrupted(self, event: threading.Event | None = None) -> None:
        """Raise `GenerationInterrupted` if the armed interrupt is set; with `event`, if that one is
        (a call that outlives its job's arming, such as a request abandoned in a thread pool, keeps
        the event it started under)."""
        if event.is_set() if event is not None else self.interrupted():
            raise GenerationInterrupted(f"{self.name}: generation interrupted (the job was cancelled)")

    @property
    def adapters(self) -> tuple[str, ...]:
        """The adapter names this backend can route a request to."""
        return self._adapters

    def render(self, prompt: Prompt) -> str:
        """The prompt as the model sees it."""
        return self.template.render(prompt)

    def check_adapter(self, adapter: str | None) -> None:
        """Reject a request for an adapter this backend was not given, naming the ones it has."""
        if adapter is not None and adapter not in self._adapters:
            known = ", ".join(self._adapters) or "none"
            raise ValueError(f"unknown adapter {adapter!r} (this backend has: {known})")

    @abstractmethod
    def generate(self, requests: Sequence[GenerateRequest]) -> list[Generation]:
        """n samples for each request, in order."""

    @abstractmethod
    def logprob(self, requests: Sequence[ScoreRequest]) -> list[Score]:
        """log P(continuation | prompt) for each request (a sum over the continuation's tokens)."""

    def p_yes(self, requests: Sequence[ScoreRequest]) -> list[Score]:
        """P(Yes) normalised against P(No) for the next token after each prompt.

        The default scores "Yes" and "No" as one-token continuations with `logprob`; engines that can
        read the next-token distribution directly override it.
        """
        pairs = [ScoreRequest(r.prompt, answer, r.adapter) for r in requests for answer in r.labels]
        scores = self.logprob(pairs)
        out = []
        for i in range(len(requests)):
            yes, no = scores[2 * i], scores[2 * i + 1]
            out.append(Score(yes_probability(yes.value, no.value), yes.usage + no.usage))
        return out

    def for_role(self, role: str) -> Backend:
        """The engine that serves `role` (policy, prm, orm). One engine serves every role unless
        the manifest puts a role on its own base model (`swe_lsp.llm.routing.RoleRouter`)."""
        return self

    def close(self) -> None:  # noqa: B027 - engines without resources need nothing
        """Free the engine's memory and processes."""

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LocalBackend(Backend):
    """A backend that holds the tokenizer itself (vLLM and transformers in process)."""

    tokenizer: Any

    def _encode(self, text: str) -> list[int]:
        # Rendered templates carry their own special tokens: never let the tokenizer add a BOS.
        return list(self.tokenizer.encode(text, add_special_tokens=False)) if text else []

    def _label_ids(self, labels: tuple[str, str] = (YES, NO)) -> tuple[int, int]:
        """The token ids of the (yes, no) labels `p_yes` compares ("Yes" and "No" by default)."""
        cache: dict[tuple[str, str], tuple[int, int]] = self.__dict__.setdefault("_label_cache", {})
        if labels in cache:
            return cache[labels]
        ids = []
        for word in labels:
            encoded = self._encode(word)
            if len(encoded) != 1:
                raise BackendUnavailableError(f"{word!r} is not one token for this tokenizer: p_yes needs it")
            ids.append(encoded[0])
        cache[labels] = (ids[0], ids[1])
        return cache[labels]


def yes_probability(logp_yes: float, logp_no: float) -> float:
    """P(Yes) / (P(Yes) + P(No)) from two log-probabilities, computed stably."""
    if logp_yes == -math.inf and logp_no == -math.inf:
        return 0.5
    top = max(logp_yes, logp_no)
    a, b = math.exp(logp_yes - top), math.exp(logp_no - top)
    return a / (a + b)


def cut_at_stop(text: str, stop: Sequence[str]) -> tuple[str, bool]:
    """Text up to (not including) the earliest stop string, and whether one was found. Engines
    differ in whether they keep the stop string; every backend returns text without it."""
    cut = min((i for i in (text.find(s) for s in stop if s) if i >= 0), default=-1)
    return (text[:cut], True) if cut >= 0 else (text, False)


def engine_n(n: int, temperature: float) -> int:
    """How many samples to ask an engine for: greedy decoding gives one answer however often it is
    asked (and engines refuse n > 1 without sampling), so decode once and copy (see `fill_n`)."""
    return n if temperature > 0 else 1


def fill_n(samples: list[Sample], n: int) -> tuple[Sample, ...]:
    """The samples, copied up to `n` when greedy decoding produced one."""
    return tuple(samples * n if len(samples) == 1 and n > 1 else samples)


def make_sample(text: str, finish_reason: str, constraint: Constraint | None) -> Sample:
    """A sample with its constraint checked: a violation is flagged, never raised."""
    return Sample(text, finish_reason, constraint.accepts(text) if constraint else True)


__all__ = [
    "Backend",
    "ChatTemplate",
    "GenerationInterrupted",
    "LocalBackend",
    "Message",
    "cut_at_stop",
    "make_sample",
    "yes_probability",
]
