"""A workspace's third-party requirements, read from its dependency files without running them.

The environment image is keyed by the hash of these files, so editing code never rebuilds it and
editing a requirement always does. The project itself is not installed: the tree is put on
PYTHONPATH instead, because it changes with every candidate while its dependencies do not.
"""

from __future__ import annotations

import ast
import configparser
import hashlib
import tomllib
from dataclasses import dataclass
from pathlib import Path

# Optional-dependency groups that hold what the tests need.
TEST_EXTRAS = ("test", "tests", "testing", "dev")


@dataclass(frozen=True)
class EnvSpec:
    """The requirements a workspace's tests need, the files they came from, and their hash."""

    requirements: tuple[str, ...]
    sources: tuple[str, ...]
    digest: str


def env_spec(tree: Path) -> EnvSpec:
    """Read requirements*.txt, pyproject.toml, setup.cfg and setup.py at the top of `tree`."""
    found: list[str] = []
    sources: list[str] = []
    digest = hashlib.sha256()
    files = sorted(tree.glob("requirements*.txt")) + [
        tree / name for name in ("pyproject.toml", "setup.cfg", "setup.py")
    ]
    for path in files:
        if not path.is_file():
            continue
        data = path.read_bytes()
        digest.update(path.name.encode() + b"\0" + data + b"\0")
        reqs = _READERS.get(path.suffix, _from_requirements_txt)(data.decode("utf-8", "replace"))
        sources.append(path.name)
        found.extend(r for r in reqs if r not in found)
    return EnvSpec(tuple(found), tuple(sources), digest.hexdigest())


def _from_requirements_txt(text: str) -> list[str]:
    """Requirement lines; options, includes and local paths (`-e .`, `./pkg`) are skipped."""
    out = []
    for raw in text.splitlines():
        line = raw.split(" #", 1)[0].strip()
        if line and not line.startswith(("#", "-", ".", "/")):
            out.append(line)
    return out


def _from_pyproject(text: str) -> list[str]:
    try:
        project = tomllib.loads(text).get("project", {})
    except tomllib.TOMLDecodeError:
        return []
    extras = project.get("optional-dependencies", {})
    return list(project.get("dependencies", [])) + [r for k in TEST_EXTRAS for r in extras.get(k, [])]


def _from_setup_cfg(text: str) -> list[str]:
    parser = configparser.ConfigParser()
    try:
        parser.read_string(text)
    except configparser.Error:
        return []
    lines = parser.get("options", "install_requires", fallback="").splitlines()
    for extra in TEST_EXTRAS:
        lines += parser.get("options.extras_require", extra, fallback="").splitlines()
    return [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]


def _from_setup_py(text: str) -> list[str]:
    """Literal `install_requires=[...]` and `tests_require=[...]` lists; anything computed is missed."""
    try:
        module = ast.parse(text)
    except SyntaxError:
        return []
    out: list[str] = []
    for node in ast.walk(module):
        if isinstance(node, ast.keyword) and node.arg in ("install_requires", "tests_require"):
            try:
                value = ast.literal_eval(node.value)
            except ValueError:
                continue
            out.extend(v for v in value if isinstance(v, str))
    return out


_READERS = {".toml": _from_pyproject, ".cfg": _from_setup_cfg, ".py": _from_setup_py}
