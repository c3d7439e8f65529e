"""The transformers backend: for machines where vLLM does not install (macOS, Windows), and for the
trainer, which needs the same model object it trains.

Constrained decoding uses xgrammar's transformers logits processor (choice lists and regexes compile
to regex grammars, JSON schemas to JSON grammars) rather than a grammar engine of our own. LoRA
adapters are loaded by name with peft; a request with no adapter runs with adapters disabled, which
is exactly the reference model of DPO.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

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
from swe_lsp.llm.types import Constraint, GenerateRequest, Generation, Score, ScoreRequest, Usage


class TransformersBackend(LocalBackend):
    """A causal LM from a local folder, with optional peft LoRA adapters."""

    name = "transformers"

    def __init__(
        self,
        model_path: Path,
        template: ChatTemplate,
        adapters: Mapping[str, Path] | None = None,
        device: str = "auto",
        dtype: str = "auto",
        threads: int | None = None,
        seed: int | None = None,
    ) -> None:
        super().__init__(template, tuple(adapters or {}))
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as exc:
            raise BackendUnavailableError(
                f"the transformers backend needs torch and transformers ({exc.name} is missing): "
                "pip install 'swe-lsp[transformers]'"
            ) from None
        if threads:
            torch.set_num_threads(threads)
        self._torch = torch
        self._device = ("cuda" if torch.cuda.is_available() else "cpu") if device == "auto" else device
        torch_dtype = _torch_dtype(torch, dtype, self._device)
        self.tokenizer = AutoTokenizer.from_pretrained(str(model_path))
        model = AutoModelForCausalLM.from_pretrained(str(model_path), dtype=torch_dtype).to(self._device)
        if adapters:
            from peft import PeftModel

            items = list(adapters.items())
            model = PeftModel.from_pretrained(model, str(items[0][1]), adapter_name=items[0][0])
            for name, path in items[1:]:
                model.load_adapter(str(path), adapter_name=name)
        model.eval()
        self.model = model
        self._seed = seed
        self._yes_id, self._no_id = self._label_ids()
        self._grammar_compiler: Any = None

    # -- the three calls ---------------------------------------------------------------------------

    def generate(self, requests: Sequence[GenerateRequest]) -> list[Generation]:
        return [self._generate_one(r) for r in requests]

    def logprob(self, requests: Sequence[ScoreRequest]) -> list[Score]:
        torch = self._torch
        out = []
        for r in requests:
            self.check_adapter(r.adapter)
            prompt_ids = self._encode(self.render(r.prompt))
            cont_ids = self._encode(r.continuation)
            if not cont_ids:
                out.append(Score(0.0, Usage(len(prompt_ids), 0, 1)))
                continue
            ids = torch.tensor([prompt_ids + cont_ids], device=self._device)
            with self._adapter(r.adapter), torch.no_grad():
                logits = self.model(input_ids=ids).logits[0].float()
            logp = torch.log_softmax(logits[len(prompt_ids) - 1 : -1], dim=-1)
            picked = logp.gather(1, torch.tensor(cont_ids, device=self._device)[:, None])
            out.append(Score(float(picked.sum()), Usage(len(prompt_ids) + len(cont_ids), 0, 1)))
        return out

    def p_yes(self, requests: Sequence[ScoreRequest]) -> list[Score]:
        # One forward pass gives the whole next-token distribution: no need to score Yes and No apart.
        torch = self._torch
        out = []
        for r in requests:
            self.check_adapter(r.adapter)
            ids = self._encode(self.render(r.prompt))
            with self._adapter(r.adapter), torch.no_grad():
                logits = self.model(input_ids=torch.tensor([ids], device=self._device)).logits[0, -1].float()
            logp = torch.log_softmax(logits, dim=-1)
            yes_id, no_id = self._label_ids(r.labels)
            p = yes_probability(float(logp[yes_id]), float(logp[no_id]))
            out.append(Score(p, Usage(len(ids), 0, 1)))
        return out

    def close(self) -> None:
        self.model = None
        if self._device == "cuda":
            self._torch.cuda.empty_cache()

    # -- helpers -----------------------------------------------------------------------------------

    def _generate_one(self, r: GenerateRequest) -> Generation:
        torch = self._torch
        self.check_adapter(r.adapter)
        s = r.sampling
        prompt_ids = self._encode(self.render(r.prompt))
        kwargs: dict[str, Any] = {
            "max_new_tokens": s.max_tokens,
            "num_return_sequences": engine_n(s.n, s.temperature),
            "pad_token_id": self.tokenizer.pad_token_id or self.tokenizer.eos_token_id,
        }
        if s.temperature > 0:
            kwargs.update(do_sample=True, temperature=s.temperature, top_p=s.top_p)
        else:
            kwargs.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        if s.stop:
            kwargs.update(stop_strings=list(s.stop), tokenizer=self.tokenizer)
        if r.constraint is not None:
            kwargs["logits_processor"] = [self._logits_processor(r.constraint)]
        if self._interrupt is not None:
            kwargs["stopping_criteria"] = self._stopping_criteria()
        if s.seed is not None or self._seed is not None:
            torch.manual_seed(s.seed if s.seed is not None else self._seed)
        ids = torch.tensor([prompt_ids], device=self._device)
        with self._adapter(r.adapter), torch.no_grad():
            output = self.model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), **kwargs)
        self.stop_if_interrupted()
        samples = []
        completion_tokens = 0
        # Rows that ended early are padded; the end is the first EOS or pad token.
        ends = {self.tokenizer.eos_token_id, kwargs["pad_token_id"]}
        for row in output[:, len(prompt_ids) :].tolist():
            cut = next((i for i, t in enumerate(row) if t in ends), None)
            tokens = row if cut is None else row[:cut]
            text, stopped = cut_at_stop(self.tokenizer.decode(tokens, skip_special_tokens=True), s.stop)
            completion_tokens += len(tokens) + (cut is not None)
            reason = "stop" if (stopped or cut is not None or len(row) < s.max_tokens) else "length"
            samples.append(make_sample(text, reason, r.constraint))
        return Generation(fill_n(samples, s.n), Usage(len(prompt_ids), completion_tokens, 1))

    def _stopping_criteria(self) -> Any:
        """Ends every row of a generation at the next decoding step once the interrupt is set (the
        caller then raises `GenerationInterrupted`: the cut-off rows are not answers)."""
        from transformers import StoppingCriteria, StoppingCriteriaList

        backend = self

        class Interrupt(StoppingCriteria):
            def __call__(self, input_ids: Any, scores: Any, **kwargs: Any) -> Any:
                stop = backend.interrupted()
                return backend._torch.full(
                    (input_ids.shape[0],), stop, dtype=backend._torch.bool, device=input_ids.device
                )

        return StoppingCriteriaList([Interrupt()])

    def _logits_processor(self, constraint: Constraint) -> Any:
        import xgrammar as xgr
        from xgrammar.contrib.hf import LogitsProcessor

        if self._grammar_compiler is None:
            vocab = self.model.config.vocab_size
            info = xgr.TokenizerInfo.from_huggingface(self.tokenizer, vocab_size=vocab)
            self._grammar_compiler = xgr.GrammarCompiler(info)
        if constraint.kind == "json":
            import json

            grammar = self._grammar_compiler.compile_json_schema(json.dumps(dict(constraint.schema)))
        else:
            grammar = self._grammar_compiler.compile_regex(constraint.as_regex())
        return LogitsProcessor(grammar)

    @contextlib.contextmanager
    def _adapter(self, adapter: str | None) -> Iterator[None]:
        """Run with `adapter` active, or with every adapter disabled (the base model)."""
        if not self.adapters:
            yield
            return
        if adapter is None:
            with self.model.disable_adapter():
                yield
            return
        self.model.set_adapter(adapter)
        yield


def _torch_dtype(torch: Any, dtype: str, device: str) -> Any:
    if dtype == "auto":
        # bf16 matmuls are slow on most CPUs and 135M-parameter models fit in fp32 anyway.
        return torch.bfloat16 if device == "cuda" else torch.float32
    return getattr(torch, dtype)
