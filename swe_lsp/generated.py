"""The build outputs a project imports from its own tree though git ignores them, for every reader
that copies a tree: the snapshot (`workspace.snapshot`), the sandboxes (`sandbox.tree`) and the
environment plan (`sandbox.environment`).

Two kinds, both written by the project's own install (`pip install -e .`) and never edited:
- **the version module its build declares** (setuptools-scm's `write_to` / `version_file`, hatch-vcs'
  `version-file`: `src/_pytest/_version.py`, `lib/matplotlib/_version.py`), which the package
  imports at start-up: a copy without it cannot `import pytest`. Only the declared path is taken,
  never any ignored `.py`: an ignored module is as often a secret (`local_settings.py`).
- **compiled extension modules built in place** (`_path.cpython-311-x86_64-linux-gnu.so`), named
  for the one interpreter and platform they were built for (PEP 3149's ABI tag): a copy run by the
  host's Python needs them, and a container, whose Python and libraries are its own, must build its
  own instead of loading the host's. A meson-python editable build keeps them (and the modules it
  generates) in its build folder instead, and an import hook maps them in: `meson_outputs` places
  them where the package imports them.
"""

from __future__ import annotations

import ast
import configparser
import contextlib
import json
import re
import tomllib
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from swe_lsp.ignored import IGNORED_DIRS

# An extension module's name with its interpreter's tag: CPython's `.cpython-311-x86_64-linux-gnu.so`
# and `.cpython-311-darwin.so`, the stable ABI's `.abi3.so`, PyPy's `.pypy39-pp73-x86_64-linux-gnu.so`
# and Windows' `.cp311-win_amd64.pyd`. A bare `.so` is left alone: it is as often a vendored shared
# library a project tracks as an old untagged build.
_EXTENSION_BUILD = re.compile(r"\.(?:cpython-[^./]+|abi3|pypy[^./]*|cp\d+-[^./]+)\.(?:so|pyd)$")
# What setuptools-scm and hatch-vcs call the file they write the version into.
_VERSION_KEYS = ("write_to", "version_file", "version-file")
# The version a generated version module assigns (`__version__ = version = '8.0.0.dev46+g2f7415cfb'`).
_ASSIGNED_VERSION = re.compile(r"""^\s*(?:__version__|version)\s*=.*?['"]([^'"]+)['"]""", re.M)
_RELEASE = re.compile(r"^v?(\d+(?:\.\d+)*)")
# Where meson-python's editable builds keep meson's record of what they install: `build/<tag>`
# (`build/cp311`), its default build folder.
MESON_PLANS = "build/*/meson-info/intro-install_plan.json"


def is_extension_build(path: str) -> bool:
    """Whether `path` names a compiled extension module built for one interpreter (see module)."""
    return bool(_EXTENSION_BUILD.search(path))


def read_pyproject(tree: Path) -> dict:
    """The project's pyproject.toml as data; empty when it has none or it does not parse."""
    try:
        return tomllib.loads((tree / "pyproject.toml").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError):
        return {}  # a project without one, or one its own build will complain about


def _setup_keywords(tree: Path) -> dict[str, ast.expr]:
    """The keyword arguments setup.py passes to `setup(...)` (`use_scm_version=...`, `name="..."`),
    read with `ast`, never run; empty when there is no setup.py or it does not parse."""
    try:
        module = ast.parse((tree / "setup.py").read_bytes())
    except (OSError, SyntaxError, ValueError):
        return {}
    found: dict[str, ast.expr] = {}
    for node in ast.walk(module):
        if not isinstance(node, ast.Call):
            continue
        if "setup" in (getattr(node.func, "id", None), getattr(node.func, "attr", None)):
            for keyword in node.keywords:
                if keyword.arg is not None:
                    found.setdefault(keyword.arg, keyword.value)
    return found


def _literal(node: ast.expr | None) -> object:
    """A literal's value, None when the node is missing or computed (a call, a variable)."""
    try:
        return ast.literal_eval(node) if node is not None else None
    except (ValueError, TypeError, SyntaxError, RecursionError):
        return None


def scm_settings(tree: Path) -> dict[str, object] | None:
    """The project's setuptools-scm / hatch-vcs settings (`write_to`, `fallback_version`, ...), `{}`
    when it versions itself from git without any, None when it does not."""
    data = read_pyproject(tree)
    tool = data.get("tool", {})
    if isinstance(tool.get("setuptools_scm"), dict):
        return dict(tool["setuptools_scm"])
    hatch = tool.get("hatch", {})
    vcs_hook = hatch.get("build", {}).get("hooks", {}).get("vcs")
    if hatch.get("version", {}).get("source") == "vcs" or isinstance(vcs_hook, dict):
        return {**hatch.get("version", {}).get("raw-options", {}), **(vcs_hook or {})}
    setup = _setup_keywords(tree)
    if "use_scm_version" in setup:  # `True`, a dict of settings, or computed: settings unknown
        value = _literal(setup["use_scm_version"])
        return dict(value) if isinstance(value, dict) else {}
    requires = " ".join(str(r) for r in data.get("build-system", {}).get("requires", []))
    if re.search(r"setuptools[-_]scm|hatch-vcs", requires, re.I):
        return {}
    return None


