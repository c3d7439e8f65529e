"""A decoder's shape, read from its Hugging Face `config.json`: the parameter count (hence the
weights' bytes), the LoRA slot sizes vLLM preallocates, and the KV cache per token.

Counted exactly for the families the project serves (Llama, Mistral, Qwen2/2.5, Qwen3 and the
Qwen3/Qwen2 mixture-of-experts): embeddings, attention projections (grouped-query: `num_key_value_heads`
of `head_dim`), the gated MLP (gate, up, down) or the experts with their router, the norms, and the
LM head unless it is tied to the embeddings. The counts match the checkpoints' own sizes: 32,763,876,352
parameters for Qwen2.5-32B (its safetensors index totals 65,527,752,704 bf16 bytes) and
30,532,122,624 for Qwen3-Coder-30B-A3B (61,064,245,248 bytes). Another `model_type` is counted with
the same rules and says so in `Architecture.notes`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from swe_lsp.errors import SweLspError

# Families whose layout the rules below follow exactly (checked against real checkpoints for qwen2
# and qwen3_moe, the two tests in tests/llm/test_memory_plan.py).
KNOWN_TYPES = frozenset({"llama", "mistral", "qwen2", "qwen3", "qwen2_moe", "qwen3_moe", "mixtral"})
# Qwen2 hard-codes a bias on the q, k and v projections (its config has no `attention_bias` key).
QKV_BIAS_TYPES = frozenset({"qwen2", "qwen2_moe"})
# Qwen3 normalizes queries and keys per head (`q_norm`, `k_norm`: head_dim weights each per layer).
QK_NORM_TYPES = frozenset({"qwen3", "qwen3_moe"})
# `layer_types` entries that keep no per-token KV cache (a fixed-size recurrent state instead).
STATE_LAYER_WORDS = ("linear", "mamba", "conv", "recurrent")


class ArchitectureError(SweLspError):
    """A config.json the planner cannot read (a missing or impossible field)."""


@dataclass(frozen=True)
class ParamCount:
    """Parameters by part; `total` is what the checkpoint stores (without quantization scales)."""

    embedding: int
    lm_head: int
    attention: int
    mlp: int
    experts: int
    router: int
    norms: int

    @property
    def total(self) -> int:
        return (
            self.embedding
            + self.lm_head
            + self.attention
            + self.mlp
            + self.experts
            + self.router
            + self.norms
        )

    @property
    def linear(self) -> int:
        """The parameters in the decoder layers' linear projections: what AWQ/GPTQ/FP8 quantize
        (embeddings, LM head, norms and router stay 16-bit in those checkpoints)."""
        return self.attention + self.mlp + self.experts


@dataclass(frozen=True)
class Architecture:
    """The numbers of a decoder-only model that its memory depends on."""

    model_type: str
    vocab_size: int
    hidden_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    intermediate_size: int
    tie_word_embeddings: bool
    qkv_bias: bool
    qk_norm: bool
    num_experts: int
    experts_per_token: int
    moe_intermediate_size: int
    shared_expert_intermediate_size: int
    sparse_layers: int
    kv_layers: int
    max_position_embeddings: int | None
    torch_dtype: str | None
    quantization: Mapping[str, Any] | None
    notes: tuple[str, ...] = ()

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Architecture:
        """Read a config.json (a multimodal one's `text_config` is the decoder)."""
        top = config
        if isinstance(config.get("text_config"), Mapping) and "hidden_size" not in config:
            config = {**config["text_config"], "quantization_config": top.get("quantization_config")}
        notes: list[str] = []
        model_type = str(config.get("model_type") or "unknown")
        if model_type not in KNOWN_TYPES:
            notes.append(
                f"model_type {model_type!r} is not one the planner was checked against: counted as a "
                "Llama-style decoder (gated MLP, grouped-query attention)"
            )
        hidden = _int(config, "hidden_size")
        layers = _int(config, "num_hidden_layers")
        heads = _int(config, "num_attention_heads")
        kv_heads = int(config.get("num_key_value_heads") or heads)
        head_dim = int(config.get("head_dim") or hidden // heads)
        experts = int(
            config.get("num_experts")
            or config.get("num_local_experts")
            or config.get("n_routed_experts")
            or 0
        )
        sparse = _sparse_layers(config, layers, experts)
        kv_layers = _kv_layers(config, layers, notes)
        return cls(
            model_type=model_type,
            vocab_size=_int(config, "vocab_size"),
            hidden_size=hidden,
            num_layers=layers,
            num_heads=heads,
            num_kv_heads=kv_heads,
            head_dim=head_dim,
            intermediate_size=int(config.get("intermediate_size") or 0),
            # The families above default to untied heads; a model that ties says so in its config.
            tie_word_embeddings=bool(config.get("tie_word_embeddings", False)),
            qkv_bias=bool(config.get("attention_bias", model_type in QKV_BIAS_TYPES)),
            qk_norm=bool(config.get("use_qk_norm", model_type in QK_NORM_TYPES)),
            num_experts=experts,
            experts_per_token=int(config.get("num_experts_per_tok") or 0),
            moe_intermediate_size=int(
                config.get("moe_intermediate_size") or config.get("intermediate_size") or 0
            ),
            shared_expert_intermediate_size=int(config.get("shared_expert_intermediate_size") or 0),
            sparse_layers=sparse,
            kv_layers=kv_layers,
            max_position_embeddings=config.get("max_position_embeddings"),
            torch_dtype=config.get("torch_dtype") or config.get("dtype"),
            quantization=config.get("quantization_config") or None,
            notes=tuple(notes),
        )

    @property
    def q_size(self) -> int:
        return self.num_heads * self.head_dim

    @property
    def kv_size(self) -> int:
        return self.num_kv_heads * self.head_dim

    @property
    def dense_layers(self) -> int:
        return self.num_layers - self.sparse_layers

    def params(self) -> ParamCount:
        """Every parameter, by part (see the module docstring for the rules)."""
        h, layers = self.hidden_size, self.num_layers
        attention = h * self.q_size + 2 * h * self.kv_size + self.q_size * h
        if self.qkv_bias:
            attention += self.q_size + 2 * self.kv_size
        experts = router = 0
        if self.sparse_layers:
            experts = self.num_experts * 3 * h * self.moe_intermediate_size
            router = h * self.num_experts
            if self.shared_expert_intermediate_size:  # Qwen2-MoE: one shared expert plus its gate
                experts += 3 * h * self.shared_expert_intermediate_size
                router += h
        norms_per_layer = 2 * h + (2 * self.head_dim if self.qk_norm else 0)
        embedding = self.vocab_size * h
        return ParamCount(
            embedding=embedding,
            lm_head=0 if self.tie_word_embeddings else embedding,
            attention=layers * attention,
            mlp=self.dense_layers * 3 * h * self.intermediate_size,
            experts=self.sparse_layers * experts,
            router=self.sparse_layers * router,
            norms=layers * norms_per_layer + h,
        )

    def kv_bytes_per_token(self, dtype_bytes: float, tensor_parallel: int = 1) -> int:
        """KV cache per token on one GPU: K and V of every attention layer's KV heads. Under tensor
        parallelism each GPU holds kv_heads / tp heads, but at least one: vLLM replicates a KV head
        on every GPU when there are fewer heads than GPUs."""
        heads = max(1, self.num_kv_heads // tensor_parallel)
        return int(self.kv_layers * heads * self.head_dim * 2 * dtype_bytes)

    def lora_slot_params(self, rank: int) -> int:
        """Parameters of one LoRA slot as vLLM preallocates it at `rank`: A (rank x in) and B
        (out x rank) for every LoRA-capable projection of every layer (q, k, v, o, gate, up, down,
        and each expert's gate, up, down), whatever modules the adapters target: vLLM wraps them all."""
        h = self.hidden_size
        attention = (h + self.q_size) + 2 * (h + self.kv_size) + (self.q_size + h)
        dense = 3 * (h + self.intermediate_size)
        expert = 3 * (h + self.moe_intermediate_size) * self.num_experts
        per_layers = self.num_layers * attention + self.dense_layers * dense + self.sparse_layers * expert
        return rank * per_layers


def _int(config: Mapping[str, Any], key: str) -> int:
    value = config.get(key)
    if not isinstance(value, int) or value <= 0:
        raise ArchitectureError(f"config.json has no usable {key!r} (got {value!r})")
    return value


def _sparse_layers(config: Mapping[str, Any], layers: int, experts: int) -> int:
    """How many layers carry experts instead of a dense MLP (Qwen-MoE's `decoder_sparse_step` and
    `mlp_only_layers`; Mixtral and DeepSeek-style `first_k_dense_replace`)."""
    if not experts:
        return 0
    step = int(config.get("decoder_sparse_step") or 1)
    dense_only = set(config.get("mlp_only_layers") or ())
    first_dense = int(config.get("first_k_dense_replace") or 0)
    return sum(1 for i in range(layers) if i not in dense_only and i >= first_dense and (i + 1) % step == 0)


def _kv_layers(config: Mapping[str, Any], layers: int, notes: list[str]) -> int:
    """Layers that keep K and V per token. Sliding-window layers are counted at full length (an upper
    bound: vLLM's hybrid cache may give them less); linear-attention or state-space layers keep a
    fixed-size state and are left out, with a note."""
    types = config.get("layer_types")
    if not isinstance(types, list) or len(types) != layers:
        if config.get("use_sliding_window") and config.get("sliding_window"):
            notes.append("sliding-window layers are counted at full length (an upper bound)")
        return layers
    stateful = [t for t in types if any(word in str(t) for word in STATE_LAYER_WORDS)]
    if stateful:
        notes.append(
            f"{len(stateful)} of {layers} layers keep a fixed-size state, not a per-token cache "
            "(not counted; vLLM reserves their state separately)"
        )
    if any("sliding" in str(t) for t in types):
        notes.append("sliding-window layers are counted at full length (an upper bound)")
    return layers - len(stateful)
