"""Finding how a workspace runs its tests.

In order: the user's `sandbox.test_command`; Django's own suite (`tests/runtests.py` next to the
`django` package); SymPy's (`bin/test` with the `sympy` package, or a `bin/test` using SymPy's
runner); pytest configuration; the runner that tox or nox invoke; test files that use unittest
only; pytest for any other test_*.py files; otherwise `NoRunner`. The reason goes to the user,
because a verification is only as good as the tests it ran, and a wrong guess should be easy to
spot and override.
"""

from __future__ import annotations

import ast
import configparser
import shlex
import tomllib
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from swe_lsp.sandbox.runners.base import NoRunner, TestRunner
from swe_lsp.sandbox.runners.custom import CustomRunner
from swe_lsp.sandbox.runners.django_runner import RUNTESTS, DjangoRunner
from swe_lsp.sandbox.runners.pytest_runner import PytestRunner
from swe_lsp.sandbox.runners.selection import find_test_files
from swe_lsp.sandbox.runners.sympy_runner import BIN_TEST, SympyRunner
from swe_lsp.sandbox.runners.unittest_runner import UnittestRunner

_SHELL = ("&&", "||", ";", "|", ">", "<", "$", "`", "*")


def detect_runner(tree: Path, configured: str | None = None) -> TestRunner:
    """The test runner for `tree`: `configured` (sandbox.test_command) if given, else detected.
    Check `.found` on the result: `NoRunner` means no tests were found."""
    if configured and configured.strip():
        return _custom(tree, configured.strip())
    if (tree / RUNTESTS).is_file() and (tree / "django" / "__init__.py").is_file():
        return DjangoRunner(f"django: {RUNTESTS} next to the django package")
    if _is_sympy(tree):
        return SympyRunner(f"sympy: {BIN_TEST} runs SymPy's tests")
    config = pytest_config(tree)
    if config:
        return PytestRunner(f"pytest: {config}")
    for source, commands in (("tox.ini", _tox_commands(tree)), ("noxfile.py", _nox_commands(tree))):
        for command in commands:
            runner = runner_for(tree, command)
            if runner is not None:
                return _with_reason(runner, f"{runner.name}: {source} runs {shlex.join(command)}")
    tests = find_test_files(tree)
    if tests:
        rels = [p.relative_to(tree) for p in tests]
        sources = [path.read_text(errors="replace") for path in tests]
        if all("unittest" in text and "pytest" not in text for text in sources):
            return UnittestRunner(f"unittest: {len(tests)} test files use unittest only", _start(tree, rels))
        return PytestRunner(f"pytest: {len(tests)} test files (test_*.py, *_test.py)")
    return NoRunner("no tests found (no test_*.py files, no pytest, tox or nox configuration)")


def runner_for(tree: Path, command: Sequence[str]) -> TestRunner | None:
    """The runner a command line invokes (`python -m pytest -x`, `coverage run -m pytest`,
    `./tests/runtests.py`, `bin/test`, `python -m unittest`), or None when it is not one of them."""
    words = [w for w in command if not w.startswith("{")]  # tox substitutions: {posargs}, {envpython}
    names = [Path(w).name for w in words]
    modules = {words[i + 1] for i, w in enumerate(words[:-1]) if w == "-m"}
    if "pytest" in modules or "pytest" in names or "py.test" in names:
        return PytestRunner("pytest")
    if any(w.endswith("runtests.py") for w in words) and (tree / RUNTESTS).is_file():
        return DjangoRunner()
    if any(w.endswith(BIN_TEST) for w in words) and (tree / BIN_TEST).is_file():
        return SympyRunner()
    if "unittest" in modules:
        return UnittestRunner("unittest", _start(tree, [p.relative_to(tree) for p in find_test_files(tree)]))
    return None


