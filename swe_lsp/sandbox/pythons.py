"""Which Python a workspace's tests run on, chosen from what the project itself declares.

A project tested on the wrong Python fails for reasons that have nothing to do with a candidate
patch (Django 3.0 on 3.13 cannot import `distutils`; requests 2.3 on 3.11 cannot import its
vendored urllib3), and then every candidate comes back "unverified". The declarations are read
in the order a maintainer would trust them: an explicit `.python-version`, the newest Python the
classifiers list, `requires-python` / `python_requires`, the tox envlist, the CI matrix. Only the
Pythons of Debian suites that `debootstrap` can fetch are available (older suites are gone from
the mirrors); a version that cannot be had falls back to the nearest one, and the choice says so.
"""

from __future__ import annotations

import ast
import configparser
import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from packaging.specifiers import InvalidSpecifier, SpecifierSet

# The Python each reachable Debian suite ships: the base images the sandbox can build offline.
SUITES: dict[str, str] = {"3.9": "bullseye", "3.11": "bookworm", "3.13": "trixie"}
# With nothing declared: the suite the default base image (`make test` builds it) is made from.
DEFAULT_PYTHON = "3.11"
_VERSION = re.compile(r"\b(\d)\.(\d{1,2})\b")
_CLASSIFIER = re.compile(r"Programming Language :: Python :: (\d)\.(\d{1,2})\b")
_TOX_ENV = re.compile(r"\bpy(\d)(\d{1,2})\b")
_CI_VERSION = re.compile(r"python(?:-version)?\s*:\s*\[?([^\]\n]+)", re.IGNORECASE)


@dataclass(frozen=True)
class PythonChoice:
    """The Python a workspace runs on: what it declares (`wanted`, None when nothing), where that
    came from, what the sandbox can give (`chosen`, a key of SUITES), and a note when they differ."""

    chosen: str
    source: str
    wanted: str | None = None
    note: str = ""

    @property
    def suite(self) -> str:
        """The Debian suite whose python3 is `chosen`."""
        return SUITES[self.chosen]

    def describe(self) -> str:
        """One line for the user: the version, why, and the fallback if there was one."""
        line = f"Python {self.chosen} ({self.source})"
        return f"{line}; {self.note}" if self.note else line


def _key(version: str) -> tuple[int, int]:
    major, _, minor = version.partition(".")
    return int(major), int(minor or 0)


def nearest(version: str, available: Iterable[str] = SUITES) -> str:
    """The available Python closest to `version` (by minor release; a tie goes to the older one,
    which old code and its old pins break on less often)."""
    target = _key(version)
    return min(
        available, key=lambda v: (abs(_key(v)[1] - target[1]) + 100 * abs(_key(v)[0] - target[0]), _key(v))
    )


def pick(wanted: str, source: str) -> PythonChoice:
    """The choice for an exact wanted version (e.g. a SWE-bench spec's "3.6")."""
    chosen = nearest(wanted)
    note = "" if chosen == wanted else f"Python {wanted} cannot be had offline here; the nearest is {chosen}"
    return PythonChoice(chosen, source, wanted, note)


def choose_python(tree: Path, wanted: str | None = None, source: str = "given") -> PythonChoice:
    """The Python for `tree`: `wanted` if given, else what the project declares, else the default."""
    if wanted:
        return pick(wanted, source)
    pinned = _python_version_file(tree)
    if pinned:
        return pick(pinned, ".python-version")
    spec, spec_source = _requires_python(tree)
    listed, listed_source = _listed_versions(tree)
    allowed = [v for v in SUITES if spec is None or spec.contains(f"{v}.0", prereleases=True)]
    if listed:
        newest = max(listed, key=_key)
        fits = [v for v in allowed if _key(v) <= _key(newest)]
        if fits:
            chosen = max(fits, key=_key)
            why = listed_source + (f" and {spec_source}" if spec is not None else "")
            note = "" if chosen in listed else f"the newest it lists, {newest}, cannot be had here"
            return PythonChoice(chosen, why, newest, note)
        return pick(newest, listed_source)
    if spec is not None:
        if allowed:
            chosen = DEFAULT_PYTHON if DEFAULT_PYTHON in allowed else max(allowed, key=_key)
            return PythonChoice(chosen, spec_source, str(spec))
        chosen = max(SUITES, key=_key)
        return PythonChoice(chosen, spec_source, str(spec), f"no Python here satisfies {spec}")
    return PythonChoice(DEFAULT_PYTHON, "nothing declared: the default")


def _python_version_file(tree: Path) -> str | None:
    path = tree / ".python-version"
    if not path.is_file():
        return None
    match = _VERSION.search(path.read_text(errors="replace"))
    return f"{match[1]}.{match[2]}" if match else None


def _requires_python(tree: Path) -> tuple[SpecifierSet | None, str]:
    """`requires-python` (pyproject.toml) or `python_requires` (setup.cfg, setup.py)."""
    texts: list[tuple[str | None, str]] = []
    pyproject = tree / "pyproject.toml"
    if pyproject.is_file():
        try:
            value = (
                tomllib.loads(pyproject.read_text(errors="replace")).get("project", {}).get("requires-python")
            )
        except tomllib.TOMLDecodeError:
            value = None
        texts.append((value, "requires-python in pyproject.toml"))
    texts.append(
        (_ini_value(tree / "setup.cfg", "options", "python_requires"), "python_requires in setup.cfg")
    )
    texts.append((_setup_py_keyword(tree, "python_requires"), "python_requires in setup.py"))
    for text, source in texts:
        if isinstance(text, str) and text.strip():
            try:
                return SpecifierSet(text.strip()), source
            except InvalidSpecifier:
                continue
    return None, ""


def _listed_versions(tree: Path) -> tuple[list[str], str]:
    """Python versions the project says it is tested on: classifiers, tox envlist, CI matrix."""
    texts = []
    for name in ("pyproject.toml", "setup.cfg", "setup.py"):
        path = tree / name
        if path.is_file():
            texts.append(path.read_text(errors="replace"))
    found = {f"{a}.{b}" for text in texts for a, b in _CLASSIFIER.findall(text)}
    if found:
        return sorted(found, key=_key), "the classifiers"
    envlist = _ini_value(tree / "tox.ini", "tox", "envlist") or ""
    found = {f"{a}.{b}" for a, b in _TOX_ENV.findall(envlist)}
    if found:
        return sorted(found, key=_key), "the tox envlist"
    workflows = tree / ".github" / "workflows"
    if workflows.is_dir():
        for path in sorted(workflows.glob("*.y*ml")):
            for line in _CI_VERSION.findall(path.read_text(errors="replace")):
                found |= {f"{a}.{b}" for a, b in _VERSION.findall(line)}
        if found:
            return sorted(found, key=_key), "the CI matrix (.github/workflows)"
    return [], ""


def _ini_value(path: Path, section: str, key: str) -> str | None:
    if not path.is_file():
        return None
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path)
    except configparser.Error:
        return None
    return parser.get(section, key, fallback=None)


def _setup_py_keyword(tree: Path, keyword: str) -> str | None:
    """A literal string keyword argument anywhere in setup.py (not run: it may do anything)."""
    path = tree / "setup.py"
    if not path.is_file():
        return None
    try:
        module = ast.parse(path.read_text(errors="replace"))
    except SyntaxError:
        return None
    for node in ast.walk(module):
        if isinstance(node, ast.keyword) and node.arg == keyword and isinstance(node.value, ast.Constant):
            return str(node.value.value)
    return None
