"""The memory plan for a manifest: where its config.json comes from, how many LoRA slots it needs,
the least context a search stage can run in, and the GPUs on this machine.

Nothing is downloaded: the architecture comes from the local weights (the manifest's `base.path`,
the local Hugging Face cache, or the folder `models prepare` wrote), else from the manifest's
`base.config` excerpt, so a model can be planned before its weights are fetched.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from swe_lsp.errors import ModelNotFoundError
from swe_lsp.llm.architecture import Architecture
from swe_lsp.llm.limits import Limits
from swe_lsp.llm.manifest import EngineGroup, Manifest
from swe_lsp.llm.memory_plan import (
    Adapters,
    EngineArgs,
    Fixed,
    MemoryPlan,
    PlanError,
    engine_need,
    plan_memory,
    share_gpu,
)
from swe_lsp.llm.prepare import MARKER, _hf_folder, prepared_dir
from swe_lsp.settings import ModelSettings

logger = logging.getLogger(__name__)

DEFAULT_LORA_RANK = 64
"""The slot rank when an adapter's adapter_config.json is not here to say: the rank `swe-train`
trains with, and what the backend registered before there was a plan."""

TOKENS_PER_SHOWN_LINE = 12
"""Tokens per line of code in a patch prompt: limits.py's 600 shown lines are about 7k tokens."""

PROMPT_OVERHEAD_TOKENS = 1024
"""The issue text, the instructions and the answer format around the shown code in a stage prompt."""


@dataclass(frozen=True)
class GpuInfo:
    """The GPUs one engine can use: how many, and the memory of the smallest (tensor parallelism
    splits evenly, so the smallest bounds each share)."""

    count: int
    memory_bytes: int
    name: str = ""


def load_config(manifest: Manifest, cache_dir: Path) -> tuple[dict[str, Any], str]:
    """The manifest's config.json as a dict, and where it was read (local weights first)."""
    candidates: list[Path] = []
    if manifest.base.kind == "hf":
        try:
            folder = _hf_folder(manifest, must_exist=False)
        except ModelNotFoundError:
            folder = None
        if folder is not None:
            candidates.append(folder / "config.json")
    elif manifest.base.kind in ("pip", "gguf"):
        try:
            folder = prepared_dir(manifest, cache_dir)
        except ModelNotFoundError:
            folder = None
        if folder is not None and (folder / MARKER).is_file():
            candidates.append(folder / "config.json")
    excerpt = manifest.config_excerpt()
    if excerpt is not None:
        candidates.append(excerpt)
    for path in candidates:
        if path.is_file():
            try:
                return json.loads(path.read_text(encoding="utf-8")), str(path)
            except (OSError, ValueError) as exc:
                raise PlanError(f"model {manifest.name!r}: cannot read {path}: {exc}") from None
    raise PlanError(
        f"model {manifest.name!r}: no config.json to plan with (the weights are not here and the manifest "
        f"{manifest.source} sets no base.config); download the weights, or point base.config at a copy of "
        "the model's config.json"
    )


def context_floor(limits: Limits) -> int:
    """The least context one search stage runs in: its longest turn (thinking included) plus a patch
    prompt's shown code and the issue around it. Below this a stage's prompt would be clipped to
    nothing, so the plan never lowers the context further."""
    return (
        max(limits.turn_tokens.values()) + limits.shown_lines * TOKENS_PER_SHOWN_LINE + PROMPT_OVERHEAD_TOKENS
    )


def adapter_slots(manifest: Manifest) -> Adapters:
    """One slot per adapter role, at the largest rank of those adapters (their adapter_config.json),
    else `DEFAULT_LORA_RANK`."""
    folders = list(manifest.adapters().values())
    ranks = []
    for folder in folders:
        try:
            ranks.append(int(json.loads((folder / "adapter_config.json").read_text())["r"]))
        except (OSError, ValueError, KeyError, TypeError):
            ranks.append(DEFAULT_LORA_RANK)
    return Adapters(count=len(folders), rank=max(ranks, default=DEFAULT_LORA_RANK))


def fixed_by(settings: ModelSettings) -> Fixed:
    """The engine arguments the user set, which the plan keeps as they are."""
    return Fixed(
        max_model_len=settings.max_model_len,
        gpu_memory_utilization=settings.gpu_memory_utilization,
        kv_cache_dtype=settings.kv_cache_dtype,
        tensor_parallel_size=settings.tensor_parallel_size,
    )


def plan_for(
    manifest: Manifest, settings: ModelSettings, cache_dir: Path, gpu: GpuInfo
) -> tuple[MemoryPlan, str]:
    """The plan for `manifest` on `gpu` under `settings`, and where its config came from."""
    config, source = load_config(manifest, cache_dir)
    arch = Architecture.from_config(config)
    plan = plan_memory(
        arch,
        gpu.memory_bytes,
        gpu.count,
        context=manifest.context_length,
        context_floor=context_floor(manifest.limits),
        adapters=adapter_slots(manifest),
        dtype=settings.dtype,
        fixed=fixed_by(settings),
    )
    return plan, source


