"""unittest, and the verbose format it shares with Django's test runner.

`-v` prints one line per test: `test_x (module.Class.test_x) ... ok` on Python 3.11 and later,
`test_x (module.Class) ... ok` before. A test with a docstring prints its first line on the next
line (`Docstring. ... ok`); a test that prints leaves its status on a later line; subtests print
`  test_x (module.Class.test_x) (i=1) ... FAIL` (3.11+) and, on every version, a `FAIL: ...` header
in the failure details, which also catches tests whose progress line the output cap cut.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from swe_lsp.sandbox.runners.base import TestRunner, TestStatus, plain_lines, record
from swe_lsp.sandbox.runners.selection import select_files

_ID = r"(?P<id>[A-Za-z_][\w.]* \([\w.]+\))"
_PROGRESS = re.compile(rf"^{_ID}(?P<sub>.*?)(?: \.\.\.(?: (?P<rest>.*))?)?$")
_HEADER = re.compile(rf"^(?P<kind>FAIL|ERROR|UNEXPECTED SUCCESS): {_ID}")
_PARTS = re.compile(r"^(?P<name>[A-Za-z_][\w.]*) \((?P<where>[\w.]+)\)")
_HEADER_STATUS = {
    "FAIL": TestStatus.FAILED,
    "ERROR": TestStatus.ERROR,
    "UNEXPECTED SUCCESS": TestStatus.FAILED,
}


@dataclass(frozen=True)
class UnittestRunner(TestRunner):
    """`python3 -m unittest -v [files or dotted names]`, or `discover -v` for the whole suite.

    `-v` is what prints one line per test. `start` is discover's start folder when every test
    file sits in one folder that is not a package (discover does not look into such folders by
    itself); test ids then start at that folder, so compare runs of the same selection only.
    An unexpected success counts as FAILED, as unittest itself fails the run for one.
    """

    name: ClassVar[str] = "unittest"
    reason: str = "unittest"
    start: str | None = None

    def argv(self, tests: Sequence[str] = ()) -> tuple[str, ...]:
        """unittest on `tests` (test files, which unittest turns into module names, or dotted ids)."""
        if tests:
            return ("python3", "-m", "unittest", "-v", *tests)
        return ("python3", "-m", "unittest", "discover", "-v", *(("-s", self.start) if self.start else ()))

    def select(self, tree: Path, changed: Sequence[str]) -> list[str]:
        """Test files tied to the change, as for pytest (at most 20)."""
        return select_files(tree, changed)

    def parse(self, output: str) -> dict[str, TestStatus]:
        """Statuses from the verbose progress lines and the failure headers."""
        return parse_unittest(output)

    def selector(self, test_id: str) -> str:
        """`test_x (a.B.test_x)` or `test_x (a.B)` -> `a.B.test_x`."""
        return unittest_selector(test_id)


def parse_unittest(output: str) -> dict[str, TestStatus]:
    """Per-test statuses from unittest's verbose output (also Django's runner's). Subtests count
    against their test; a module that failed to import is an ERROR under unittest's own id for it
    (`mod (unittest.loader._FailedTest...)`), a failed setUpClass under `setUpClass (mod.Class)`."""
    statuses: dict[str, TestStatus] = {}
    pending: str | None = None  # a test whose status is on a later line
    for line in plain_lines(output):
        text = line.strip()
        header = _HEADER.match(text)
        if header:
            record(statuses, header["id"], _HEADER_STATUS[header["kind"]])
            pending = None
            continue
        progress = first = _PROGRESS.match(text)
        while progress:
            rest = progress["rest"] or ""
            status = _status(rest)
            if status is not None:
                record(statuses, progress["id"], status)
                pending = None
            elif not progress["sub"].strip():
                pending = progress["id"]  # a docstring, the test's output or its subtests follow
            # before 3.11 a test whose subtests failed leaves its line open for the next test's
            progress = _PROGRESS.match(rest) if status is None else None
        if first:
            continue
        if pending is not None:
            status = _status(text.rsplit(" ... ", 1)[-1] if " ... " in text else text)
            if status is not None:
                record(statuses, pending, status)
                pending = None
    return statuses


def unittest_selector(test_id: str) -> str:
    """A unittest-style id as a dotted name: `test_x (a.B.test_x)` and `test_x (a.B)` both give
    `a.B.test_x`; `setUpClass (a.B)` gives `a.B`; a module that failed to import gives the module.
    A dotted name is returned as it is; anything else raises ValueError."""
    text = test_id.strip()
    parts = _PARTS.match(text)
    if parts:
        name, where = parts["name"], parts["where"]
        if where.startswith("unittest.loader._FailedTest") or where.startswith("unittest.suite."):
            return name
        if name.startswith(("setUp", "tearDown")):
            return where
        return where if where.endswith("." + name) else f"{where}.{name}"
    if re.fullmatch(r"[A-Za-z_][\w.]*", text):
        return text
    raise ValueError(f"not a unittest test id: {test_id!r}")


def _status(text: str) -> TestStatus | None:
    """The status a verbose line ends with, if it is one."""
    text = text.strip()
    if text in ("ok", "OK"):
        return TestStatus.PASSED
    if text == "FAIL":
        return TestStatus.FAILED
    if text == "ERROR":
        return TestStatus.ERROR
    if text == "expected failure":
        return TestStatus.XFAIL
    if text == "unexpected success":
        return TestStatus.FAILED
    if text.startswith("skipped"):
        return TestStatus.SKIPPED
    return None