def pytest_config(tree: Path) -> str | None:
    """Where pytest is configured in `tree`, if it is."""
    if (tree / "pytest.ini").is_file():
        return "pytest.ini"
    if (tree / "conftest.py").is_file():
        return "conftest.py"
    pyproject = tree / "pyproject.toml"
    if pyproject.is_file():
        try:
            if "pytest" in tomllib.loads(pyproject.read_text(errors="replace")).get("tool", {}):
                return "[tool.pytest] in pyproject.toml"
        except tomllib.TOMLDecodeError:
            pass
    for name, section in (("setup.cfg", "tool:pytest"), ("tox.ini", "pytest")):
        if _ini(tree / name).has_section(section):
            return f"[{section}] in {name}"
    return None


def _custom(tree: Path, configured: str) -> CustomRunner:
    reason = "sandbox.test_command in the settings"
    if any(token in configured for token in _SHELL):
        return CustomRunner(f"{reason} (a shell line: run whole)", ("sh", "-c", configured))
    command = tuple(shlex.split(configured))
    tool = Path(command[0]).name if command else ""
    inner = runner_for(tree, command)
    if inner is None and tool in ("tox", "nox"):
        for sub in _tox_commands(tree) if tool == "tox" else _nox_commands(tree):
            inner = runner_for(tree, sub)
            if inner is not None:
                break
        if inner is not None:
            return CustomRunner(f"{reason} ({tool} runs {inner.name}: run whole)", command, inner)
    if inner is None:
        return CustomRunner(f"{reason} (output not read per test)", command)
    takes = not (inner.name == "unittest" and "discover" in command)
    return CustomRunner(f"{reason} (read as {inner.name})", command, inner, takes)


def _with_reason(runner: TestRunner, reason: str) -> TestRunner:
    return replace(runner, reason=reason)  # type: ignore[type-var]  # every runner is a dataclass


def _is_sympy(tree: Path) -> bool:
    script = tree / BIN_TEST
    if not script.is_file():
        return False
    if (tree / "sympy" / "__init__.py").is_file():
        return True
    text = script.read_text(errors="replace")
    return "sympy.test(" in text or "from sympy" in text or "import sympy" in text


def _start(tree: Path, tests: Sequence[Path]) -> str | None:
    """discover's start folder: the one folder holding every test file, when it is not a package
    (discover only walks into packages from the top)."""
    tops = {rel.parts[0] for rel in tests if len(rel.parts) > 1}
    if len(tops) == 1 and all(len(rel.parts) > 1 for rel in tests):
        top = tops.pop()
        if not (tree / top / "__init__.py").is_file():
            return top
    return None


def _ini(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    if path.is_file():
        try:
            parser.read_string(path.read_text(errors="replace"))
        except configparser.Error:
            return configparser.ConfigParser(interpolation=None)
    return parser


def _tox_commands(tree: Path) -> list[list[str]]:
    """The commands of tox's test environments ([testenv] first), each split into words; from
    tox.ini, or the legacy_tox_ini string of [tool.tox] in pyproject.toml."""
    parser = _ini(tree / "tox.ini")
    if not parser.sections():
        try:
            legacy = tomllib.loads((tree / "pyproject.toml").read_text(errors="replace"))
            text = legacy.get("tool", {}).get("tox", {}).get("legacy_tox_ini", "")
            parser.read_string(text)
        except (OSError, tomllib.TOMLDecodeError, configparser.Error):
            return []
    sections = [s for s in parser.sections() if s == "testenv"]
    sections += [s for s in parser.sections() if s.startswith("testenv:")]
    commands = []
    for section in sections:
        text = parser.get(section, "commands", fallback="").replace("\\\n", " ")
        for line in text.splitlines():
            line = line.strip()
            if line and not line.startswith("#"):
                try:
                    commands.append(shlex.split(line.lstrip("-! ")))
                except ValueError:
                    continue
    return commands


def _nox_commands(tree: Path) -> list[list[str]]:
    """The literal words of each `session.run(...)` call in noxfile.py."""
    try:
        module = ast.parse((tree / "noxfile.py").read_text(errors="replace"))
    except (OSError, SyntaxError, ValueError):
        return []
    commands = []
    for node in ast.walk(module):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "run":
            words = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
            if words:
                commands.append(words)
    return commands