def version_files(tree: Path) -> list[str]:
    """The version modules the project's build declares it writes, as safe relative POSIX paths."""
    settings = scm_settings(tree) or {}
    found = []
    for key in _VERSION_KEYS:
        value = settings.get(key)
        if isinstance(value, str) and value:
            path = PurePosixPath(value.replace("\\", "/"))
            if not path.is_absolute() and ".." not in path.parts:
                found.append(path.as_posix())
    return sorted(set(found))


def distribution_name(tree: Path) -> str | None:
    """The project's distribution name as its packaging files give it literally, else None."""
    name = read_pyproject(tree).get("project", {}).get("name")
    if isinstance(name, str) and name:
        return name
    parser = configparser.ConfigParser(interpolation=None)
    with contextlib.suppress(configparser.Error, UnicodeDecodeError):
        parser.read(tree / "setup.cfg", encoding="utf-8")
    name = parser.get("metadata", "name", fallback="") or _literal(_setup_keywords(tree).get("name"))
    return name if isinstance(name, str) and name else None


def written_version(tree: Path) -> str | None:
    """The release the project's generated version module names (`8.0.0` of `8.0.0.dev46+g2f7415cfb`),
    or None when there is none in `tree`. The release part only: it stays the same from one commit
    to the next, so what is keyed by it (an environment image) is not rebuilt for every commit."""
    for rel in version_files(tree):
        try:
            text = (tree / rel).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        assigned = _ASSIGNED_VERSION.search(text)
        release = _RELEASE.match(assigned.group(1)) if assigned else None
        if release:
            return release.group(1)
    return None


def build_outputs(tree: Path, sources: Iterable[str], ignored: Iterable[str]) -> list[str]:
    """Of the git-ignored files `ignored` (relative POSIX paths), those a copy of `tree` must carry to
    import as the project does: its declared version modules, and its extension builds where they
    sit beside its own Python (`sources`, the files copied anyway): in its packages, not in a build
    folder or a virtual environment. Folders that are never source (`swe_lsp.ignored`) are skipped."""
    declared = set(version_files(tree))
    python_folders = {PurePosixPath(p).parent for p in sources if p.endswith(".py")}
    kept = []
    for rel in ignored:
        path = PurePosixPath(rel)
        if any(part in IGNORED_DIRS for part in path.parts[:-1]):
            continue
        if rel in declared or (is_extension_build(rel) and path.parent in python_folders):
            kept.append(rel)
    return sorted(kept)


def meson_outputs(workspace: Path) -> dict[str, Path]:
    """The files a meson build in the workspace made that its package imports, by the path each has
    in the tree (its `[tool.meson-python]` editable build, `build/cp311`, keeps them apart from the
    sources, and its import hook maps them in): `sklearn/utils/_typedefs.cpython-311-x86_64-linux-gnu.so`
    -> the built file. Read from each build folder's install plan (`meson-info/intro-install_plan.json`,
    meson's own record of where each output is installed), the newest folder's first; only the
    extension builds and the generated Python modules, placed beside the package's own sources (a
    `src/` layout too). A copy run by the workspace's Python imports them where the hook, which
    leads to the workspace itself, is told to step aside (`sandbox.process`)."""
    found: dict[str, Path] = {}
    plans = sorted(workspace.glob(MESON_PLANS), key=lambda p: p.stat().st_mtime, reverse=True)
    for plan_file in plans:
        build = plan_file.parent.parent.resolve()
        try:
            plan = json.loads(plan_file.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, ValueError):
            continue
        entries = [
            (Path(source), destination)
            for section in plan.values() if isinstance(section, dict)
            for source, info in section.items() if isinstance(info, dict)
            if (destination := _installed_path(info.get("destination"))) is not None
        ]  # fmt: skip
        bases: dict[str, str] = {}  # top-level package -> its folder in the tree ("" or "src/")
        for source, destination in entries:
            if not source.is_relative_to(build) and source.is_relative_to(workspace):
                rel = source.relative_to(workspace).as_posix()
                if rel.endswith("/" + destination) or rel == destination:
                    bases.setdefault(destination.split("/")[0], rel[: len(rel) - len(destination)])
        for source, destination in entries:
            top = destination.split("/")[0]
            imported = destination.endswith(".py") or is_extension_build(destination)
            if imported and source.is_relative_to(build) and top in bases and source.is_file():
                found.setdefault(bases[top] + destination, source)
    return found


def _installed_path(destination: object) -> str | None:
    """An install destination under Python's library folders as a relative POSIX path
    (`{py_platlib}/pkg/_a.so` -> `pkg/_a.so`), else None (headers, data, scripts)."""
    if not isinstance(destination, str):
        return None
    for prefix in ("{py_platlib}/", "{py_purelib}/"):
        if destination.startswith(prefix):
            path = PurePosixPath(destination[len(prefix) :])
            return path.as_posix() if path.parts and ".." not in path.parts else None
    return None
