"""pytest: the default for Python projects, and what SymPy's newer bin/test runs underneath.

Per-test results come from the short test summary (`PASSED id`, `FAILED id - message`, `ERROR id`,
`XFAIL id`, `XPASS id`) and, when the project's own options add `-v`, from the progress lines
(`id PASSED [ 50%]`). Skips are summarised by location, not id, so a test skipped without `-v`
is simply absent.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from swe_lsp.sandbox.runners.base import TestRunner, TestStatus, plain_lines, record
from swe_lsp.sandbox.runners.selection import select_files

# Why each flag: see PytestRunner.
PYTEST = ("python3", "-m", "pytest", "-q", "-p", "no:cacheprovider", "-rfEsxXp", "--tb=short")

_STATUS = {
    "PASSED": TestStatus.PASSED,
    "FAILED": TestStatus.FAILED,
    "ERROR": TestStatus.ERROR,
    "SKIPPED": TestStatus.SKIPPED,
    "XFAIL": TestStatus.XFAIL,
    "XPASS": TestStatus.PASSED,  # a strict xfail that passes is reported as FAILED by pytest itself
}
_XDIST = re.compile(r"^\[gw\d+\]\s+(?:\[\s*\d+%\]\s+)?")
_PERCENT = re.compile(r"\s*\[\s*\d+%\]\s*$")


@dataclass(frozen=True)
class PytestRunner(TestRunner):
    """`python3 -m pytest -q -p no:cacheprovider -rfEsxXp --tb=short [files or node ids]`.

    Why each flag: `-p no:cacheprovider` because the copy is fresh each time; `-rfEsxXp` for one
    summary line per test (`-rA` without the captured output of passing tests, which would push
    the summary out of the capped output); `-q` and `--tb=short` to keep the rest small.
    """

    name: ClassVar[str] = "pytest"
    reason: str = "pytest"

    def argv(self, tests: Sequence[str] = ()) -> tuple[str, ...]:
        """pytest on `tests` (files or node ids), or on the whole suite."""
        return (*PYTEST, *tests)

    def select(self, tree: Path, changed: Sequence[str]) -> list[str]:
        """Test files importing, named after or re-exporting the changed modules (at most 20)."""
        return select_files(tree, changed)

    def parse(self, output: str) -> dict[str, TestStatus]:
        """Node ids and statuses from the short summary and any `-v` progress lines."""
        return parse_pytest(output)

    def selector(self, test_id: str) -> str:
        """The node id, cleaned of log residue (a status word, `[100%]`, ` - message`)."""
        return clean_node_id(test_id)


def parse_pytest(output: str) -> dict[str, TestStatus]:
    """Per-test statuses from pytest output: `STATUS id [- msg]` and `id STATUS [ nn%]` lines."""
    statuses: dict[str, TestStatus] = {}
    for raw in plain_lines(output):
        line = _XDIST.sub("", raw).rstrip()
        word, _, rest = line.partition(" ")
        if word in _STATUS and rest:
            test_id = node_id(rest)
            if _is_id(test_id):
                record(statuses, test_id, _STATUS[word])
            continue
        test_id = node_id(line)
        after = line[len(test_id) :].split()
        if "::" in test_id and after and after[0] in _STATUS:
            record(statuses, test_id, _STATUS[after[0]])
    return statuses


def node_id(text: str) -> str:
    """The node id at the start of `text`: up to the first space outside brackets (parameter ids
    may hold spaces: `test_x[a b]`)."""
    depth = 0
    for i, char in enumerate(text):
        if char == "[":
            depth += 1
        elif char == "]":
            depth = max(depth - 1, 0)
        elif char.isspace() and depth == 0:
            return text[:i]
    if depth:  # unbalanced brackets: fall back to the message separator
        return text.split(" - ", 1)[0].rstrip()
    return text


def clean_node_id(test_id: str) -> str:
    """`test_id` without what logs add around a node id: a status word, a progress percentage,
    a ` - message`. Raises ValueError when nothing id-like is left."""
    text = _PERCENT.sub("", plain_lines(test_id.strip())[0] if test_id.strip() else "")
    word, _, rest = text.partition(" ")
    if word in _STATUS and rest:
        text = rest
    cleaned = node_id(text.strip())
    if not cleaned or (not _is_id(cleaned) and "/" not in cleaned):
        raise ValueError(f"not a pytest node id: {test_id!r}")
    return cleaned


def _is_id(text: str) -> bool:
    """A node id (`file.py::name`) or a file (a collection error), not a skip location `[1]`."""
    return "::" in text or text.endswith(".py")
