"""`swe-train export NAME`: the run's adapters as a model the server loads by name, unchanged.

Writes `MODELS/NAME.toml` and `MODELS/NAME/{policy,prm,orm}/` (the trained LoRA adapters; a role
without one stays the base model or the judge), plus `MODELS/NAME/provenance.json`. The manifest's
base is the run's: the same `[base]` table as the manifest the run started from, or the local
folder it trained on. After `sft --full` the policy is a whole model, not an adapter: it is copied
to `MODELS/NAME/policy/`, the manifest's base points there (`kind = "hf"`) and the policy role is
that base; the PRM and ORM adapters must then have been trained on it (`prm` and `orm` do so by
default after `sft --full`), which is checked here. `MODELS` defaults to the user's model folder,
which the server searches.
"""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path
from typing import Any

from swe_lsp.errors import SettingsError
from swe_lsp.llm import get_manifest
from swe_lsp.llm.manifest import load_manifest_file, manifest_dirs
from trainer import provenance
from trainer.modeling import SFT_OUTPUT, cache_dir, is_full_checkpoint, policy_base, resolve_base

STEP = "export"
ROLE_DIRS = {"policy": "sft", "prm": "prm", "orm": "orm"}
_FALLBACK = {"policy": '"base"', "prm": '"judge"', "orm": '"judge"'}


def _toml_value(value: Any) -> str:
    """A TOML value for the simple scalars a manifest holds (JSON strings are TOML basic strings)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    return json.dumps(str(value))


def export(run: Path, name: str, models: Path, description: str = "") -> Path:
    """Write the manifest and adapters; returns the manifest's path (validated by loading it)."""
    base = resolve_base(run, None, cache_dir())
    folder = models / name
    full = is_full_checkpoint(run / SFT_OUTPUT)
    if base.manifest is not None:
        source = get_manifest(base.manifest)
        base_table = {k: v for k, v in source.base.model_dump().items() if v is not None}
        if source.base.kind == "gguf" and "file" in base_table:
            base_table["file"] = str(source.gguf_path())
        context, template = source.context_length, source.chat_template
    else:
        base_table, context, template = {"kind": "hf", "path": str(base.path)}, 4096, base.template_name
    if full:
        _check_adapters_on(run, policy_base(run, base).path)
        _copy(run / SFT_OUTPUT, folder / "policy")
        base_table = {"kind": "hf", "path": f"{name}/policy"}  # relative to the manifest's folder
    default_description = f"trained by swe-train from {base.manifest or base.path}"
    lines = [
        f"# Written by `swe-train export {name}` from {run.resolve()}.",
        f"name = {_toml_value(name)}",
        f"description = {_toml_value(description or default_description)}",
        f"context_length = {context}",
        f"chat_template = {_toml_value(template)}",
        "",
        "[base]",
        *(f"{k} = {_toml_value(v)}" for k, v in base_table.items()),
        "",
        "[roles]",
    ]
    tables = []
    for role, step in ROLE_DIRS.items():
        adapter = run / step / "adapter"
        if not (adapter / "adapter_config.json").is_file():
            lines.append(f"{role} = {_FALLBACK[role]}")  # after `sft --full` the policy is the base
            continue
        _copy(adapter, folder / role)
        table = [f"[roles.{role}]", f"adapter = {_toml_value(f'{name}/{role}')}"]
        if role == "orm":
            report = run / "orm" / "report.json"
            beta = json.loads(report.read_text()).get("beta", 0.1) if report.is_file() else 0.1
            table.append(f"beta = {_toml_value(float(beta))}")
        tables.append("\n".join(table))
    folder.mkdir(parents=True, exist_ok=True)
    if (run / provenance.FILE).is_file():
        shutil.copy2(run / provenance.FILE, folder / provenance.FILE)
    path = models / f"{name}.toml"
    path.write_text("\n".join(lines) + "\n\n" + "\n\n".join(tables) + "\n", encoding="utf-8")
    load_manifest_file(path)  # what the server will do: fail here, not there
    return path


def _copy(source: Path, dest: Path) -> None:
    """`dest` as a fresh copy of `source` (an earlier export's files replaced, not merged)."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(source, dest)


def _check_adapters_on(run: Path, policy: Path) -> None:
    """Every reward adapter of the run was trained on the full fine-tuned `policy`: an adapter
    trained on the original base would be served on a model it was never trained with."""
    for step in ("prm", "orm"):
        config = run / step / "adapter" / "adapter_config.json"
        if not config.is_file():
            continue
        trained_on = json.loads(config.read_text()).get("base_model_name_or_path") or ""
        if Path(trained_on).resolve() != policy.resolve():
            raise SettingsError(
                f"the {step} adapter was trained on {trained_on}, but `sft --full` made {policy} the "
                f"model the server loads: remove {run / step} and run `swe-train {step} --out {run}` "
                "again (it trains on the full fine-tune), then export"
            )


def register(subparsers: Any) -> None:
    """Add the `export` subcommand."""
    p = subparsers.add_parser("export", help="write the adapters and models/NAME.toml (step 7)")
    p.add_argument("name", help="the model's name (the server loads it by this name)")
    p.add_argument("--out", type=Path, required=True, help="the run folder")
    p.add_argument(
        "--models", type=Path, default=None, help="where to write (default: the user's models folder)"
    )
    p.add_argument("--description", default="", help="one line for `swe-lsp models list`")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Export and say where."""
    models = args.models or manifest_dirs()[1]
    path = export(args.out, args.name, models, args.description)
    provenance.record(args.out, STEP, {"name": args.name, "manifest": path})
    print(f"exported {args.name}: {path}")
    return 0