def engine_args_for(
    manifest: Manifest, settings: ModelSettings, cache_dir: Path, gpu: GpuInfo
) -> EngineArgs | None:
    """The arguments the vLLM engine starts with on `gpu`: the plan's, which keep whatever the user
    set. None when the plan cannot be made but the user set the context (their settings then go to
    vLLM as they are); a `PlanError` when nothing fits and the user set nothing to go by."""
    try:
        plan, source = plan_for(manifest, settings, cache_dir, gpu)
    except PlanError as exc:
        if settings.max_model_len is None:
            raise
        logger.warning("no memory plan (%s); starting with the settings as they are", exc)
        return None
    logger.info("memory plan for %s (config: %s):\n%s", manifest.name, source, plan.as_text())
    if not plan.fits:
        logger.warning("%s", "; ".join(plan.notes))
    return plan.engine


def gpus_from_nvidia_smi(timeout_s: float = 5.0) -> GpuInfo | None:
    """The NVIDIA GPUs `nvidia-smi` lists (no torch import: the LSP process and `doctor` stay light);
    None when there is none or it cannot say."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return None
    try:
        out = subprocess.run(
            [smi, "--query-gpu=name,memory.total", "--format=csv,noheader,nounits"],
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    rows = [line.rsplit(",", 1) for line in out.stdout.strip().splitlines() if "," in line]
    try:
        sizes = [int(float(mib)) * 2**20 for _, mib in rows]
    except ValueError:
        return None
    if not sizes:
        return None
    return GpuInfo(len(sizes), min(sizes), rows[0][0].strip())


def gpus_from_torch() -> GpuInfo | None:
    """The CUDA devices this process sees (honours CUDA_VISIBLE_DEVICES; imports torch, so only in
    the engine's process)."""
    import torch

    if not torch.cuda.is_available():
        return None
    count = torch.cuda.device_count()
    props = [torch.cuda.get_device_properties(i) for i in range(count)]
    return GpuInfo(count, min(p.total_memory for p in props), props[0].name)


def served_here(group: EngineGroup, settings: ModelSettings) -> bool:
    """Whether `group` runs in this process (not on an endpoint): an endpoint base, or the policy's
    group under `model.base_url` / `backend = "openai"`, is served elsewhere and planned there."""
    if group.manifest.base.kind == "endpoint":
        return False
    return not (group.primary and (settings.base_url or settings.backend == "openai"))


def gpu_shares(
    groups: list[EngineGroup], settings: ModelSettings, cache_dir: Path, gpu: GpuInfo
) -> dict[str, float]:
    """The `gpu_memory_utilization` of each in-process engine of a split manifest on one GPU, by
    group manifest name (`memory_plan.share_gpu` states the rule); empty when at most one engine
    runs here (it then has the GPU to itself)."""
    local = [g for g in groups if served_here(g, settings)]
    if len(local) < 2:
        return {}
    needs = []
    for group in local:
        config, _ = load_config(group.manifest, cache_dir)
        arch = Architecture.from_config(config)
        needs.append(
            engine_need(
                group.manifest.name,
                arch,
                group.manifest.context_length,
                adapter_slots(group.manifest),
                settings.dtype,
            )
        )
    shares = share_gpu(needs, gpu.memory_bytes, settings.gpu_memory_utilization)
    return {n.name: share for n, share in zip(needs, shares, strict=True)}


@dataclass(frozen=True)
class GroupPlan:
    """One engine of a manifest: its roles, its plan (None when it is served elsewhere), where its
    config came from, and its share of the GPU when it shares one."""

    group: EngineGroup
    plan: MemoryPlan | None
    source: str
    share: float | None = None


def plan_groups(
    manifest: Manifest, settings: ModelSettings, cache_dir: Path, gpu: GpuInfo
) -> list[GroupPlan]:
    """The plan of every engine `manifest` needs on `gpu`: one plan for a one-base manifest; for a
    split one, each in-process engine planned inside its share of the GPU."""
    groups = manifest.engine_groups()
    shares = gpu_shares(groups, settings, cache_dir, gpu)
    out = []
    for group in groups:
        if not served_here(group, settings):
            where = group.manifest.base.url or settings.base_url or "model.base_url"
            out.append(GroupPlan(group, None, f"served by an OpenAI-compatible server ({where})"))
            continue
        share = shares.get(group.manifest.name)
        own = settings.model_copy(update={"gpu_memory_utilization": share}) if share else settings
        plan, source = plan_for(group.manifest, own, cache_dir, gpu)
        out.append(GroupPlan(group, plan, source, share))
    return out
