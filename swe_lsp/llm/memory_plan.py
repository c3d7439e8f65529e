"""What fits on the user's GPU: weights, LoRA slots, the activation reserve and the KV cache, and
the vLLM engine arguments that follow from them.

vLLM starts by loading the weights, profiling one forward pass of `max_num_batched_tokens` tokens
(plus the sampler for `max_num_seqs` sequences), and giving whatever is left of
`gpu_memory_utilization` x the GPU's memory to the KV cache; it refuses to start when that cache
cannot hold one sequence of `max_model_len` tokens. The plan does the same arithmetic in advance, so
the engine starts with a context that fits instead of failing minutes into a load:

    usable   = gpu_memory x gpu_memory_utilization                  (per GPU)
    kv cache = usable - weights/tp - LoRA slots/tp - reserve - states
    tokens   = kv cache / (kv layers x kv heads/tp x head_dim x 2 (K,V) x kv dtype bytes)

`states` is 0 for a plain transformer. A hybrid model's linear-attention layers (Qwen3.5/3.6's
Gated DeltaNet) keep no K and V per token but a fixed recurrent state per running sequence, which
vLLM holds in the same pool as the KV cache ("mamba" pages): the plan reserves one state for each of
`MAX_NUM_SEQS` sequences, so that one stage's samples still decode as one batch, and only the rest
counts as tokens.

It prefers, in order: the manifest's context with the model's own KV dtype on the fewest GPUs; the
same with an fp8 KV cache (half the bytes per token, a small accuracy cost); then a lowered context
on the most room it has, never below what one search stage needs. When even that does not fit it
says what would (more GPUs, a 4-bit build).
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

from swe_lsp.errors import SweLspError
from swe_lsp.llm.architecture import Architecture

GIB = 2**30

GPU_MEMORY_UTILIZATION = 0.90
"""vLLM's own default: the tenth left over is for the CUDA contexts of other processes (a desktop,
a second tool) and allocator fragmentation. The project's former 0.85 gave away 4 GiB of cache on an
80 GiB GPU for nothing."""

MAX_NUM_BATCHED_TOKENS = 8192
"""Tokens in one forward pass (longer prompts are prefilled in chunks). vLLM's default for the `LLM`
class on GPUs under 70 GiB and on A100s (vLLM 0.32 EngineArgs); set explicitly so the activation
reserve below holds on every GPU instead of doubling on an H100, where vLLM would pick 16384."""

MAX_NUM_SEQS = 64
"""Sequences decoded together: the ceiling of `search.budget` (samples per stage, at most 64), so one
stage's samples always run as one batch; a larger value only grows the sampler's profiled reserve."""

OVERHEAD_BYTES = int(1.5 * GIB)
"""Memory outside the profiled forward pass: the CUDA context, cuBLAS/NCCL workspaces (0.5-1 GiB for
a PyTorch process as nvidia-smi shows it) and vLLM's captured CUDA graphs (vLLM reports 0.5-1.5 GiB
for 30B-class models). An estimate, not a measurement on this project's GPUs: it errs on the safe
side, where a too-long context would keep the engine from starting."""

CONTEXT_STEP = 1024
"""A lowered context is rounded down to a multiple of this, so plans read as whole kilotokens."""

TENSOR_PARALLEL_SIZES = (1, 2, 4, 8)
"""vLLM splits attention heads evenly across GPUs; powers of two divide every head count we plan."""


class PlanError(SweLspError):
    """Nothing fits: the message says what would."""


@dataclass(frozen=True)
class WeightFormat:
    """How the checkpoint stores its weights. `bits`: per linear-layer weight (16 for bf16/fp16, 8
    for fp8, 4 for AWQ/GPTQ int4); `group_size`: weights sharing one fp16 scale and one `bits`-wide
    zero point (AWQ/GPTQ), 0 when scales are negligible (fp8 per-channel, unquantized)."""

    name: str
    bits: int = 16
    group_size: int = 0

    @classmethod
    def of(cls, arch: Architecture, dtype: str = "auto") -> WeightFormat:
        """The format of `arch`'s checkpoint, as vLLM will load it with `dtype`."""
        quant = arch.quantization
        if quant:
            method = str(quant.get("quant_method") or quant.get("quant_type") or "unknown").lower()
            if method in ("awq", "gptq"):
                bits = int(quant.get("bits") or quant.get("w_bit") or 4)
                group = int(quant.get("group_size") or quant.get("q_group_size") or 128)
                return cls(f"{method} int{bits} (group {group})", bits, max(group, 0))
            if method == "fp8":
                return cls("fp8", 8, 0)
            raise PlanError(
                f"the checkpoint is quantized with {method!r}, which the memory planner cannot size; "
                "set model.max_model_len and model.gpu_memory_utilization yourself"
            )
        chosen = dtype if dtype != "auto" else str(arch.torch_dtype or "bfloat16")
        # vLLM serves a float32 checkpoint in 16 bits under dtype "auto" (fp32 weights only on request).
        if chosen == "float32" and dtype == "float32":
            return cls("float32", 32, 0)
        return cls("float16" if chosen == "float16" else "bfloat16", 16, 0)

    def bytes(self, arch: Architecture) -> int:
        """The weights' bytes: linear layers at `bits` (plus AWQ/GPTQ group scales and zeros);
        embeddings, LM head, norms and router at 16 bits (or 32 for an fp32 checkpoint), as the
        quantized checkpoints keep them."""
        params = arch.params()
        other_bits = 32 if self.bits == 32 else 16
        linear_bits = self.bits + ((16 + self.bits) / self.group_size if self.group_size else 0)
        return int(params.linear * linear_bits / 8 + (params.total - params.linear) * other_bits / 8)


