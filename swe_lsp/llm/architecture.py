"""A decoder's shape, read from its Hugging Face `config.json`: the parameter count (hence the
weights' bytes), the LoRA slot sizes vLLM preallocates, and the KV cache per token.

Counted exactly for the families the project serves (Llama, Mistral, Qwen2/2.5, Qwen3 and the
Qwen3/Qwen2 mixture-of-experts): embeddings, attention projections (grouped-query: `num_key_value_heads`
of `head_dim`), the gated MLP (gate, up, down) or the experts with their router, the norms, and the
LM head unless it is tied to the embeddings. The counts match the checkpoints' own sizes: 32,763,876,352
parameters for Qwen2.5-32B (its safetensors index totals 65,527,752,704 bf16 bytes) and
30,532,122,624 for Qwen3-Coder-30B-A3B (61,064,245,248 bytes). Another `model_type` is counted with
the same rules and says so in `Architecture.notes`.

Hybrid decoders (Qwen3.5/3.6, `qwen3_5_text`) mix two kinds of layer, named per layer in
`layer_types` (or every `full_attention_interval`-th layer full, the rest linear): full attention,
whose query projection is doubled when `attn_output_gate` (the gate rides in q_proj), and Gated
DeltaNet linear attention (in_proj_qkv, in_proj_z, in_proj_b, in_proj_a, a depthwise conv1d,
A_log, dt_bias, a gated RMSNorm and out_proj, shaped by the `linear_*` fields as in transformers'
Qwen3_5GatedDeltaNet). Only the full-attention layers keep K and V per token; each linear layer keeps
a fixed recurrent state per sequence instead (`state_bytes_per_sequence`). A multimodal wrapper's
vision tower (`vision_config` of the Qwen3-VL kind) is counted too: vLLM loads it with the decoder.
Checked against Qwen3.6-27B: 26,895,998,464 decoder + 460,730,096 vision parameters, which with the
424,699,392 of its multi-token-prediction head (in the checkpoint; vLLM does not load it unless asked
to speculate) are the index's 55,562,855,904 bf16 bytes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from swe_lsp.errors import SweLspError

# Families whose layout the rules below follow exactly (checked against real checkpoints for qwen2
# and qwen3_moe, the two tests in tests/llm/test_memory_plan.py).
KNOWN_TYPES = frozenset(
    {"llama", "mistral", "qwen2", "qwen3", "qwen2_moe", "qwen3_moe", "mixtral", "qwen3_5_text"}
)
# Qwen2 hard-codes a bias on the q, k and v projections (its config has no `attention_bias` key).
QKV_BIAS_TYPES = frozenset({"qwen2", "qwen2_moe"})
# Qwen3 normalizes queries and keys per head (`q_norm`, `k_norm`: head_dim weights each per layer).
QK_NORM_TYPES = frozenset({"qwen3", "qwen3_moe", "qwen3_5_text"})
# `layer_types` entries that keep no per-token KV cache (a fixed-size recurrent state instead).
STATE_LAYER_WORDS = ("linear", "mamba", "conv", "recurrent")
# `mamba_ssm_dtype` values and their bytes: vLLM keeps a Qwen3.5 model's recurrent (SSM) state in
# the dtype its config names (vllm/model_executor/models/config.py, Qwen3_5ForConditionalGeneration
# Config), the conv state in the model's dtype.
STATE_DTYPE_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}


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
    linear_attention: int = 0
    """Gated DeltaNet projections (in_proj_qkv, in_proj_z, in_proj_b, in_proj_a, out_proj)."""
    deltanet_small: int = 0
    """Gated DeltaNet's conv1d, A_log, dt_bias and gated norm (kept 16-bit like norms)."""
    vision: int = 0
    """A multimodal wrapper's vision tower (patch embedding, blocks, merger), loaded by vLLM."""

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
            + self.linear_attention
            + self.deltanet_small
            + self.vision
        )

    @property
    def linear(self) -> int:
        """The parameters in the decoder layers' linear projections: what AWQ/GPTQ/FP8 quantize
        (embeddings, LM head, norms, router and a vision tower stay 16-bit in those checkpoints)."""
        return self.attention + self.mlp + self.experts + self.linear_attention


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
    attn_output_gate: bool = False
    linear_layers: int = 0
    linear_num_key_heads: int = 0
    linear_num_value_heads: int = 0
    linear_key_head_dim: int = 0
    linear_value_head_dim: int = 0
    linear_conv_kernel_dim: int = 0
    ssm_state_dtype: str | None = None
    vision_params: int = 0

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
        linear = _linear_layers(config, layers)
        if linear:
            for key in LINEAR_FIELDS:
                _int(config, key)
        vision = _vision_params(top.get("vision_config"), notes)
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
            attn_output_gate=bool(config.get("attn_output_gate", False)),
            linear_layers=linear,
            linear_num_key_heads=int(config.get("linear_num_key_heads") or 0) if linear else 0,
            linear_num_value_heads=int(config.get("linear_num_value_heads") or 0) if linear else 0,
            linear_key_head_dim=int(config.get("linear_key_head_dim") or 0) if linear else 0,
            linear_value_head_dim=int(config.get("linear_value_head_dim") or 0) if linear else 0,
            linear_conv_kernel_dim=int(config.get("linear_conv_kernel_dim") or 0) if linear else 0,
            ssm_state_dtype=config.get("mamba_ssm_dtype") if linear else None,
            vision_params=vision,
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

    @property
    def attention_layers(self) -> int:
        """Layers with softmax attention (all but a hybrid's linear-attention layers)."""
        return self.num_layers - self.linear_layers

    @property
    def q_proj_size(self) -> int:
        """q_proj's output: the queries, doubled when the attention output gate rides in it."""
        return self.q_size * (2 if self.attn_output_gate else 1)

    @property
    def linear_key_size(self) -> int:
        return self.linear_num_key_heads * self.linear_key_head_dim

    @property
    def linear_value_size(self) -> int:
        return self.linear_num_value_heads * self.linear_value_head_dim

    @property
    def linear_conv_size(self) -> int:
        """Channels of Gated DeltaNet's conv1d (and of its conv state): q, k and v."""
        return 2 * self.linear_key_size + self.linear_value_size

    @property
    def mixer_out_size(self) -> int:
        """The widest token-mixer projection output of any layer (the activation reserve's share):
        q, k and v of an attention layer, or qkv, z, b and a of a Gated DeltaNet layer."""
        widths = [self.q_proj_size + 2 * self.kv_size] if self.attention_layers else []
        if self.linear_layers:
            widths.append(self.linear_conv_size + self.linear_value_size + 2 * self.linear_num_value_heads)
        return max(widths)

    def params(self) -> ParamCount:
        """Every parameter, by part (see the module docstring for the rules)."""
        h, layers = self.hidden_size, self.num_layers
        attention = h * self.q_proj_size + 2 * h * self.kv_size + self.q_size * h
        if self.qkv_bias:
            attention += self.q_proj_size + 2 * self.kv_size
        experts = router = 0
        if self.sparse_layers:
            experts = self.num_experts * 3 * h * self.moe_intermediate_size
            router = h * self.num_experts
            if self.shared_expert_intermediate_size:  # Qwen2-MoE: one shared expert plus its gate
                experts += 3 * h * self.shared_expert_intermediate_size
                router += h
        nv = self.linear_num_value_heads
        # in_proj_qkv, in_proj_z, in_proj_b and in_proj_a from the hidden state, out_proj back to it
        deltanet = h * (self.linear_conv_size + self.linear_value_size + 2 * nv) + self.linear_value_size * h
        # depthwise conv1d (no bias), A_log and dt_bias per value head, the gated norm over a head
        deltanet_small = (
            self.linear_conv_size * self.linear_conv_kernel_dim + 2 * nv + self.linear_value_head_dim
        )
        qk_norms = self.attention_layers * 2 * self.head_dim if self.qk_norm else 0
        embedding = self.vocab_size * h
        return ParamCount(
            embedding=embedding,
            lm_head=0 if self.tie_word_embeddings else embedding,
            attention=self.attention_layers * attention,
            mlp=self.dense_layers * 3 * h * self.intermediate_size,
            experts=self.sparse_layers * experts,
            router=self.sparse_layers * router,
            norms=layers * 2 * h + qk_norms + h,
            linear_attention=self.linear_layers * deltanet,
            deltanet_small=self.linear_layers * deltanet_small,
            vision=self.vision_params,
        )

    def kv_bytes_per_token(self, dtype_bytes: float, tensor_parallel: int = 1) -> int:
        """KV cache per token on one GPU: K and V of every attention layer's KV heads. Under tensor
        parallelism each GPU holds kv_heads / tp heads, but at least one: vLLM replicates a KV head
        on every GPU when there are fewer heads than GPUs."""
        heads = max(1, self.num_kv_heads // tensor_parallel)
        return int(self.kv_layers * heads * self.head_dim * 2 * dtype_bytes)

    def state_bytes_per_sequence(self, dtype_bytes: float, tensor_parallel: int = 1) -> int:
        """The fixed recurrent state one running sequence holds on one GPU, whatever its length: per
        Gated DeltaNet layer, the conv state (its conv1d channels x kernel - 1 past tokens, in the
        model's dtype, `dtype_bytes`) and the delta-rule state (value heads x value dim x key dim, in
        `mamba_ssm_dtype`, else the model's dtype), both split across tensor-parallel GPUs by heads;
        the shapes of vLLM's MambaStateShapeCalculator.gated_delta_net_state_shape. 0 for a model
        without linear-attention layers."""
        if not self.linear_layers:
            return 0
        ssm_bytes = STATE_DTYPE_BYTES.get(str(self.ssm_state_dtype), dtype_bytes)
        conv = self.linear_conv_size // tensor_parallel * (self.linear_conv_kernel_dim - 1) * dtype_bytes
        heads = self.linear_num_value_heads // tensor_parallel
        ssm = heads * self.linear_value_head_dim * self.linear_key_head_dim * ssm_bytes
        return int(self.linear_layers * (conv + ssm))

    def lora_slot_params(self, rank: int) -> int:
        """Parameters of one LoRA slot as vLLM preallocates it at `rank`: A (rank x in) and B
        (out x rank) for every LoRA-capable projection of every layer (q, k, v, o, gate, up, down,
        each expert's gate, up, down, and a Gated DeltaNet layer's in_proj_qkv, in_proj_z,
        in_proj_b, in_proj_a and out_proj), whatever modules the adapters target: vLLM wraps them
        all."""
        h, nv = self.hidden_size, self.linear_num_value_heads
        attention = (h + self.q_proj_size) + 2 * (h + self.kv_size) + (self.q_size + h)
        deltanet = (
            (h + self.linear_conv_size)
            + (h + self.linear_value_size)
            + 2 * (h + nv)
            + (self.linear_value_size + h)
        )
        dense = 3 * (h + self.intermediate_size)
        expert = 3 * (h + self.moe_intermediate_size) * self.num_experts
        per_layers = (
            self.attention_layers * attention
            + self.linear_layers * deltanet
            + self.dense_layers * dense
            + self.sparse_layers * expert
        )
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


LINEAR_FIELDS = (
    "linear_num_key_heads",
    "linear_num_value_heads",
    "linear_key_head_dim",
    "linear_value_head_dim",
    "linear_conv_kernel_dim",
)
"""What a Gated DeltaNet layer's shape is read from; a hybrid config without one cannot be sized."""


def _layer_types(config: Mapping[str, Any], layers: int) -> list[str] | None:
    """Each layer's kind: `layer_types` as given, else (Qwen3.5/Qwen3-Next) every
    `full_attention_interval`-th layer full attention and the others linear, the rule of
    transformers' Qwen3_5TextConfig; None when the config names neither."""
    types = config.get("layer_types")
    if isinstance(types, list) and len(types) == layers:
        return [str(t) for t in types]
    interval = config.get("full_attention_interval")
    if isinstance(interval, int) and interval > 0:
        return ["full_attention" if (i + 1) % interval == 0 else "linear_attention" for i in range(layers)]
    return None


def _linear_layers(config: Mapping[str, Any], layers: int) -> int:
    """Gated DeltaNet layers: those `_layer_types` calls linear attention, when the config gives
    their shape (`linear_*` fields); a state-space layer of another kind is not counted as one."""
    types = _layer_types(config, layers)
    if types is None or not any(key in config for key in LINEAR_FIELDS):
        return 0
    return sum(1 for t in types if t == "linear_attention")


def _vision_params(vision: Any, notes: list[str]) -> int:
    """The parameters of a Qwen3-VL-style vision tower (Qwen3.5/3.6's `vision_config`): a Conv3d
    patch embedding with bias (in_channels x temporal_patch x patch^2 -> hidden), learned position
    embeddings, `depth` blocks of two LayerNorms, a qkv and an output projection and a two-layer MLP
    (all with biases), and the merger (a LayerNorm, then hidden x merge^2 -> itself ->
    out_hidden_size, with biases), as in transformers' Qwen3_5VisionModel. 0 when there is no
    vision_config, with a note when it is not of this kind (its weights are then not counted);
    Qwen3-VL's DeepStack mergers (`deepstack_visual_indexes`, empty for Qwen3.5/3.6) are left out
    with a note."""
    if not isinstance(vision, Mapping):
        return 0
    needed = ("depth", "hidden_size", "intermediate_size", "out_hidden_size", "patch_size")
    if any(not isinstance(vision.get(key), int) for key in needed):
        notes.append("the vision tower's config is not of the Qwen3-VL kind: its weights are not counted")
        return 0
    h, inner = vision["hidden_size"], vision["intermediate_size"]
    patch, out = vision["patch_size"], vision["out_hidden_size"]
    channels = int(vision.get("in_channels") or 3)
    temporal = int(vision.get("temporal_patch_size") or 2)
    merge = int(vision.get("spatial_merge_size") or 2)
    positions = int(vision.get("num_position_embeddings") or 0)
    patch_embed = channels * temporal * patch * patch * h + h
    block = 4 * h + (3 * h * h + 3 * h) + (h * h + h) + (h * inner + inner) + (inner * h + h)
    merged = h * merge * merge
    merger = 2 * h + (merged * merged + merged) + (merged * out + out)
    if vision.get("deepstack_visual_indexes"):
        notes.append("the vision tower's DeepStack mergers are not counted")
    return patch_embed + positions * h + vision["depth"] * block + merger


def _kv_layers(config: Mapping[str, Any], layers: int, notes: list[str]) -> int:
    """Layers that keep K and V per token. Sliding-window layers are counted at full length (an upper
    bound: vLLM's hybrid cache may give them less); linear-attention or state-space layers keep a
    fixed-size state and are left out, with a note."""
    types = _layer_types(config, layers)
    if types is None:
        if config.get("use_sliding_window") and config.get("sliding_window"):
            notes.append("sliding-window layers are counted at full length (an upper bound)")
        return layers
    stateful = [t for t in types if any(word in str(t) for word in STATE_LAYER_WORDS)]
    if stateful:
        notes.append(
            f"{len(stateful)} of {layers} layers keep a fixed-size state, not a per-token cache "
            "(vLLM keeps one state per running sequence)"
        )
    if any("sliding" in str(t) for t in types):
        notes.append("sliding-window layers are counted at full length (an upper bound)")
    return layers - len(stateful)
