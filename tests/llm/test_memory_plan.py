"""The memory planner against figures worked out by hand for two real models, and the paths that
carry its arguments to vLLM (argument construction only: no engine starts here).

Qwen2.5-Coder-32B-Instruct (dense, qwen2), Qwen3-Coder-30B-A3B-Instruct (mixture of experts,
qwen3_moe) and Qwen3.6-27B (hybrid Gated DeltaNet + attention, qwen3_5, with a vision tower) are read
from the config excerpts shipped in models/configs/; their parameter counts are checked against the
checkpoints' own byte totals (safetensors index: 65,527,752,704, 61,064,245,248 and 55,562,855,904
bf16 bytes).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from swe_lsp.llm.architecture import Architecture, ArchitectureError
from swe_lsp.llm.limits import Limits
from swe_lsp.llm.local_server import serve_command
from swe_lsp.llm.manifest import BUILTIN_DIR, get_manifest, load_manifest_file
from swe_lsp.llm.memory_plan import (
    GIB,
    Adapters,
    Fixed,
    PlanError,
    WeightFormat,
    activation_bytes,
    parse_memory,
    plan_memory,
)
from swe_lsp.llm.model_plan import GpuInfo, adapter_slots, context_floor, load_config, plan_for
from swe_lsp.llm.prepare import PreparedModel
from swe_lsp.llm.vllm_backend import llm_kwargs
from swe_lsp.settings import ModelSettings

CONFIGS = BUILTIN_DIR / "configs"
# The default limits' floor: the longest turn (patch, 16,384) + 600 shown lines x 12 tokens + 1,024.
FLOOR = 16_384 + 600 * 12 + 1_024  # = 24,608


def arch(name: str) -> Architecture:
    return Architecture.from_config(json.loads((CONFIGS / f"{name}.json").read_text()))


QWEN25 = "Qwen2.5-Coder-32B-Instruct"
QWEN3_MOE = "Qwen3-Coder-30B-A3B-Instruct"
QWEN36 = "Qwen3.6-27B"


def test_qwen25_coder_32b_parameters_weights_and_kv_per_token() -> None:
    a = arch(QWEN25)
    p = a.params()
    assert p.embedding == 152_064 * 5_120 == 778_567_680
    assert p.lm_head == 778_567_680  # not tied
    # per layer: q 5120x5120 + 5120 bias, k and v 5120x1024 + 1024 bias each, o 5120x5120
    assert p.attention == 64 * (5_120 * 5_120 + 5_120 + 2 * (5_120 * 1_024 + 1_024) + 5_120 * 5_120)
    assert p.mlp == 64 * 3 * 5_120 * 27_648 == 27_179_089_920
    assert p.norms == 64 * 2 * 5_120 + 5_120 == 660_480
    assert p.total == 32_763_876_352
    # bf16: 2 bytes a parameter, the checkpoint's own total
    assert WeightFormat.of(a).bytes(a) == 65_527_752_704
    # 64 layers x 8 KV heads x 128 dims x (K, V) x 2 bytes = 256 KiB; fp8 halves it
    assert a.kv_bytes_per_token(2) == 64 * 8 * 128 * 2 * 2 == 262_144
    assert a.kv_bytes_per_token(1) == 131_072
    # one LoRA slot at rank 64: q 5120+5120, k and v 5120+1024, o 5120+5120, gate and up 5120+27648,
    # down 27648+5120 = 131,072 per rank per layer: 64 x 64 x 131,072 = 536,870,912 (1 GiB in bf16)
    assert a.lora_slot_params(64) == 64 * 64 * 131_072 == 536_870_912


def test_qwen25_coder_32b_on_one_80gib_gpu_needs_an_fp8_kv_cache_for_32k() -> None:
    a = arch(QWEN25)
    plan = plan_memory(a, 80 * GIB, 1, context=32_768, context_floor=FLOOR)
    usable = int(80 * GIB * 0.90)  # 77,309,411,328
    # activations: 8192 tokens x 2 bytes x (2 x 5120 hidden + 5120 q + 2 x 1024 kv + 3 x 27648 mlp)
    #   = 8192 x 200,704 = 1,644,167,168; sampler: 64 seqs x 152,064 vocab x 4 bytes x 2 = 77,856,768
    assert activation_bytes(a) == 8_192 * 200_704 + 64 * 152_064 * 8 == 1_722_023_936
    kv = usable - 65_527_752_704 - 1_722_023_936 - int(1.5 * GIB)
    assert kv == 8_449_021_952
    # bf16 holds 8,449,021,952 / 262,144 = 32,230 tokens: less than 32,768, so the plan takes fp8
    assert kv // 262_144 == 32_230
    assert plan.kv_cache_bytes == kv
    assert plan.kv_tokens == kv // 131_072 == 64_460
    assert plan.engine.kv_cache_dtype == "fp8"
    assert plan.engine.max_model_len == 32_768
    assert plan.engine.gpu_memory_utilization == 0.90
    assert plan.engine.tensor_parallel_size == 1
    assert plan.concurrent_full_length == 1  # 64,460 // 32,768
    assert any("fp8 KV cache" in note for note in plan.notes)


def test_swe_reasoner_adapters_shrink_the_cache_and_a_smaller_gpu_lowers_the_context() -> None:
    a = arch(QWEN25)
    three = Adapters(count=3, rank=64)  # 3 slots x 1 GiB
    plan = plan_memory(a, 80 * GIB, 1, context=32_768, context_floor=FLOOR, adapters=three)
    # 8,449,021,952 - 3 x 1,073,741,824 = 5,227,796,480 bytes; fp8: / 131,072 = 39,884 tokens
    assert plan.adapters_bytes == 3 * 1_073_741_824
    assert plan.kv_tokens == 39_884
    assert plan.engine.max_lora_rank == 64
    # 79 GiB: usable int(84,825,604,096 x 0.9) = 76,343,043,686; minus 65,527,752,704 weights,
    # 3,221,225,472 adapters, 1,722,023,936 activations, 1,610,612,736 overhead = 4,261,428,838;
    # in fp8 / 131,072 = 32,512 tokens < 32,768 wanted: lowered to whole kilotokens, 31 x 1024 = 31,744
    lowered = plan_memory(a, 79 * GIB, 1, context=32_768, context_floor=FLOOR, adapters=three)
    assert lowered.kv_tokens == 32_512
    assert lowered.engine.max_model_len == 31_744
    assert lowered.engine.kv_cache_dtype == "fp8"
    assert any("context lowered from 32,768 to 31,744" in note for note in lowered.notes)
    # 77 GiB: 17,766 tokens, below the 24,608 a stage needs: a clear error, not a useless engine
    with pytest.raises(PlanError, match=r"only 17,766 tokens .* fewer than the 24,608"):
        plan_memory(a, 77 * GIB, 1, context=32_768, context_floor=FLOOR, adapters=three)


def test_a_32b_model_on_48gib_needs_two_gpus_or_a_4bit_build() -> None:
    a = arch(QWEN25)
    with pytest.raises(
        PlanError, match=r"leave no room .* 4-bit AWQ/GPTQ build of the model \(about 18\.0 GiB"
    ):
        plan_memory(a, 48 * GIB, 1, context=32_768, context_floor=FLOOR)
    # two GPUs: half the weights each (32,763,876,352 bytes) and 4 KV heads each: 128 KiB a token
    two = plan_memory(a, 48 * GIB, 2, context=32_768, context_floor=FLOOR)
    assert two.engine.tensor_parallel_size == 2
    assert two.weights_bytes == 65_527_752_704 // 2
    assert two.kv_bytes_per_token == 64 * 4 * 128 * 2 * 2
    assert two.engine.kv_cache_dtype == "auto"
    # int4 AWQ (group 128): linear weights at 4 + (16 + 4) / 128 bits, the rest at 16 bits
    int4 = WeightFormat("awq", 4, 128).bytes(a)
    linear = 4_026_990_592 + 27_179_089_920
    assert int4 == int(linear * (4 + 20 / 128) / 8 + (32_763_876_352 - linear) * 2)


def test_qwen3_coder_30b_a3b_moe_counts_every_expert_and_plans_its_context() -> None:
    a = arch(QWEN3_MOE)
    p = a.params()
    assert a.sparse_layers == 48 and a.dense_layers == 0
    # per layer: q 2048x4096, k and v 2048x512, o 4096x2048 (no bias)
    assert p.attention == 48 * (2_048 * 4_096 * 2 + 2 * 2_048 * 512) == 905_969_664
    # 128 experts x (gate, up, down) x 2048 x 768, and a 2048 x 128 router, in every layer
    assert p.experts == 48 * 128 * 3 * 2_048 * 768 == 28_991_029_248
    assert p.router == 48 * 2_048 * 128
    # two RMSNorms of 2048 and q/k norms of 128 per layer, plus the final norm
    assert p.norms == 48 * (2 * 2_048 + 2 * 128) + 2_048
    assert p.embedding == p.lm_head == 151_936 * 2_048
    assert p.total == 30_532_122_624  # = 61,064,245,248 bf16 bytes / 2
    # 48 layers x 4 KV heads x 128 x (K, V) x 2 bytes = 96 KiB a token
    assert a.kv_bytes_per_token(2) == 98_304
    # activations: 8192 x [2 x (2 x 2048) + 2 x (4096 + 2 x 512) + 4 x 128 router
    #   + 2 x 8 experts x (3 x 768 + 2048)] = 8192 x 88,576; sampler 64 x 151,936 x 8
    assert activation_bytes(a) == 8_192 * 88_576 + 64 * 151_936 * 8 == 803_405_824
    plan = plan_memory(a, 80 * GIB, 1, context=32_768, context_floor=FLOOR)
    kv = int(80 * GIB * 0.9) - 61_064_245_248 - 803_405_824 - int(1.5 * GIB)
    assert plan.kv_cache_bytes == kv == 13_831_147_520
    assert plan.kv_tokens == kv // 98_304 == 140_697
    assert plan.engine.kv_cache_dtype == "auto"  # bf16 already holds 32k four times over
    assert plan.concurrent_full_length == 4
    # 3 LoRA slots on 128 experts x 48 layers do not fit next to 57 GiB of weights
    with pytest.raises(PlanError, match=r"3 LoRA slot\(s\) of rank 64"):
        plan_memory(a, 80 * GIB, 1, context=32_768, context_floor=FLOOR, adapters=Adapters(3, 64))


def test_qwen36_27b_hybrid_counts_each_layer_kind_the_vision_tower_and_the_states() -> None:
    a = arch(QWEN36)
    p = a.params()
    assert (a.num_layers, a.linear_layers, a.kv_layers, a.attention_layers) == (64, 48, 16, 16)
    # full attention (layers 3, 7, ..., 63): q 5120 x (24 x 256 x 2, the output gate rides in q_proj),
    # k and v 5120 x (4 x 256), o (24 x 256) x 5120; no bias
    assert p.attention == 16 * (5_120 * 12_288 + 2 * 5_120 * 1_024 + 6_144 * 5_120) == 1_677_721_600
    # Gated DeltaNet: in_proj_qkv 5120 x (2 x 16 x 128 + 48 x 128 = 10,240), in_proj_z 5120 x 6144,
    # in_proj_b and in_proj_a 5120 x 48 each, out_proj 6144 x 5120
    assert p.linear_attention == 48 * (5_120 * 10_240 + 5_120 * 6_144 + 2 * 5_120 * 48 + 6_144 * 5_120)
    assert p.linear_attention == 5_560_074_240
    # conv1d 10,240 channels x kernel 4, A_log and dt_bias 48 each, gated norm over one 128-dim head
    assert p.deltanet_small == 48 * (10_240 * 4 + 2 * 48 + 128) == 1_976_832
    assert p.mlp == 64 * 3 * 5_120 * 17_408 == 17_112_760_320  # dense MLP in every layer
    # two RMSNorms per layer, q/k norms of 256 in the 16 attention layers, the final norm
    assert p.norms == 64 * 2 * 5_120 + 16 * 2 * 256 + 5_120 == 668_672
    assert p.embedding == p.lm_head == 248_320 * 5_120 == 1_271_398_400  # not tied
    assert p.total - p.vision == 26_895_998_464
    # vision tower: Conv3d 3 x 2 x 16 x 16 -> 1152 (+ bias) = 1,770,624; 2304 x 1152 position
    # embeddings = 2,654,208; 27 blocks of 2 LayerNorms (4 x 1152), qkv 1152 x 3456 + 3456,
    # proj 1152^2 + 1152, fc1 1152 x 4304 + 4304, fc2 4304 x 1152 + 1152 = 15,239,504 each;
    # merger: LayerNorm 2 x 1152, 4608^2 + 4608, 4608 x 5120 + 5120 = 44,838,656
    assert p.vision == 1_770_624 + 2_654_208 + 27 * 15_239_504 + 44_838_656 == 460_730_096
    # 27,356,728,560 loaded + the MTP head's 424,699,392 (not loaded) = 27,781,427,952 parameters,
    # 55,562,855,904 bf16 bytes: the checkpoint's safetensors index total
    assert p.total == 27_356_728_560
    assert (p.total + 424_699_392) * 2 == 55_562_855_904
    assert WeightFormat.of(a).bytes(a) == 54_713_457_120
    # KV cache from the 16 full-attention layers only: 16 x 4 KV heads x 256 x (K, V) x 2 bytes
    assert a.kv_bytes_per_token(2) == 16 * 4 * 256 * 2 * 2 == 65_536
    # recurrent state per sequence, per linear layer: conv 10,240 channels x 3 past tokens x 2 bytes
    # (bf16) = 61,440 + delta rule 48 heads x 128 x 128 x 4 bytes (mamba_ssm_dtype float32) =
    # 3,145,728; x 48 layers
    assert a.state_bytes_per_sequence(2) == 48 * (10_240 * 3 * 2 + 48 * 128 * 128 * 4) == 153_944_064
    assert a.state_bytes_per_sequence(2, tensor_parallel=2) == 153_944_064 // 2
    # activations: 8192 x [2 x (2 x 5120) + 2 x 16,480 (DeltaNet's qkv 10,240 + z 6144 + b, a 96,
    # wider than attention's 12,288 + 2048) + 2 x 3 x 17,408] = 8192 x 157,888; sampler
    # 64 x 248,320 x 8
    assert activation_bytes(a) == 8_192 * 157_888 + 64 * 248_320 * 8 == 1_420_558_336


def test_qwen36_27b_on_one_80gib_gpu_reserves_64_states_and_holds_two_64k_samples() -> None:
    a = arch(QWEN36)
    floor = 32_768 + 600 * 12 + 1_024  # the manifest's patch turn + a patch prompt: 40,992
    plan = plan_memory(a, 80 * GIB, 1, context=65_536, context_floor=floor)
    assert plan.state_bytes_per_sequence == 153_944_064
    assert plan.state_bytes == 64 * 153_944_064 == 9_852_420_096  # max_num_seqs states
    kv = int(80 * GIB * 0.9) - 54_713_457_120 - 1_420_558_336 - int(1.5 * GIB) - 9_852_420_096
    assert plan.kv_cache_bytes == kv == 9_712_363_040
    assert plan.kv_tokens == kv // 65_536 == 148_198
    assert (plan.engine.max_model_len, plan.engine.kv_cache_dtype) == (65_536, "auto")
    assert plan.concurrent_full_length == 2  # 148,198 // 65,536
    assert "states" in plan.as_text() and "146.8 MiB x 64 sequences" in plan.as_text()
    # the bf16 weights alone (51.0 GiB) do not fit 48 GiB; two 48 GiB GPUs split them
    with pytest.raises(PlanError, match=r"the weights \(51\.0 GiB, bfloat16\) leave no room"):
        plan_memory(a, 48 * GIB, 1, context=65_536, context_floor=floor)
    two = plan_memory(a, 48 * GIB, 2, context=65_536, context_floor=floor)
    assert two.engine.tensor_parallel_size == 2 and two.kv_bytes_per_token == 65_536 // 2
    assert two.state_bytes == 64 * 153_944_064 // 2


def test_hybrid_layers_follow_the_full_attention_interval_without_layer_types() -> None:
    config = json.loads((CONFIGS / f"{QWEN36}.json").read_text())
    text = {k: v for k, v in config["text_config"].items() if k != "layer_types"}
    a = Architecture.from_config({**config, "text_config": text})
    assert a.params().total == arch(QWEN36).params().total  # every 4th layer full, as listed
    assert (a.linear_layers, a.kv_layers) == (48, 16)
    broken = {**text, "linear_num_value_heads": None}
    with pytest.raises(ArchitectureError, match="linear_num_value_heads"):
        Architecture.from_config({**config, "text_config": broken})


def test_settings_win_over_the_plan() -> None:
    a = arch(QWEN25)
    three = Adapters(3, 64)
    # a bf16 cache at 0.90 holds 5,227,796,480 / 262,144 = 19,942 tokens: 32k does not fit, but the
    # user asked for it, so the plan keeps it and says so instead of lowering it
    fixed = Fixed(max_model_len=32_768, kv_cache_dtype="auto")
    plan = plan_memory(a, 80 * GIB, 1, context=32_768, context_floor=FLOOR, adapters=three, fixed=fixed)
    assert (plan.engine.max_model_len, plan.engine.kv_cache_dtype) == (32_768, "auto")
    assert plan.kv_tokens == 19_942
    assert not plan.fits and any("wins over the plan" in note for note in plan.notes)
    # at 0.95: 81,604,378,624 usable - the same 72,081,614,848 = 9,522,763,776 / 262,144 = 36,326
    roomier = plan_memory(
        a,
        80 * GIB,
        1,
        context=32_768,
        context_floor=FLOOR,
        adapters=three,
        fixed=Fixed(gpu_memory_utilization=0.95),
    )
    assert roomier.engine.gpu_memory_utilization == 0.95
    assert (roomier.engine.kv_cache_dtype, roomier.kv_tokens, roomier.fits) == ("auto", 36_326, True)


def test_a_context_beyond_the_model_is_capped_and_state_layers_are_not_cached() -> None:
    config = json.loads((CONFIGS / f"{QWEN25}.json").read_text())
    plan = plan_memory(Architecture.from_config(config), 80 * GIB, 2, context=131_072, context_floor=FLOOR)
    assert plan.engine.max_model_len == 32_768  # max_position_embeddings
    hybrid = {**config, "layer_types": ["linear_attention"] * 48 + ["full_attention"] * 16}
    a = Architecture.from_config(hybrid)
    assert a.kv_layers == 16 and any("fixed-size state" in note for note in a.notes)
    with pytest.raises(PlanError, match="compressed-tensors"):
        WeightFormat.of(
            Architecture.from_config(
                {**config, "quantization_config": {"quant_method": "compressed-tensors"}}
            )
        )


def test_parse_memory() -> None:
    assert parse_memory("80GiB") == parse_memory("80") == parse_memory("80G") == 80 * GIB
    assert parse_memory("24GB") == 24 * 10**9
    assert parse_memory("49152MiB") == 48 * GIB
    with pytest.raises(PlanError):
        parse_memory("lots")


def test_the_manifest_side_floor_adapters_and_config_source(tmp_path: Path) -> None:
    assert context_floor(Limits()) == FLOOR
    tiny = get_manifest("smollm2-135m")
    assert context_floor(tiny.limits) == 1_024 + 160 * 12 + 1_024  # its 1k turns, 160 shown lines
    reasoner = get_manifest("swe-reasoner-32b")
    assert adapter_slots(reasoner) == Adapters(3, 64)  # no adapters here: the default rank
    # local weights win over the shipped excerpt
    (tmp_path / "weights").mkdir()
    local = {**json.loads((CONFIGS / f"{QWEN25}.json").read_text()), "num_hidden_layers": 2}
    (tmp_path / "weights" / "config.json").write_text(json.dumps(local))
    (tmp_path / "policy").mkdir()
    (tmp_path / "policy" / "adapter_config.json").write_text(json.dumps({"r": 16}))
    (tmp_path / "m.toml").write_text(
        'name = "local"\n[base]\nkind = "hf"\npath = "weights"\nconfig = "nowhere.json"\n'
        '[roles.policy]\nadapter = "policy"\n'
    )
    manifest = load_manifest_file(tmp_path / "m.toml")
    config, source = load_config(manifest, tmp_path)
    assert config["num_hidden_layers"] == 2 and source == str(tmp_path / "weights" / "config.json")
    assert adapter_slots(manifest) == Adapters(1, 16)
    plan, _ = plan_for(manifest, ModelSettings(), tmp_path, GpuInfo(1, 80 * GIB))
    assert plan.engine.max_lora_rank == 16


def test_the_backend_and_vllm_serve_get_the_planned_arguments(tmp_path: Path) -> None:
    manifest = get_manifest("swe-reasoner-32b")
    settings = ModelSettings(name="swe-reasoner-32b")
    plan, _ = plan_for(manifest, settings, tmp_path, GpuInfo(1, 80 * GIB))
    kwargs = llm_kwargs(tmp_path, adapters=3, max_model_len=32_768, engine=plan.engine)
    assert kwargs["max_model_len"] == 32_768
    assert kwargs["gpu_memory_utilization"] == 0.9
    assert kwargs["kv_cache_dtype"] == "fp8"
    assert kwargs["tensor_parallel_size"] == 1
    assert (kwargs["max_num_seqs"], kwargs["max_num_batched_tokens"]) == (64, 8_192)
    assert (kwargs["enable_lora"], kwargs["max_loras"], kwargs["max_lora_rank"]) == (True, 3, 64)
    assert "quantization" not in kwargs and "kv_cache_memory_bytes" not in kwargs
    # CPU: no plan, a fixed cache and the manifest's context, as before
    cpu = llm_kwargs(tmp_path, max_model_len=8_192, kv_cache_gib=1.0, on_cpu=True)
    assert cpu["kv_cache_memory_bytes"] == 2**30 and cpu["max_model_len"] == 8_192
    assert "kv_cache_dtype" not in cpu and "enable_lora" not in cpu
    adapters = {role: tmp_path / role for role in ("policy", "prm", "orm")}
    cmd = serve_command(
        PreparedModel(manifest, tmp_path, adapters), "127.0.0.1", 8000, 2_048, False, None, plan.engine
    )
    assert "--max-model-len=32768" in cmd and "--max-model-len=2048" not in cmd
    assert "--kv-cache-dtype=fp8" in cmd and "--gpu-memory-utilization=0.9" in cmd
    assert cmd.count("--max-lora-rank=64") == 1


def run_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "swe_lsp", "models", "plan", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_models_plan_json_is_one_document_and_no_fit_is_one_line() -> None:
    out = run_cli("swe-reasoner-32b", "--gpu-mem", "80GiB", "--gpus", "1", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)  # the whole of stdout is one JSON document
    assert data["model"] == "swe-reasoner-32b"
    assert data["engine"]["max_model_len"] == 32_768 and data["engine"]["kv_cache_dtype"] == "fp8"
    assert data["kv_tokens"] == 39_884 and data["gpu_source"] == "--gpu-mem"
    text = run_cli("qwen2.5-coder-32b-instruct", "--gpu-mem", "80GiB", "--gpus", "1")
    assert "--kv-cache-dtype=fp8" in text.stdout and "64,460 tokens" in text.stdout
    small = run_cli("qwen2.5-coder-32b-instruct", "--gpu-mem", "24GiB", "--gpus", "1", "--json")
    assert small.returncode == 2 and small.stdout == ""
    assert small.stderr.startswith("swe-lsp: error: the weights (61.0 GiB, bfloat16) leave no room")
    assert "Traceback" not in small.stderr
