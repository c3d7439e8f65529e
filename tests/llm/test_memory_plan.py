"""The memory planner against figures worked out by hand for two real models, and the paths that
carry its arguments to vLLM (argument construction only: no engine starts here).

Qwen2.5-Coder-32B-Instruct (dense, qwen2) and Qwen3-Coder-30B-A3B-Instruct (mixture of experts,
qwen3_moe) are read from the config excerpts shipped in models/configs/; their parameter counts are
checked against the checkpoints' own byte totals (safetensors index: 65,527,752,704 and
61,064,245,248 bf16 bytes).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from swe_lsp.llm.architecture import Architecture
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
