"""SymPy's `bin/test`: its own runner (SymPy before 1.12), or pytest behind the same script since.

The legacy runner prints the file, then one line per test in `--verbose` mode: `test_foo ok`,
`test_bar F`, `test_baz E`, `test_qux f` (expected failure), `test_x X` (unexpected pass), and for
a skip its reason then `s`. A test that prints leaves its status on a later line; the last test of
a file has `[OK]` or `[FAIL]` aligned after it; each failure gets a `___ path.py:test_bar ___`
header in the tracebacks at the end. Newer SymPy runs pytest with `-v` (`path::test_foo PASSED`).
Either way tests are reported by bare name (`test_foo`), as SymPy and SWE-bench name them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from swe_lsp.ignored import IGNORED_DIRS
from swe_lsp.sandbox.runners.base import TestRunner, TestStatus, plain_lines, record
from swe_lsp.sandbox.runners.pytest_runner import parse_pytest
from swe_lsp.sandbox.runners.selection import DIRECT, NAMED, best, changes, strength

BIN_TEST = "bin/test"

# At most this many test files. A SymPy test file takes seconds to minutes (on one busy core here:
# core/tests/test_arit.py 23 s, test_expr.py 127 s, solvers/tests/test_solvers.py over 300 s), so
# only a handful fit the default 300 s sandbox timeout; the file named after the changed module and
# the ones importing it come first.
MAX_SYMPY_FILES = 5

_FILE = re.compile(r"^(?P<path>\S+\.py)\[(?P<count>\d+|\?)\]")
_ALIGNED = re.compile(r"\s*\[(?:OK|FAIL)\]\s*$")
_HEADER = re.compile(r"^_+ (?P<path>\S+\.py):{1,2}(?P<name>\w+) _+$")
_TEST = re.compile(r"^(?P<name>test_\w+)(?: (?P<rest>.*))?$")
_CHARS = {
    "ok": TestStatus.PASSED,
    "F": TestStatus.FAILED,
    "E": TestStatus.ERROR,
    "T": TestStatus.ERROR,  # timed out (only with bin/test --timeout, which is not passed)
    "f": TestStatus.XFAIL,
    "X": TestStatus.PASSED,  # an unexpected pass does not fail a SymPy run
    "s": TestStatus.SKIPPED,
    "w": TestStatus.SKIPPED,  # slow, not run without --slow
    "K": TestStatus.SKIPPED,
}


@dataclass(frozen=True)
class SympyRunner(TestRunner):
    """`python3 bin/test -C --verbose [files] [-k names]`.

    Why each flag: `-C` turns SymPy's cache off, so a test's outcome does not depend on which tests
    ran before it in the same process (selections differ between runs); `--verbose` prints one
    line per test with its name. `python3` rather than the script's shebang, which names a
    `python` the image may not have. Test names narrow the files' tests (`-k` is a filter, not an
    addition); names alone make SymPy search every test file for them.
    """

    name: ClassVar[str] = "sympy"
    reason: str = f"sympy: {BIN_TEST}"

    @property
    def env(self) -> Mapping[str, str]:
        """PYTHONWARNINGS: older SymPy releases raise SyntaxWarnings and UserWarnings on newer
        Pythons that would bury the per-test lines (SWE-bench runs it the same way)."""
        return {"PYTHONWARNINGS": "ignore::UserWarning,ignore::SyntaxWarning"}

    def argv(self, tests: Sequence[str] = ()) -> tuple[str, ...]:
        """bin/test on the files among `tests`, filtered by the test names among them."""
        files: list[str] = []
        names: list[str] = []
        for test in tests:
            path, sep, name = test.partition("::")
            if sep:
                files.append(path)
                names.append(name)
            elif "/" in test or test.endswith(".py"):
                files.append(test)
            else:
                names.append(test)
        files = list(dict.fromkeys(files))
        return ("python3", BIN_TEST, "-C", "--verbose", *files, *(("-k", *names) if names else ()))

    def select(self, tree: Path, changed: Sequence[str]) -> list[str]:
        """Test files next to the changed modules and those importing them (at most 5)."""
        return select_sympy(tree, changed)

    def parse(self, output: str) -> dict[str, TestStatus]:
        """Statuses by test name, from the legacy runner's lines or pytest's."""
        return parse_sympy(output)

    def selector(self, test_id: str) -> str:
        """A test name (`test_foo`), a file, or `path.py::test_foo` (also `path.py:test_foo`)."""
        text = test_id.strip()
        header = re.fullmatch(r"(?P<path>\S+\.py):{1,2}(?P<name>\w+)", text)
        if header:
            return f"{header['path']}::{header['name']}"
        first = text.split()[0] if text else ""
        if re.fullmatch(r"test\w*", first):
            return first
        if "/" in text or text.endswith(".py"):
            return text
        raise ValueError(f"not a SymPy test name: {test_id!r}")


def parse_sympy(output: str) -> dict[str, TestStatus]:
    """Per-test statuses by bare name; a file that failed to import is an ERROR under its path.
    Two tests of the same name in different files share one entry, the worse status."""
    statuses: dict[str, TestStatus] = {}
    pending: str | None = None  # a test whose status comes after its own printed output
    for line in plain_lines(output):
        text = _ALIGNED.sub("", line).rstrip()
        file = _FILE.match(text)
        if file:
            pending = None
            if file["count"] == "?":
                record(statuses, file["path"], TestStatus.ERROR)
            continue
        header = _HEADER.match(text.strip())
        if header:
            pending = None
            record(statuses, header["name"], TestStatus.FAILED)
            continue
        test = _TEST.match(text)
        if test:
            words = (test["rest"] or "").split()
            if words and words[-1] in _CHARS:
                record(statuses, test["name"], _CHARS[words[-1]])
                pending = None
            else:
                pending = test["name"]
            continue
        words = text.split()
        if pending is not None and words and words[-1] in _CHARS:
            record(statuses, pending, _CHARS[words[-1]])
            pending = None
    for test_id, status in parse_pytest(output).items():
        record(statuses, test_id.rpartition("::")[2] or test_id, status)
    return statuses


def select_sympy(tree: Path, changed: Sequence[str], cap: int = MAX_SYMPY_FILES) -> list[str]:
    """Test files for the change, at most `cap` (see MAX_SYMPY_FILES for why 5), in this order:
    changed test files; in the `tests` folder next to the changed module (its package's, or the
    nearest enclosing package's), the file named after the module, then those importing it, then
    those importing a name it defines; test files elsewhere importing the module itself; the rest
    of that `tests` folder."""
    wanted = set(changed)
    sources = changes(tree, [c for c in changed if "/tests/" not in c], roots=())
    near: set[Path] = set()
    for change in sources:
        folder = (tree / change.path).parent
        while folder != tree and not (folder / "tests").is_dir():
            folder = folder.parent
        if (folder / "tests").is_dir():
            near.add(folder / "tests")
    stems = {c.stem for c in sources}
    scored: dict[str, int] = {}
    for path in sorted(tree.glob("**/tests/test_*.py")):
        parts = path.relative_to(tree).parts
        if any(part in IGNORED_DIRS or part.startswith(".") for part in parts):
            continue
        rel = path.relative_to(tree).as_posix()
        strongest = max((strength(path, c) for c in sources), default=0)
        if rel in wanted:
            scored[rel] = 6
        elif path.parent in near and path.stem.removeprefix("test_") in stems:
            scored[rel] = 5
        elif path.parent in near and strongest >= DIRECT:
            scored[rel] = 4
        elif path.parent in near and strongest >= NAMED:
            scored[rel] = 3
        elif strongest >= DIRECT:
            scored[rel] = 2
        elif path.parent in near:
            scored[rel] = 1
    return best(scored, cap)
