"""One typed settings object for the CLI, the language server and the engine.

Sources, lowest to highest precedence: defaults, the user's `swe-lsp.toml` (platformdirs config
dir), the workspace's `swe-lsp.toml`, `SWE_LSP_*` environment variables (nested keys joined with
`__`, e.g. `SWE_LSP_MODEL__BACKEND=openai`), then explicit overrides (the editor's LSP settings, CLI
flags). Every key is checked: an unknown key or a bad value is a `SettingsError` naming the key, the
source it came from and the allowed values. Nothing is silently ignored, because a typo in a
setting that silently falls back to a default is the worst kind of bug to debug from an editor.
"""

from __future__ import annotations

import os
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from swe_lsp.errors import SettingsError

APP_NAME = "swe-lsp"
SETTINGS_FILE = "swe-lsp.toml"
ENV_PREFIX = "SWE_LSP_"
ENV_NESTED = "__"


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class ModelSettings(_Section):
    """Which model serves the three roles, and through which backend."""

    name: str = Field("smollm2-135m", description="A manifest name (`swe-lsp models list`).")
    backend: Literal["auto", "vllm", "transformers", "openai"] = Field(
        "auto", description="auto: vLLM in-process where it imports, else transformers."
    )
    base_url: str | None = Field(None, description="OpenAI-compatible server, e.g. http://gpu:8000/v1.")
    api_key_env: str = Field("OPENAI_API_KEY", description="Environment variable holding the API key.")
    device: Literal["auto", "cpu", "cuda"] = "auto"
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    threads: int | None = Field(None, ge=1, description="CPU threads for local inference (None: all).")
    max_model_len: int | None = Field(None, ge=256)
    gpu_memory_utilization: float = Field(0.85, gt=0.05, le=1.0)
    kv_cache_gib: float = Field(2.0, gt=0, description="KV cache for vLLM on CPU, in GiB.")
    enforce_eager: bool | None = Field(
        None,
        description="vLLM: skip torch.compile / CUDA graphs (None: skip on CPU, where compiling a "
        "model takes minutes and its cache does not reload).",
    )
    server_constraints: Literal["vllm", "none"] = Field(
        "vllm", description="openai: send vLLM's structured_outputs, or check constraints client-side only."
    )
    serial_scoring: bool = Field(
        False,
        description="openai: score one prompt per request (a vLLM CPU server with LoRA crashes "
        "on batched prompt log-probabilities, vllm#16668).",
    )
    request_timeout_s: float = Field(300.0, gt=0)
    max_retries: int = Field(3, ge=0, le=10)
    seed: int | None = None


class SearchSettings(_Section):
    """The Dev-Search budget: n samples per stage, k kept per stage, and when to stop."""

    budget: int = Field(4, ge=1, le=64, description="Samples per stage (n).")
    beam: int = Field(2, ge=1, le=16, description="Candidates kept per stage (k).")
    strategy: Literal["devsearch", "exec", "orm_exec", "vote"] = "devsearch"
    max_localization_rounds: int = Field(4, ge=1, le=16)
    max_refinements: int = Field(1, ge=0, le=8)
    repro_retries: int = Field(
        2,
        ge=0,
        le=8,
        description="Times a reproduction script that did not reproduce the issue is rewritten with its "
        "log (see SearchConfig.repro_retries for why 2).",
    )
    early_stop_score: float = Field(0.8, ge=0.0, le=1.0)
    temperature: float = Field(0.7, ge=0.0, le=2.0)
    max_tokens: int | None = Field(
        None,
        ge=16,
        description="Output tokens per model turn, every stage (None: the model manifest's per-stage "
        "limits, e.g. 16k for a reasoning model's patch turn).",
    )
    patch_keep: int | None = Field(
        None,
        ge=1,
        le=64,
        description="Distinct patches kept for ORM scoring and execution (None: all of them, verified "
        "in ORM order; the early stop bounds the cost).",
    )
    constrain_patches: bool = Field(
        True,
        description="Constrain patch decoding so SEARCH text quotes the shown code exactly (off: free "
        "text, for a trained model whose thinking must quote code with `<`).",
    )


class SandboxSettings(_Section):
    """Where candidate patches are verified."""

    kind: Literal["auto", "docker", "bwrap", "local"] = Field(
        "auto", description="auto: docker, then bwrap; never `local` unless asked for."
    )
    image: str | None = Field(None, description="Base image (None: the locally built swe-lsp base).")
    timeout_s: float = Field(300.0, gt=0)
    memory: str = Field("2g", pattern=r"^\d+[kmgKMG]?$")
    cpus: float = Field(1.0, gt=0)
    pids: int = Field(512, ge=16)
    test_command: str | None = Field(None, description="Run the tests with this (None: detected).")
    python: str | None = Field(
        None,
        pattern=r"^3\.\d{1,2}$",
        description="The Python the tests run on, e.g. 3.9 (None: from the project's own files).",
    )
    system_packages: tuple[str, ...] = Field(
        (), description="Debian packages the project's build or tests need (installed in its environment)."
    )
    build_network: bool = Field(
        True,
        description="Let the environment build (not the verification runs) reach the package index.",
    )
    max_output_bytes: int = Field(
        4_000_000,
        ge=1024,
        description="Output kept per command (head and tail). Per-test results are parsed from the "
        "whole log: a Django or SymPy test module prints about 100 bytes per test, so 4 MB holds "
        "tens of thousands of tests; prompts only ever see a tail of it.",
    )


