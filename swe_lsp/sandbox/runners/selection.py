"""Which test files exercise a change: the import and naming evidence every runner ranks by.

A test exercises a changed module when it imports it (strong), imports a name the module defines
through one of its packages' re-exports (`from django.db.models import Prefetch` for
`django/db/models/query.py`), is named after it (`test_query.py`), or, weakest, imports anything
from the module's package. Indirect use (a test importing a module that imports the changed one) is
not followed: that is what running the whole suite is for. Scans are cached by file and mtime,
because a job asks once per candidate patch and a large suite (Django's: 800 test files) takes
seconds to parse.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from swe_lsp.ignored import IGNORED_DIRS

# Strength of the evidence that a test file exercises a change; higher first.
CHANGED = 4  # the test file is itself changed
DIRECT = 3  # imports the changed module or something in it
NAMED = 2  # imports a name the module defines through a package, or is named after the module
PACKAGE = 1  # imports something from the module's package


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


def select_tests(tree: Path, changed_files: Sequence[str]) -> list[str]:
    """Test files (relative paths) that exercise the changed files, for a fast regression run.

    A test counts when it imports a changed module (or something inside it), is named after one
    (test_<module>.py, <module>_test.py), or is itself changed. Indirect use (a test importing a
    module that imports the changed one) is not followed: run the whole suite for that.
    """
    modules = {module_name(name) for name in changed_files if name.endswith(".py")}
    stems = {module.rpartition(".")[2] for module in modules}
    changed = set(changed_files)
    selected = []
    for path in find_test_files(tree):
        rel = path.relative_to(tree).as_posix()
        stem = path.stem.removeprefix("test_").removesuffix("_test")
        if rel in changed or stem in stems or _within_any(scan(path).imports, modules):
            selected.append(rel)
    return selected


def module_name(rel: str, roots: Sequence[str] = ("src", "lib")) -> str:
    """`src/pkg/mod.py` -> `pkg.mod`; `pkg/__init__.py` -> `pkg` (a leading `roots` folder dropped)."""
    parts = Path(rel).with_suffix("").parts
    if parts and parts[0] in roots:
        parts = parts[1:]
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


@dataclass(frozen=True)
class Scan:
    """What one Python file imports: dotted names from its absolute imports (`from a import b`
    gives `a` and `a.b`), and `module.attribute` uses through an imported module's alias."""

    imports: frozenset[str]
    uses: frozenset[str]

    @property
    def names(self) -> frozenset[str]:
        """Both kinds together."""
        return self.imports | self.uses


def scan(path: Path) -> Scan:
    """The imports of `path` (empty when it cannot be read or parsed), cached by mtime and size."""
    try:
        stat = path.stat()
    except OSError:
        return Scan(frozenset(), frozenset())
    return _scan(str(path), stat.st_mtime_ns, stat.st_size)


@functools.lru_cache(maxsize=16384)  # a suite's test files plus changed modules, with room to spare
def _scan(path: str, mtime_ns: int, size: int) -> Scan:
    try:
        module = ast.parse(Path(path).read_text(errors="replace"))
    except (OSError, SyntaxError, ValueError):
        return Scan(frozenset(), frozenset())
    imports: set[str] = set()
    aliases: dict[str, str] = {}
    for node in ast.walk(module):
        if isinstance(node, ast.Import):
            for alias in node.names:
                imports.add(alias.name)
                if alias.asname:
                    aliases[alias.asname] = alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            imports.add(node.module)
            for alias in node.names:
                imports.add(f"{node.module}.{alias.name}")
                aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
    uses = set()
    for node in ast.walk(module):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            base = aliases.get(node.value.id) or (node.value.id if node.value.id in imports else None)
            if base:
                uses.add(f"{base}.{node.attr}")
    return Scan(frozenset(imports), frozenset(uses))


@dataclass(frozen=True)
class Change:
    """One changed Python module, as the evidence about it is looked for."""

    path: str  # relative to the tree
    module: str  # dotted name
    stem: str  # its last part without leading underscores (`_axes` -> `axes`)
    packages: tuple[str, ...]  # enclosing packages, innermost first
    defined: frozenset[str]  # public top-level names it defines

    @property
    def package(self) -> str:
        """The innermost enclosing package ("" at top level)."""
        return self.packages[0] if self.packages else ""


def changes(tree: Path, changed: Iterable[str], roots: Sequence[str] = ("src", "lib")) -> list[Change]:
    """The changed files that are Python modules, with what is needed to match tests to them."""
    found = []
    for rel in changed:
        if not rel.endswith(".py"):
            continue
        module = module_name(rel, roots)
        parts = module.split(".")
        stem = parts[-1].lstrip("_")
        packages = tuple(".".join(parts[:i]) for i in range(len(parts) - 1, 0, -1))
        found.append(Change(rel, module, stem, packages, _defined(tree / rel)))
    return found


def strength(path: Path, change: Change) -> int:
    """How strongly the test file `path` is tied to `change` (0: no evidence)."""
    names = scan(path).names
    if _within_any(names, {change.module}):
        return DIRECT
    if change.defined and any(
        name.rpartition(".")[2] in change.defined and name.rpartition(".")[0] in change.packages
        for name in names
    ):
        return NAMED
    if change.stem and path.stem.removeprefix("test_").removesuffix("_test").lstrip("_") == change.stem:
        return NAMED
    # A top-level package (`django`, `sympy`) is imported by every test: no evidence at all.
    if "." in change.package and _within_any(names, {change.package}):
        return PACKAGE
    return 0


def _defined(path: Path) -> frozenset[str]:
    """Public names a module defines at its top level (classes, functions, assignments, __all__)."""
    try:
        module = ast.parse(path.read_text(errors="replace"))
    except (OSError, SyntaxError, ValueError):
        return frozenset()
    names: set[str] = set()
    for node in module.body:
        if isinstance(node, ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return frozenset(n for n in names if not n.startswith("_"))


def _within_any(names: Iterable[str], modules: set[str]) -> bool:
    return any(name == m or name.startswith(m + ".") for name in names for m in modules if m)


# At most this many test files for pytest and unittest. A change to a core module (a package's
# __init__, a base class) is imported by most of a suite; past about 20 files a run takes minutes on
# one core, and the output cap (64 kB by default, kept as head and tail) no longer holds a line per
# test. Files tied to the change most directly come first, so the cap drops the weakest evidence.
MAX_TEST_FILES = 20


def select_files(tree: Path, changed: Sequence[str], cap: int = MAX_TEST_FILES) -> list[str]:
    """Test files (test_*.py, *_test.py) tied to the change, strongest evidence first, at most `cap`
    (see MAX_TEST_FILES for why 20). Package-level imports alone do not count here: in a project
    run by pytest nearly every test imports the package."""
    wanted = set(changed)
    found = changes(tree, changed)
    scored: dict[str, int] = {}
    for path in find_test_files(tree):
        rel = path.relative_to(tree).as_posix()
        score = CHANGED if rel in wanted else max((strength(path, c) for c in found), default=0)
        if score >= NAMED:
            scored[rel] = score
    return best(scored, cap)


def best(scored: dict[str, int] | dict[str, tuple[int, ...]], cap: int) -> list[str]:
    """The keys of `scored` with the highest scores first (ties by name), at most `cap`."""
    return sorted(scored, key=lambda key: (_negate(scored[key]), key))[:cap]


def _negate(score: int | tuple[int, ...]) -> tuple[int, ...]:
    return tuple(-s for s in score) if isinstance(score, tuple) else (-score,)
