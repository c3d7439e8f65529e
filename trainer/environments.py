"""Pinned test environments for instances whose own dependency files no longer install.

The sandbox builds a workspace's environment from the workspace's dependency files
(`requirements*.txt`, `setup.py`, `setup.cfg`, `pyproject.toml`). At an old base commit those name
versions that are gone or break on the sandbox's Python: requests 2.10's `requirements.txt` pins
pytest 2.8, which imports `UserDict`; flask 2.0 asks for `Werkzeug>=2.0`, gets 3.x, and 3.x dropped
`url_quote`. The SWE-bench harness pins every repository version's environment for the same reason.
An environments file carries such pins, one table per repository, one key per version::

    ["pallets/flask"]
    "2.0" = ["Werkzeug==2.3.7", "Jinja2==3.0.1"]
    default = ["Werkzeug==2.3.7"]        # any version not listed

`pinned_tree` writes the pins into a private copy of an instance's tree (its top-level
`requirements*.txt` replaced by one file of the pins; the other dependency files stay, and pip
resolves their ranges to the pins). Only the sandbox sees that copy: the tree the model reads, and
so every patch it writes, stays exactly the upstream one, which the official harness applies.
"""

from __future__ import annotations

import shutil
import tomllib
from collections.abc import Mapping
from pathlib import Path

from trainer.instances import DataError, Instance

Environments = Mapping[str, Mapping[str, tuple[str, ...]]]
DEFAULT = "default"
PIN_FILE = "requirements.txt"


def load_environments(path: Path) -> dict[str, dict[str, tuple[str, ...]]]:
    """The pins of an environments file: repository -> version (or "default") -> requirements."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise DataError(f"{path}: cannot read the environments file: {exc}") from None
    out: dict[str, dict[str, tuple[str, ...]]] = {}
    for repo, versions in raw.items():
        if not isinstance(versions, dict):
            raise DataError(f"{path}: [{repo!r}] must be a table of version = [requirements]")
        table = {}
        for version, pins in versions.items():
            if not isinstance(pins, list) or not all(isinstance(p, str) for p in pins):
                raise DataError(f"{path}: {repo} {version}: expected a list of requirement strings")
            table[str(version)] = tuple(pins)
        out[repo] = table
    return out


def pins_for(inst: Instance, environments: Environments | None) -> tuple[str, ...] | None:
    """The pinned requirements of `inst` (its repository and version, else the repository's
    default); None when the file says nothing about it (the tree's own files are used then)."""
    if not environments or inst.repo not in environments:
        return None
    table = environments[inst.repo]
    if inst.version in table:
        return table[inst.version]
    return table.get(DEFAULT)


def pinned_tree(tree: Path, pins: tuple[str, ...], dest: Path) -> Path:
    """A copy of `tree` at `dest` (no `.git`) whose top-level requirements files are replaced by
    one file of `pins`; returns `dest`."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(tree, dest, ignore=shutil.ignore_patterns(".git"), symlinks=True)
    for old in dest.glob("requirements*.txt"):
        old.unlink()
    (dest / PIN_FILE).write_text("".join(f"{p}\n" for p in pins), encoding="utf-8")
    return dest