class Settings(_Section):
    """Everything the user can set. Sections mirror the packages that read them."""

    model: ModelSettings = Field(default_factory=ModelSettings)
    search: SearchSettings = Field(default_factory=SearchSettings)
    sandbox: SandboxSettings = Field(default_factory=SandboxSettings)
    models_dirs: tuple[Path, ...] = Field((), description="Extra folders of model manifests.")
    cache_dir: Path | None = Field(None, description="Override the platformdirs cache folder.")
    log_level: Literal["debug", "info", "warning", "error"] = "info"

    def cache_path(self) -> Path:
        """Where prepared models, indexes and snapshots live."""
        return self.cache_dir or Path(platformdirs.user_cache_dir(APP_NAME))

    def with_overrides(self, overrides: Mapping[str, Any], source: str = "overrides") -> Settings:
        """A copy with `overrides` (nested dicts) validated on top; `self` is unchanged on error."""
        merged = deep_merge(self.model_dump(), overrides)
        return _validate(merged, {source: overrides})


@dataclass(frozen=True)
class LoadedSettings:
    """Settings plus where they came from, for `swe-lsp doctor` and error messages."""

    settings: Settings
    files: tuple[Path, ...] = ()
    env_keys: tuple[str, ...] = ()
    overridden: tuple[str, ...] = field(default=())


def user_settings_file() -> Path:
    """The per-user settings file (may not exist)."""
    return Path(platformdirs.user_config_dir(APP_NAME)) / SETTINGS_FILE


def load_settings(
    workspace: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    user_file: Path | None = None,
) -> LoadedSettings:
    """Read and validate every source; raise `SettingsError` naming the first bad key."""
    env = os.environ if env is None else env
    sources: dict[str, Mapping[str, Any]] = {}
    files: list[Path] = []
    for path in (user_file or user_settings_file(), workspace / SETTINGS_FILE if workspace else None):
        if path is not None and path.is_file():
            sources[str(path)] = _read_toml(path)
            files.append(path)
    env_values, env_keys = _from_env(env)
    if env_values:
        sources["environment"] = env_values
    if overrides:
        sources["overrides"] = overrides
    merged: dict[str, Any] = {}
    for values in sources.values():
        merged = deep_merge(merged, values)
    settings = _validate(merged, sources)
    return LoadedSettings(settings, tuple(files), tuple(env_keys), tuple(overrides or ()))


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: not valid TOML: {exc}") from exc


def _from_env(env: Mapping[str, str]) -> tuple[dict[str, Any], list[str]]:
    """`SWE_LSP_MODEL__BACKEND=openai` -> {"model": {"backend": "openai"}}; values stay strings
    (pydantic coerces them), lists are comma-separated."""
    out: dict[str, Any] = {}
    keys: list[str] = []
    for name, value in env.items():
        if not name.startswith(ENV_PREFIX):
            continue
        path = name[len(ENV_PREFIX) :].lower().split(ENV_NESTED)
        node = out
        for part in path[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                raise SettingsError(f"{name}: conflicts with another SWE_LSP_ variable")
        leaf = path[-1]
        node[leaf] = [v for v in value.split(",") if v] if leaf.endswith("dirs") else value
        keys.append(name)
    return out, keys


def deep_merge(base: Mapping[str, Any], top: Mapping[str, Any]) -> dict[str, Any]:
    """`top` over `base`, merging nested tables instead of replacing them."""
    merged = dict(base)
    for key, value in top.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _validate(merged: Mapping[str, Any], sources: Mapping[str, Mapping[str, Any]]) -> Settings:
    try:
        return Settings.model_validate(merged)
    except ValidationError as exc:
        raise SettingsError(_describe(exc, sources)) from None


def _describe(exc: ValidationError, sources: Mapping[str, Mapping[str, Any]]) -> str:
    """One line per problem: the dotted key, where it was set, and what is allowed."""
    lines = []
    for err in exc.errors():
        key = ".".join(str(p) for p in err["loc"])
        where = [name for name, values in sources.items() if _has_key(values, err["loc"])]
        origin = f" (from {where[-1]})" if where else ""
        if err["type"] == "extra_forbidden":
            section = err["loc"][:-1]
            allowed = _allowed_keys(section)
            lines.append(f"unknown setting '{key}'{origin}; known keys here: {', '.join(allowed)}")
        else:
            lines.append(f"invalid value for '{key}'{origin}: {err['msg']} (got {err.get('input')!r})")
    return "; ".join(lines)


def _has_key(values: Mapping[str, Any], loc: tuple[Any, ...]) -> bool:
    node: Any = values
    for part in loc:
        if not isinstance(node, Mapping) or part not in node:
            return False
        node = node[part]
    return True


def _allowed_keys(section: tuple[Any, ...]) -> list[str]:
    model: type[BaseModel] = Settings
    for part in section:
        annotation = model.model_fields[str(part)].annotation
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return []
        model = annotation
    return sorted(model.model_fields)
