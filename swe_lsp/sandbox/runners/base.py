"""What every test runner offers: its command, which of its tests exercise a change, and how to read
per-test results from its output.

A verification compares the same tests before and after a patch, test by test, so each runner
reports statuses under stable ids (the ones the runner itself prints, which are also the ones
SWE-bench lists) and can turn such an id back into something its command accepts.
"""

from __future__ import annotations

import enum
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar


class TestStatus(enum.StrEnum):
    """How one test ended. An unexpected pass (XPASS) counts as PASSED unless the runner treats it
    as a failure (pytest's strict xfail, unittest's "unexpected success"), then as FAILED."""

    __test__ = False  # not a pytest test class, despite the name

    PASSED = "passed"
    FAILED = "failed"
    ERROR = "error"
    SKIPPED = "skipped"
    XFAIL = "xfail"

    @property
    def bad(self) -> bool:
        """Failed or in error: what a regression is made of."""
        return self in (TestStatus.FAILED, TestStatus.ERROR)


# When one id is reported twice (a progress line and a failure header, or a test and its subtests,
# or two same-named SymPy tests), the worse status is kept so that no failure is hidden.
_SEVERITY = {
    TestStatus.SKIPPED: 0,
    TestStatus.XFAIL: 1,
    TestStatus.PASSED: 2,
    TestStatus.FAILED: 3,
    TestStatus.ERROR: 4,
}
_ANSI = re.compile(r"\x1b\[[0-9;]*[A-Za-z]")


def record(statuses: dict[str, TestStatus], test_id: str, status: TestStatus) -> None:
    """Set `test_id`'s status in `statuses`, keeping the worse one if it is already there."""
    old = statuses.get(test_id)
    if old is None or _SEVERITY[status] > _SEVERITY[old]:
        statuses[test_id] = status


def plain_lines(output: str) -> list[str]:
    """`output`'s lines without colour codes (a carriage return also ends a line)."""
    return [_ANSI.sub("", line) for line in output.splitlines()]


class TestRunner(ABC):
    """One way of running a workspace's tests. Subclasses are frozen dataclasses, one per runner.

    `found` is False only for `NoRunner` (no tests were found): check it before asking for `argv`,
    which then raises.
    """

    __test__ = False

    name: ClassVar[str]
    reason: str  # why this runner was chosen, shown to the user

    @property
    def found(self) -> bool:
        """Whether there is anything to run."""
        return True

    @property
    def env(self) -> Mapping[str, str]:
        """Extra environment variables the runner needs."""
        return {}

    @abstractmethod
    def argv(self, tests: Sequence[str] = ()) -> tuple[str, ...]:
        """The command that runs `tests` (selectors from `select` or `selector`); () = the suite."""

    @abstractmethod
    def select(self, tree: Path, changed: Sequence[str]) -> list[str]:
        """Runner-native selectors of the tests that exercise the `changed` files (relative paths),
        best first and bounded; [] when none do."""

    @abstractmethod
    def parse(self, output: str) -> dict[str, TestStatus]:
        """Per-test statuses found in the run's stdout and stderr ({} when none could be read)."""

    @abstractmethod
    def selector(self, test_id: str) -> str:
        """A test id as `parse` reports it (or as SWE-bench lists it) as a selector `argv` accepts.

        Raises ValueError for an id the runner cannot select (e.g. a docstring line that SWE-bench
        lists in place of a Django test's name).
        """


@dataclass(frozen=True)
class NoRunner(TestRunner):
    """No tests were found: nothing to run, nothing selected, nothing parsed."""

    name: ClassVar[str] = "none"
    reason: str = "no tests found"

    @property
    def found(self) -> bool:
        """Never: there is no test command."""
        return False

    def argv(self, tests: Sequence[str] = ()) -> tuple[str, ...]:
        """Raises: there is no command (check `found` first)."""
        raise ValueError(f"no test runner: {self.reason}")

    def select(self, tree: Path, changed: Sequence[str]) -> list[str]:
        """Nothing to select."""
        return []

    def parse(self, output: str) -> dict[str, TestStatus]:
        """Nothing to read."""
        return {}

    def selector(self, test_id: str) -> str:
        """Raises: there is no runner to select with."""
        raise ValueError(f"no test runner: {self.reason}")
