"""One typed settings object for the CLI, the language server and the engine.

Sources, lowest to highest precedence: defaults, the user's `swe-lsp.toml` (platformdirs config
dir), the workspace's `swe-lsp.toml`, `SWE_LSP_*` environment variables (nested keys joined with
`__`, e.g. `SWE_LSP_MODEL__BACKEND=openai`), then explicit overrides (the editor's LSP settings, CLI
flags). Every key is checked: an unknown key or a bad value is a `SettingsError` naming the key, the
source it came from and the allowed values. Nothing is silently ignored, because a typo in a
setting that silently falls back to a default is the worst kind of bug to debug from an editor.

Workspace trust: a folder's own `swe-lsp.toml` comes with the code (a cloned repository writes it),
so the keys that could send the code off the machine, run code outside the sandbox or load code
from the folder (`TRUSTED_ONLY`) are taken from it only once the user trusts the folder: the
editor says so (VS Code's workspace trust, Neovim's `vim.secure` trust database), the CLI is given
`--trust`, or the folder is under one of the user's `trusted_folders`. Otherwise each such key is
left out and named in `LoadedSettings.ignored`, which the server and the CLI show.
"""

from __future__ import annotations

import copy
import os
import tomllib
import typing
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
    max_model_len: int | None = Field(
        None,
        ge=256,
        description="vLLM's context (None: on a GPU, the memory plan's: the manifest's context_length "
        "when it fits, else lowered; on CPU, the manifest's). Set, it wins over the plan.",
    )
    gpu_memory_utilization: float | None = Field(
        None,
        gt=0.05,
        le=1.0,
        description="Share of each GPU vLLM may use (None: the plan's 0.90, vLLM's own default). "
        "Set, it wins over the plan.",
    )
    kv_cache_dtype: Literal["auto", "fp8", "fp8_e4m3", "fp8_e5m2"] | None = Field(
        None,
        description="vLLM's KV cache dtype (None: the plan's, fp8 only when the model's own dtype "
        "leaves too little cache for the context). Set, it wins over the plan.",
    )
    tensor_parallel_size: int | None = Field(
        None,
        ge=1,
        description="GPUs one engine spreads the model over (None: the plan's, the fewest on which "
        "the context fits). Set, it wins over the plan.",
    )
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
    shared_engine: bool = Field(
        True,
        description="One engine for every editor window (Linux, macOS): the first window's server "
        "starts a per-user engine service, the others attach and their jobs queue there, so a "
        "model is loaded once; it stays loaded for 10 minutes after the last job "
        "(`swe-lsp engine stop` unloads it now). False: each server has a worker of its own, "
        "which ends with it.",
    )


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
    history_ranker: bool = Field(
        True,
        description="Re-rank the retrieved files with the learned ranker: the workspace's own model, "
        "trained from its git history while the editor is idle (off: no idle training), else the "
        "shipped prior. Off: the first stage's order.",
    )
    semantic_ranker: bool = Field(
        True,
        description="Re-rank the best symbols by their similarity to the issue under a small local "
        "embedding model (all-MiniLM-L6-v2, installed with swe-lsp; nothing is downloaded). Off, or "
        "when the model is not installed: the hand-weighted symbol order.",
    )
    embedding_model: str | None = Field(
        None,
        description="A local sentence-transformers model folder to use for semantic_ranker instead of "
        "the bundled all-MiniLM-L6-v2 (e.g. a code retrieval model you trust).",
    )
    run_example: bool = Field(
        True,
        description="Run the issue's example code (its >>> lines or code blocks) in the sandbox before "
        "the search, when the sandbox's environment is ready, and rank the functions it calls higher. "
        "Only in the sandbox the job verifies in; off: the code is not run.",
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
    trusted_folders: tuple[Path, ...] = Field(
        (),
        description="Folders (and the folders under them) whose own swe-lsp.toml may set the keys that "
        "send code elsewhere or run it outside the sandbox. Read from your settings only, never a "
        "workspace's.",
    )

    def cache_path(self) -> Path:
        """Where prepared models, indexes and snapshots live."""
        return self.cache_dir or Path(platformdirs.user_cache_dir(APP_NAME))

    def with_overrides(self, overrides: Mapping[str, Any], source: str = "overrides") -> Settings:
        """A copy with `overrides` (nested dicts) validated on top; `self` is unchanged on error."""
        merged = deep_merge(self.model_dump(), overrides)
        return _validate(merged, {source: overrides})


# The keys a workspace's own swe-lsp.toml may set only in a trusted folder, each with what it could
# do if a cloned repository set it. `trusted_folders` is never read from a workspace: a folder
# cannot vouch for itself.
TRUSTED_ONLY: dict[tuple[str, ...], str] = {
    ("model", "base_url"): "it would send the workspace's code to that server",
    ("model", "api_key_env"): "it chooses which of your environment variables is sent as an API key",
    ("sandbox", "kind"): "it can run model-written code outside the sandbox (`local`)",
    ("sandbox", "test_command"): "it is a command run on every candidate",
    ("models_dirs",): "it loads model manifests, and the weights and templates they name, from the folder",
    ("search", "embedding_model"): "it loads an embedding model's weights and settings from that folder",
    ("cache_dir",): "it chooses where snapshots of your code are written",
    ("trusted_folders",): "only your own settings can trust a folder",
}
# Values of `TRUSTED_ONLY` keys an untrusted folder may still set: they choose among the sandboxes.
SAFE_UNTRUSTED: dict[tuple[str, ...], frozenset[object]] = {
    ("sandbox", "kind"): frozenset({"auto", "docker", "bwrap"}),
}


@dataclass(frozen=True)
class LoadedSettings:
    """Settings plus where they came from, for `swe-lsp doctor` and error messages. `trusted`:
    whether the workspace's own file was taken whole; `ignored`: one message per key left out of it."""

    settings: Settings
    files: tuple[Path, ...] = ()
    env_keys: tuple[str, ...] = ()
    overridden: tuple[str, ...] = field(default=())
    trusted: bool = False
    ignored: tuple[str, ...] = ()


def user_settings_file() -> Path:
    """The per-user settings file (may not exist)."""
    return Path(platformdirs.user_config_dir(APP_NAME)) / SETTINGS_FILE


def load_settings(
    workspace: Path | None = None,
    overrides: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    user_file: Path | None = None,
    trusted: bool = False,
) -> LoadedSettings:
    """Read and validate every source; raise `SettingsError` naming the first bad key. `trusted`:
    the user (through the editor or `--trust`) trusts `workspace`; it is also trusted when it lies
    under one of the user's `trusted_folders`."""
    env = os.environ if env is None else env
    sources: dict[str, Mapping[str, Any]] = {}
    files: list[Path] = []
    user_path = user_file or user_settings_file()
    if user_path.is_file():
        sources[str(user_path)] = _read_toml(user_path)
        files.append(user_path)
    env_values, env_keys = _from_env(env)
    own = workspace / SETTINGS_FILE if workspace else None
    ignored: list[str] = []
    # Decided whether or not the folder has a file of its own, so `doctor` tells the truth either way.
    trusted = trusted or _under_trusted(
        workspace, [sources.get(str(user_path), {}), env_values, overrides or {}]
    )
    if own is not None and own.is_file():
        values = _read_toml(own)
        values, left_out = _without_trusted_only(values, trusted)
        ignored = [
            f"{own}: `{key}` is not used because the folder is not trusted ({why}); trust the folder "
            "to use it (the editor's workspace trust, `--trust`, or `trusted_folders` in "
            f"{user_settings_file()})"
            if key != "trusted_folders"
            else f"{own}: `{key}` is not used ({why})"
            for key, why in left_out
        ]
        sources[str(own)] = values
        files.append(own)
    if env_values:
        sources["environment"] = env_values
    if overrides:
        sources["overrides"] = overrides
    merged: dict[str, Any] = {}
    for values in sources.values():
        merged = deep_merge(merged, values)
    settings = _validate(merged, sources)
    return LoadedSettings(
        settings, tuple(files), tuple(env_keys), tuple(overrides or ()), trusted, tuple(ignored)
    )


def _under_trusted(workspace: Path | None, sources: list[Mapping[str, Any]]) -> bool:
    """Whether `workspace` is one of (or under one of) the `trusted_folders` the user's own sources
    name (env lists are comma-separated)."""
    if workspace is None:
        return False
    here = workspace.expanduser().resolve()
    for values in sources:
        folders = values.get("trusted_folders") or ()
        if isinstance(folders, str):
            folders = [f for f in folders.split(",") if f]
        for folder in folders if isinstance(folders, list | tuple) else ():
            top = Path(str(folder)).expanduser().resolve()
            if here == top or top in here.parents:
                return True
    return False


def _without_trusted_only(
    values: Mapping[str, Any], trusted: bool
) -> tuple[dict[str, Any], list[tuple[str, str]]]:
    """A workspace file's values without the `TRUSTED_ONLY` keys it may not set (all but
    `trusted_folders` when `trusted`), and those left out as (dotted key, why)."""
    kept = copy.deepcopy(dict(values))
    left_out: list[tuple[str, str]] = []
    for key, why in TRUSTED_ONLY.items():
        if trusted and key != ("trusted_folders",):
            continue
        node: Any = kept
        for part in key[:-1]:
            node = node.get(part) if isinstance(node, Mapping) else None
        if isinstance(node, dict) and key[-1] in node:
            if node[key[-1]] in SAFE_UNTRUSTED.get(key, ()):
                continue
            del node[key[-1]]
            left_out.append((".".join(key), why))
    return kept, left_out


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: not valid TOML: {exc}") from exc


def _from_env(env: Mapping[str, str]) -> tuple[dict[str, Any], list[str]]:
    """`SWE_LSP_MODEL__BACKEND=openai` -> {"model": {"backend": "openai"}}; values stay strings
    (pydantic coerces them), lists (`models_dirs`, `trusted_folders`, ...) are comma-separated."""
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
        node[leaf] = [v for v in value.split(",") if v] if _is_list(path) else value
        keys.append(name)
    return out, keys


def _is_list(path: list[str]) -> bool:
    """Whether the setting at `path` holds a list (a tuple field), e.g. `models_dirs`."""
    model: type[BaseModel] = Settings
    for part in path[:-1]:
        annotation = model.model_fields[part].annotation if part in model.model_fields else None
        if not (isinstance(annotation, type) and issubclass(annotation, BaseModel)):
            return False
        model = annotation
    info = model.model_fields.get(path[-1])
    return info is not None and typing.get_origin(info.annotation) is tuple


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