@dataclass(frozen=True)
class Adapters:
    """LoRA slots vLLM keeps resident: `count` adapters (vLLM's max_loras) at `rank` (max_lora_rank)."""

    count: int = 0
    rank: int = 64


@dataclass(frozen=True)
class Fixed:
    """Engine arguments the user set (settings win over the plan); None: the plan chooses."""

    max_model_len: int | None = None
    gpu_memory_utilization: float | None = None
    kv_cache_dtype: str | None = None
    tensor_parallel_size: int | None = None


@dataclass(frozen=True)
class EngineArgs:
    """The vLLM arguments a plan starts the engine with. `quantization` stays None for a quantized
    checkpoint too: vLLM reads its quantization_config and picks the fastest kernel (awq_marlin for
    AWQ), while naming the method forces the slower one."""

    max_model_len: int
    gpu_memory_utilization: float
    kv_cache_dtype: str
    tensor_parallel_size: int
    max_num_seqs: int = MAX_NUM_SEQS
    max_num_batched_tokens: int = MAX_NUM_BATCHED_TOKENS
    quantization: str | None = None
    max_lora_rank: int | None = None

    def llm_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for `vllm.LLM`."""
        return {k: v for k, v in asdict(self).items() if v is not None}

    def serve_flags(self) -> list[str]:
        """The same as `vllm serve` flags."""
        return [f"--{k.replace('_', '-')}={v}" for k, v in self.llm_kwargs().items()]


@dataclass(frozen=True)
class MemoryPlan:
    """What one GPU holds under the plan (bytes are per GPU unless named total) and why."""

    gpu_bytes: int
    gpus: int
    weight_format: str
    params: int
    weights_bytes: int
    adapters_bytes: int
    activation_bytes: int
    overhead_bytes: int
    kv_bytes_per_token: int
    kv_cache_bytes: int
    kv_tokens: int
    wanted_context: int
    context_floor: int
    concurrent_full_length: int
    engine: EngineArgs
    fits: bool = True
    notes: tuple[str, ...] = field(default=())
    state_bytes_per_sequence: int = 0
    """A hybrid model's recurrent state for one sequence (0 for a plain transformer)."""
    state_bytes: int = 0
    """The recurrent states reserved: `state_bytes_per_sequence` x the engine's max_num_seqs."""

    @property
    def reserve_bytes(self) -> int:
        return self.activation_bytes + self.overhead_bytes

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, with the engine arguments nested."""
        out = asdict(self)
        out["notes"] = list(self.notes)
        out["reserve_bytes"] = self.reserve_bytes
        return out

    def as_text(self) -> str:
        """A table a person reads: the budget, then the engine arguments, then the notes."""
        tp = self.engine.tensor_parallel_size
        rows = [
            ("GPU", f"{self.gpus} x {_gib(self.gpu_bytes)}, tensor parallel {tp}"),
            (
                "usable",
                f"{_gib(self.gpu_bytes * self.engine.gpu_memory_utilization)} per GPU "
                f"(gpu_memory_utilization {self.engine.gpu_memory_utilization:.2f})",
            ),
            (
                "weights",
                f"{_gib(self.weights_bytes)} per GPU ({self.params / 1e9:.2f}B params, {self.weight_format})",
            ),
            ("adapters", f"{_gib(self.adapters_bytes)} per GPU (LoRA slots)"),
            (
                "activations",
                f"{_gib(self.activation_bytes)} per GPU (one {MAX_NUM_BATCHED_TOKENS}-token pass)",
            ),
            ("overhead", f"{_gib(self.overhead_bytes)} per GPU (CUDA context, workspaces, graphs)"),
            *(
                [
                    (
                        "states",
                        f"{_gib(self.state_bytes)} per GPU (recurrent state, "
                        f"{self.state_bytes_per_sequence / 2**20:.1f} MiB x "
                        f"{self.engine.max_num_seqs} sequences)",
                    )
                ]
                if self.state_bytes
                else []
            ),
            (
                "KV cache",
                f"{_gib(self.kv_cache_bytes)} per GPU = {self.kv_tokens:,} tokens at "
                f"{self.kv_bytes_per_token / 1024:.0f} KiB/token ({self.engine.kv_cache_dtype})",
            ),
            (
                "context",
                f"{self.engine.max_model_len:,} tokens (wanted {self.wanted_context:,}, floor "
                f"{self.context_floor:,}); {self.concurrent_full_length} full-length sample(s) at once",
            ),
            ("vllm args", " ".join(self.engine.serve_flags())),
        ]
        width = max(len(name) for name, _ in rows)
        lines = [f"{name:<{width}}  {value}" for name, value in rows]
        lines += [f"{'note':<{width}}  {note}" for note in self.notes]
        return "\n".join(lines)


def parse_memory(text: str) -> int:
    """`80GiB`, `80G`, `81920MiB`, `80GB` (10^9 bytes) or a bare number of GiB, as bytes."""
    match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+)\s*([kmgt]i?b?|)\s*", text.lower())
    if not match:
        raise PlanError(f"cannot read {text!r} as an amount of memory (e.g. 80GiB, 24GB, 49152MiB)")
    number, unit = float(match.group(1)), match.group(2)
    if not unit:
        unit = "gib"
    power = "kmgt".index(unit[0]) + 1
    base = 1000 if unit.endswith("b") and "i" not in unit else 1024
    return int(number * base**power)


def plan_memory(
    arch: Architecture,
    gpu_bytes: int,
    gpus: int = 1,
    *,
    context: int,
    context_floor: int,
    adapters: Adapters = Adapters(),
    dtype: str = "auto",
    fixed: Fixed = Fixed(),
) -> MemoryPlan:
    """The plan for `arch` on `gpus` GPUs of `gpu_bytes` each; `context` is what the manifest (or
    the user) asks for, `context_floor` the least a search stage needs. Raises `PlanError` when
    nothing fits; with a context the user fixed, returns a plan with `fits=False` instead (the
    user's settings win, and vLLM will say for itself)."""
    fmt = WeightFormat.of(arch, dtype)
    weights = fmt.bytes(arch)
    util = fixed.gpu_memory_utilization or GPU_MEMORY_UTILIZATION
    wanted = fixed.max_model_len or context
    notes = list(arch.notes)
    if arch.max_position_embeddings and wanted > arch.max_position_embeddings and not fixed.max_model_len:
        notes.append(
            f"context capped at the model's max_position_embeddings ({arch.max_position_embeddings:,})"
        )
        wanted = arch.max_position_embeddings
    floor = wanted if fixed.max_model_len else min(context_floor, wanted)
    tps = [fixed.tensor_parallel_size] if fixed.tensor_parallel_size else _tensor_parallel_sizes(arch, gpus)
    # Never an fp8 cache on its own for a hybrid (linear-attention) model: its cache is a quarter of
    # a dense model's already, so fp8 buys little, and fp8 KV with vLLM's hybrid kernels has been
    # reported to corrupt output (vllm#26646); the user may still set it.
    auto_kv = ["auto"] if arch.linear_layers else ["auto", "fp8"]
    kv_dtypes = [fixed.kv_cache_dtype] if fixed.kv_cache_dtype else auto_kv
    candidates = [
        _candidate(arch, fmt, weights, adapters, gpu_bytes, util, tp, kv) for tp in tps for kv in kv_dtypes
    ]
    roomy = [c for c in candidates if c["kv_tokens"] > 0]
    chosen = next((c for c in roomy if c["kv_tokens"] >= wanted), None)
    max_len, fits = wanted, True
    if chosen is not None:
        if chosen["kv"] != "auto":
            notes.append(
                f"fp8 KV cache: with the model's own dtype the cache holds fewer than {wanted:,} tokens"
            )
        if chosen["tp"] > 1:
            notes.append(f"tensor parallel {chosen['tp']}: on fewer GPUs the context does not fit")
    else:
        if not roomy:
            raise PlanError(_no_room(arch, fmt, weights, adapters, gpu_bytes, gpus, util))
        chosen = max(roomy, key=lambda c: (c["kv_tokens"], -c["tp"]))
        if fixed.max_model_len:
            fits = False
            notes.append(
                f"model.max_model_len = {wanted:,} does not fit the estimated "
                f"{chosen['kv_tokens']:,} tokens of KV cache: vLLM may refuse to start "
                "(the setting wins over the plan)"
            )
        elif chosen["kv_tokens"] >= floor:
            max_len = max(floor, chosen["kv_tokens"] // CONTEXT_STEP * CONTEXT_STEP)
            notes.append(
                f"context lowered from {wanted:,} to {max_len:,} tokens"
                + (" with an fp8 KV cache" if chosen["kv"] != "auto" else "")
                + ": that is what fits (more GPUs or a quantized build would give it back)"
            )
        else:
            raise PlanError(
                f"only {chosen['kv_tokens']:,} tokens of KV cache fit ({_gib(gpu_bytes)} x {gpus}), "
                f"fewer than the {floor:,} one search stage needs (its longest turn plus its prompt): "
                "use more GPUs (--gpus), a GPU with more memory, or a 4-bit AWQ/GPTQ build of the model"
            )
    tp, kv = chosen["tp"], chosen["kv"]
    engine = EngineArgs(
        max_model_len=max_len,
        gpu_memory_utilization=util,
        kv_cache_dtype=kv,
        tensor_parallel_size=tp,
        max_lora_rank=adapters.rank if adapters.count else None,
    )
    return MemoryPlan(
        gpu_bytes=gpu_bytes,
        gpus=gpus,
        weight_format=fmt.name,
        params=arch.params().total,
        weights_bytes=weights // tp,
        adapters_bytes=chosen["adapters"],
        activation_bytes=chosen["activation"],
        overhead_bytes=OVERHEAD_BYTES,
        kv_bytes_per_token=chosen["per_token"],
        kv_cache_bytes=chosen["kv_bytes"],
        kv_tokens=chosen["kv_tokens"],
        wanted_context=wanted,
        context_floor=floor,
        concurrent_full_length=chosen["kv_tokens"] // max_len,
        engine=engine,
        fits=fits,
        notes=tuple(notes),
        state_bytes_per_sequence=chosen["state_per_sequence"],
        state_bytes=chosen["states"],
    )


@dataclass(frozen=True)
class EngineNeed:
    """What one of several in-process engines on the same GPU needs: the bytes it holds whatever its
    context (weights, LoRA slots, activations, its own CUDA context), and its KV cache per token and
    wanted context (`context` tokens at `kv_bytes_per_token`: one full-length sequence)."""

    name: str
    fixed_bytes: int
    kv_bytes_per_token: int
    context: int

    @property
    def kv_demand(self) -> int:
        return self.kv_bytes_per_token * self.context


def engine_need(
    name: str, arch: Architecture, context: int, adapters: Adapters = Adapters(), dtype: str = "auto"
) -> EngineNeed:
    """`arch`'s need on one GPU (no tensor parallelism: a split is planned per GPU); a hybrid
    model's recurrent states for `MAX_NUM_SEQS` sequences count as fixed bytes."""
    fmt = WeightFormat.of(arch, dtype)
    slots = adapters.count * arch.lora_slot_params(adapters.rank) * 2
    model_bytes = 4 if fmt.bits == 32 else 2
    states = MAX_NUM_SEQS * arch.state_bytes_per_sequence(model_bytes)
    fixed = fmt.bytes(arch) + slots + activation_bytes(arch) + OVERHEAD_BYTES + states
    per_token = arch.kv_bytes_per_token(model_bytes)
    wanted = min(context, arch.max_position_embeddings or context)
    return EngineNeed(name, fixed, per_token, wanted)


SHARE_STEP = 0.001
"""Shares are rounded down to a tenth of a percent, so that they never add up to more than the whole."""


def share_gpu(needs: list[EngineNeed], gpu_bytes: int, utilization: float | None = None) -> list[float]:
    """The `gpu_memory_utilization` of each of several vLLM engines sharing one GPU (vLLM's setting
    is per engine: the fraction of the whole GPU that engine may take).

    The rule: the usable memory (gpu x `utilization`, vLLM's 0.90 by default; a user's setting is
    the total for all engines) first covers each engine's fixed bytes; what is left is KV cache,
    split in proportion to each engine's KV demand (bytes per token x wanted context), so that
    every engine gets the same fraction of the context it wants. Each engine's plan then picks its
    KV dtype and context inside its share as for a GPU of its own. Raises `PlanError` when the
    fixed bytes alone do not fit: then serve a role elsewhere (an endpoint) or use a smaller or
    quantized model for it."""
    util = utilization or GPU_MEMORY_UTILIZATION
    usable = int(gpu_bytes * util)
    fixed = sum(n.fixed_bytes for n in needs)
    rest = usable - fixed
    if rest <= 0:
        held = ", ".join(f"{n.name} {_gib(n.fixed_bytes)}" for n in needs)
        raise PlanError(
            f"the engines' weights, LoRA slots and reserves ({held}) leave no KV cache in "
            f"{_gib(usable)} usable of one {_gib(gpu_bytes)} GPU: serve a role from an OpenAI-compatible "
            'endpoint (its `base.kind = "endpoint"`), or use a smaller or 4-bit model for it'
        )
    demand = sum(n.kv_demand for n in needs) or 1
    shares = [(n.fixed_bytes + rest * n.kv_demand / demand) / gpu_bytes for n in needs]
    return [round(int(share / SHARE_STEP) * SHARE_STEP, 3) for share in shares]


def activation_bytes(arch: Architecture, tp: int = 1) -> int:
    """The profiled forward pass's peak on one GPU: per token of a `MAX_NUM_BATCHED_TOKENS` pass,
    the residual and normed hidden states (2 x hidden, not split), the token mixer's projection
    output (q/k/v, or a hybrid's widest: Gated DeltaNet's qkv, z, b and a), and the MLP's
    gate-up output plus its activation (3 x intermediate), or for experts the fp32 router logits and
    each chosen expert's 3 x moe_intermediate plus its hidden-sized output; all 16-bit. Plus the
    sampler: fp32 logits and their log-softmax for `MAX_NUM_SEQS` sequences."""
    per_token = 2 * 2 * arch.hidden_size + 2 * arch.mixer_out_size // tp
    dense = 2 * 3 * arch.intermediate_size // tp if arch.dense_layers else 0
    moe = 0
    if arch.sparse_layers:
        k = arch.experts_per_token or 1
        moe = 4 * arch.num_experts + 2 * k * (3 * arch.moe_intermediate_size // tp + arch.hidden_size)
    sampler = MAX_NUM_SEQS * arch.vocab_size * 4 * 2
    return MAX_NUM_BATCHED_TOKENS * (per_token + max(dense, moe)) + sampler


def _candidate(
    arch: Architecture,
    fmt: WeightFormat,
    weights: int,
    adapters: Adapters,
    gpu_bytes: int,
    util: float,
    tp: int,
    kv: str,
) -> dict[str, Any]:
    """One (tensor parallel, KV dtype) choice: its KV budget and tokens on one GPU."""
    adapter_bytes = adapters.count * arch.lora_slot_params(adapters.rank) * 2 // tp
    activation = activation_bytes(arch, tp)
    model_kv_bytes = 4 if fmt.bits == 32 else 2
    # A recurrent state stays in the model's dtype (or its config's mamba_ssm_dtype) whatever the
    # KV cache's: vLLM's mamba_cache_dtype defaults to the model's dtype, not kv_cache_dtype.
    state = arch.state_bytes_per_sequence(model_kv_bytes, tp)
    states = MAX_NUM_SEQS * state
    kv_bytes = int(gpu_bytes * util) - weights // tp - adapter_bytes - activation - OVERHEAD_BYTES - states
    per_token = arch.kv_bytes_per_token(1 if kv.startswith("fp8") else model_kv_bytes, tp)
    return {
        "tp": tp,
        "kv": kv,
        "adapters": adapter_bytes,
        "activation": activation,
        "kv_bytes": max(kv_bytes, 0),
        "per_token": per_token,
        "kv_tokens": max(kv_bytes, 0) // per_token,
        "state_per_sequence": state,
        "states": states,
    }


def _tensor_parallel_sizes(arch: Architecture, gpus: int) -> list[int]:
    """The tensor-parallel sizes vLLM accepts for `arch` on `gpus` GPUs, fewest GPUs first: the
    attention heads, and a hybrid's linear-attention key and value heads, split evenly."""
    heads = (arch.num_heads, arch.linear_num_key_heads, arch.linear_num_value_heads)
    sizes = [t for t in TENSOR_PARALLEL_SIZES if t <= gpus and all(n % t == 0 for n in heads)]
    return sizes or [1]


def _no_room(
    arch: Architecture,
    fmt: WeightFormat,
    weights: int,
    adapters: Adapters,
    gpu_bytes: int,
    gpus: int,
    util: float,
) -> str:
    """Why nothing fits when the weights (and LoRA slots) alone fill the GPUs, and what would."""
    tp = max(_tensor_parallel_sizes(arch, gpus))
    int4 = WeightFormat("awq int4 (group 128)", 4, 128).bytes(arch)
    slots = adapters.count * arch.lora_slot_params(adapters.rank) * 2
    held = f"the weights ({_gib(weights)}, {fmt.name})"
    if slots:
        held += f" and {adapters.count} LoRA slot(s) of rank {adapters.rank} ({_gib(slots)})"
    return (
        f"{held} leave no room for a KV cache on {gpus} GPU(s) of {_gib(gpu_bytes)} "
        f"({_gib((weights + slots) / tp)} per GPU against {_gib(gpu_bytes * util)} usable at "
        f"gpu_memory_utilization {util:.2f}): use more GPUs (--gpus, tensor parallel), or a 4-bit "
        f"AWQ/GPTQ build of the model (about {_gib(int4)} of weights)"
        + (", or adapters of a lower rank" if slots else "")
    )


def _gib(value: float) -> str:
    return f"{value / GIB:.1f} GiB"
