"""The OpenAI-compatible backend: any server speaking the OpenAI completions API (`vllm serve`, the
llama.cpp server, Ollama, SGLang). This is how users outgrow one machine: point the server at a vLLM
deployment on a GPU box.

It uses the legacy `/v1/completions` endpoint with prompts rendered here, not `/chat/completions`,
because scoring needs the exact prompt text: `logprob` sends prompt + continuation with `echo` and
sums the log-probabilities of the tokens past the prompt's end (by `text_offset`). Adapters are
separate model names on the server (`vllm serve --lora-modules policy=... prm=...`).

The `openai` SDK does the HTTP: timeouts, and bounded retries with exponential backoff on connection
errors, 408, 429 and 5xx. Every failure becomes a `BackendError` naming the server and the cause.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import Any, Literal, TypeVar

import openai

from swe_lsp.errors import BackendError, BackendUnavailableError
from swe_lsp.llm.backend import Backend, ChatTemplate, cut_at_stop, engine_n, fill_n, make_sample
from swe_lsp.llm.types import Constraint, GenerateRequest, Generation, Score, ScoreRequest, Usage

T = TypeVar("T")
log = logging.getLogger(__name__)
# How often a generation waiting on the server looks at its interrupt: a cancel is honoured within it.
INTERRUPT_POLL_S = 0.2
# Said once per process: a server that omits `usage` omits it on every call.
_warned_uncounted = threading.Event()


class OpenAIBackend(Backend):
    """Completions against one server; the base model and each adapter are model names there."""

    name = "openai"

    def __init__(
        self,
        base_url: str,
        model: str,
        template: ChatTemplate,
        adapters: Mapping[str, str] | None = None,
        api_key: str | None = None,
        timeout_s: float = 300.0,
        max_retries: int = 3,
        server_constraints: Literal["vllm", "none"] = "vllm",
        concurrency: int = 8,
        serial_scoring: bool = False,
    ) -> None:
        super().__init__(template, tuple(adapters or {}))
        self.base_url = base_url
        self.model = model
        self._served = dict(adapters or {})
        self._constraints = server_constraints
        self._serial_scoring = serial_scoring
        self._client = openai.OpenAI(
            base_url=base_url, api_key=api_key or "EMPTY", timeout=timeout_s, max_retries=max_retries
        )
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="swe-lsp-openai")

    def check_server(self) -> list[str]:
        """The model names the server serves; a clear error if it is down or lacks ours."""
        models = [m.id for m in self._call(lambda: list(self._client.models.list()))]
        wanted = [self.model, *self._served.values()]
        missing = [m for m in wanted if m not in models]
        if missing:
            raise BackendUnavailableError(
                f"the server at {self.base_url} does not serve {', '.join(missing)} "
                f"(it serves: {', '.join(models) or 'nothing'})"
            )
        return models

    def generate(self, requests: Sequence[GenerateRequest]) -> list[Generation]:
        for r in requests:
            self.check_adapter(r.adapter)
        event = self._interrupt
        if event is None:
            return self._map(lambda r: self._call(lambda: self._generate_one(r)), requests)
        # The event, not the backend's arming: the calls abandoned by an interrupt go on in the pool
        # after the job has disarmed the backend, and must still see it set and close their streams.
        return self._interruptible_map(
            lambda r: self._call(lambda: self._generate_streamed(r, event)), requests, event
        )

    def logprob(self, requests: Sequence[ScoreRequest]) -> list[Score]:
        if self._serial_scoring:
            # One prompt per request, one request at a time: a vLLM CPU server with LoRA enabled
            # crashes when it batches prompt log-probabilities (vllm#16668).
            for r in requests:
                self.check_adapter(r.adapter)
            return [
                self._call(lambda r=r: self._logprob_batch(self._model_for(r.adapter), [r]))[0]
                for r in requests
            ]
        by_model: dict[str, list[int]] = {}
        for i, r in enumerate(requests):
            self.check_adapter(r.adapter)
            by_model.setdefault(self._model_for(r.adapter), []).append(i)
        scores: list[Score | None] = [None] * len(requests)
        batches = list(by_model.items())
        results = self._map(
            lambda item: self._call(lambda: self._logprob_batch(item[0], [requests[i] for i in item[1]])),
            batches,
        )
        for (_, indices), batch_scores in zip(batches, results, strict=True):
            for i, score in zip(indices, batch_scores, strict=True):
                scores[i] = score
        return [s for s in scores if s is not None]

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._client.close()

    # -- helpers -----------------------------------------------------------------------------------

    def _generate_one(self, r: GenerateRequest) -> Generation:
        s = r.sampling
        response = self._client.completions.create(**self._completion_args(r))
        choices = sorted(_field(response, "choices"), key=lambda c: c.index)
        samples = []
        for c in choices:
            text, _ = cut_at_stop(c.text or "", s.stop)
            samples.append(make_sample(text, c.finish_reason or "stop", r.constraint))
        return Generation(fill_n(samples, s.n), _usage(response))

    def _generate_streamed(self, r: GenerateRequest, event: threading.Event) -> Generation:
        """The same completion, streamed, for a job that can be cancelled: the interrupt is looked
        at between chunks and closes the connection, and a server that sees its client go (vLLM's
        and llama.cpp's do) aborts the request, so a cancelled job's long turns stop taking the GPU.
        The usage comes in the last chunk (`include_usage`, vLLM's extension of the API)."""
        s = r.sampling
        extra = {"stream_options": {"include_usage": True}} if self._constraints == "vllm" else {}
        texts: dict[int, list[str]] = {}
        reasons: dict[int, str] = {}
        last: Any = None
        with self._client.completions.create(**self._completion_args(r), stream=True, **extra) as stream:
            for chunk in stream:
                self.stop_if_interrupted(event)
                for c in chunk.choices or ():
                    texts.setdefault(c.index, []).append(c.text or "")
                    if c.finish_reason:
                        reasons[c.index] = c.finish_reason
                if getattr(chunk, "usage", None) is not None:
                    last = chunk
        if not texts:
            raise ValueError("the stream held no choices")
        samples = [
            make_sample(cut_at_stop("".join(texts[i]), s.stop)[0], reasons.get(i) or "stop", r.constraint)
            for i in sorted(texts)
        ]
        return Generation(fill_n(samples, s.n), _usage(last))

    def _completion_args(self, r: GenerateRequest) -> dict[str, Any]:
        """The completions request for `r` (streamed or not)."""
        s = r.sampling
        extra: dict[str, Any] = {}
        if r.constraint is not None and self._constraints == "vllm":
            extra["structured_outputs"] = _vllm_structured(r.constraint)
        return {
            "model": self._model_for(r.adapter),
            "prompt": self.render(r.prompt),
            "n": engine_n(s.n, s.temperature),
            "temperature": s.temperature,
            "top_p": s.top_p,
            "max_tokens": s.max_tokens,
            "stop": list(s.stop) or None,
            "seed": s.seed,
            "extra_body": extra or None,
        }

    def _logprob_batch(self, model: str, requests: Sequence[ScoreRequest]) -> list[Score]:
        prompts = [self.render(r.prompt) for r in requests]
        response = self._client.completions.create(
            model=model,
            prompt=[p + r.continuation for p, r in zip(prompts, requests, strict=True)],
            echo=True,
            max_tokens=0,
            logprobs=0,
            temperature=0.0,
        )
        usage = _usage(response)
        share = Usage(usage.prompt_tokens // max(1, len(requests)), 0, 1)
        choices = sorted(_field(response, "choices"), key=lambda c: c.index)
        if len(choices) != len(requests):
            raise BackendError(f"{self.base_url}: asked to score {len(requests)} texts, got {len(choices)}")
        scores = []
        for prompt, choice in zip(prompts, choices, strict=True):
            lp = choice.logprobs
            if lp is None or lp.token_logprobs is None or lp.text_offset is None:
                raise BackendError(f"{self.base_url}: the server returned no prompt log-probabilities (echo)")
            total = sum(
                v
                for v, off in zip(lp.token_logprobs, lp.text_offset, strict=False)
                if off >= len(prompt) and v is not None
            )
            scores.append(Score(float(total), share))
        return scores

    def _model_for(self, adapter: str | None) -> str:
        return self._served[adapter] if adapter else self.model

    def _map(self, fn: Callable[[Any], T], items: Iterable[Any]) -> list[T]:
        return list(self._pool.map(fn, items))

    def _interruptible_map(
        self, fn: Callable[[Any], T], items: Iterable[Any], event: threading.Event
    ) -> list[T]:
        """`_map`, waiting in steps of `INTERRUPT_POLL_S` so that a set interrupt returns at once.
        Calls not yet sent are cancelled; each call under way (streamed, `_generate_streamed`)
        closes its connection at its next chunk, which makes the server abort it."""
        futures = [self._pool.submit(fn, item) for item in items]
        pending = set(futures)
        while pending:
            if event.is_set():
                for f in pending:
                    f.cancel()
                self.stop_if_interrupted(event)
            done, pending = wait(pending, timeout=INTERRUPT_POLL_S, return_when=FIRST_EXCEPTION)
            failed = next((error for f in done if (error := f.exception()) is not None), None)
            if failed is not None:
                for f in pending:
                    f.cancel()
                raise failed
        return [f.result() for f in futures]

    def _call(self, fn: Callable[[], T]) -> T:
        """Run an API call and read its answer; every failure becomes a `BackendError` naming the server."""
        try:
            return fn()
        except openai.APITimeoutError:
            raise BackendError(f"{self.base_url}: the request timed out") from None
        except openai.APIConnectionError as exc:
            raise BackendError(
                f"{self.base_url}: cannot connect ({exc.__cause__ or exc}); is the server running?"
            ) from None
        except openai.APIStatusError as exc:
            raise BackendError(f"{self.base_url}: HTTP {exc.status_code}: {_short(exc.message)}") from None
        except (openai.APIResponseValidationError, ValueError, AttributeError, TypeError) as exc:
            raise BackendError(f"{self.base_url}: malformed response: {_short(str(exc))}") from None


def _vllm_structured(constraint: Constraint) -> dict[str, Any]:
    if constraint.kind == "choice":
        return {"choice": list(constraint.choices)}
    if constraint.kind == "regex":
        return {"regex": constraint.pattern}
    return {"json": dict(constraint.schema)}


def _field(response: Any, name: str) -> Any:
    """A field the response must have; a server that answers something else is malformed."""
    value = getattr(response, name, None)
    if value is None:
        raise ValueError(f"the response has no {name!r}: {_short(repr(response))}")
    return value


def _usage(response: Any) -> Usage:
    """The call's token counts; a response without `usage` is one uncounted call (flagged in the
    job's cost), never a silent zero."""
    u = getattr(response, "usage", None)
    if u is None or u.prompt_tokens is None or u.completion_tokens is None:
        if not _warned_uncounted.is_set():
            _warned_uncounted.set()
            log.warning("the server reports no token usage: the job's token counts will be incomplete")
        return Usage(0, 0, 1, uncounted_calls=1)
    return Usage(u.prompt_tokens, u.completion_tokens, 1)


def _short(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[:limit] + "..."
