"""Finding how a workspace runs its tests, and which of its tests exercise a change.

The command is shown to the user with its reason ("pytest: [tool.pytest.ini_options] in
pyproject.toml"), because a verification is only as good as the tests it ran, and a wrong guess
should be easy to spot and override with `sandbox.test_command`.
"""

from __future__ import annotations

import ast
import configparser
import shlex
import tomllib
from dataclasses import dataclass
from pathlib import Path

from swe_lsp.sandbox.tree import IGNORED_DIRS


@dataclass(frozen=True)
class TestCommand:
    """The argv that runs a workspace's tests (empty when none were found), and why it was chosen."""

    __test__ = False  # not a pytest test class, despite the name

    argv: tuple[str, ...]
    reason: str

    @property
    def found(self) -> bool:
        """Whether there is anything to run."""
        return bool(self.argv)


PYTEST = ("python3", "-m", "pytest", "-q", "-p", "no:cacheprovider")
UNITTEST = ("python3", "-m", "unittest", "discover", "-v")


def detect_test_command(tree: Path, configured: str | None = None) -> TestCommand:
    """The test command for `tree`: `configured` (from settings) if given, else detected."""
    if configured:
        return TestCommand(tuple(shlex.split(configured)), "sandbox.test_command in the settings")
    config = _pytest_config(tree)
    if config:
        return TestCommand(PYTEST, f"pytest: {config}")
    tox = _tox_commands(tree)
    if tox and "pytest" in tox:
        return TestCommand(PYTEST, "pytest: tox.ini runs pytest")
    tests = find_test_files(tree)
    if tests:
        sources = [path.read_text(errors="replace") for path in tests]
        if all("unittest" in text and "pytest" not in text for text in sources):
            return TestCommand(UNITTEST, f"unittest: {len(tests)} test files use unittest only")
        return TestCommand(PYTEST, f"pytest: {len(tests)} test files (test_*.py, *_test.py)")
    if tox:
        return TestCommand(("tox", "-q"), "tox: tox.ini (needs tox and its environments in the image)")
    return TestCommand((), "no tests found (no test_*.py files, no pytest or tox configuration)")


def find_test_files(tree: Path) -> list[Path]:
    """Files pytest would collect by default: test_*.py and *_test.py outside ignored folders."""
    found = []
    for path in sorted(tree.rglob("*.py")):
        rel = path.relative_to(tree)
        if any(part in IGNORED_DIRS or part.startswith(".") for part in rel.parts[:-1]):
            continue
        if path.name.startswith("test_") or path.name.endswith("_test.py"):
            found.append(path)
    return found


def _pytest_config(tree: Path) -> str | None:
    """Where pytest is configured in `tree`, if it is."""
    if (tree / "pytest.ini").is_file():
        return "pytest.ini"
    if (tree / "conftest.py").is_file():
        return "conftest.py"
    pyproject = tree / "pyproject.toml"
    if pyproject.is_file():
        try:
            if "pytest" in tomllib.loads(pyproject.read_text()).get("tool", {}):
                return "[tool.pytest] in pyproject.toml"
        except tomllib.TOMLDecodeError:
            pass
    for name, section in (("setup.cfg", "tool:pytest"), ("tox.ini", "pytest")):
        if section in _ini_sections(tree / name):
            return f"[{section}] in {name}"
    return None


def _tox_commands(tree: Path) -> str | None:
    """The commands of tox.ini's test environment, or None without a tox.ini."""
    path = tree / "tox.ini"
    if not path.is_file():
        return None
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path)
    except configparser.Error:
        return ""
    return parser.get("testenv", "commands", fallback="")


def _ini_sections(path: Path) -> list[str]:
    if not path.is_file():
        return []
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read(path)
    except configparser.Error:
        return []
    return parser.sections()


def select_tests(tree: Path, changed_files: list[str]) -> list[str]:
    """Test files (relative paths) that exercise the changed files, for a fast regression run.

    A test counts when it imports a changed module (or something inside it), is named after one
    (test_<module>.py, <module>_test.py), or is itself changed. Indirect use (a test importing a
    module that imports the changed one) is not followed: run the whole suite for that.
    """
    modules = {_module_name(name) for name in changed_files if name.endswith(".py")}
    stems = {module.rpartition(".")[2] for module in modules}
    changed = set(changed_files)
    selected = []
    for path in find_test_files(tree):
        rel = path.relative_to(tree).as_posix()
        stem = path.stem.removeprefix("test_").removesuffix("_test")
        if rel in changed or stem in stems or _imports_any(path, modules):
            selected.append(rel)
    return selected


def _module_name(rel: str) -> str:
    """`src/pkg/mod.py` -> `pkg.mod`; `pkg/__init__.py` -> `pkg`."""
    parts = Path(rel).with_suffix("").parts
    if parts and parts[0] in ("src", "lib"):
        parts = parts[1:]
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _imports_any(path: Path, modules: set[str]) -> bool:
    try:
        module = ast.parse(path.read_text(errors="replace"))
    except SyntaxError:
        return False
    imported: set[str] = set()
    for node in ast.walk(module):
        if isinstance(node, ast.Import):
            imported.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            imported.add(node.module)
            imported.update(f"{node.module}.{alias.name}" for alias in node.names)
    return any(name == m or name.startswith(m + ".") for name in imported for m in modules if m)
