"""The single test command of earlier versions, kept for its callers until they move to
`swe_lsp.sandbox.runners` (per-test results, Django and SymPy, runner-native selection).

`detect_test_command` is `detect_runner` without the parsing; `select_tests` and
`find_test_files` are pytest's file selection, unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from swe_lsp.sandbox.runners.detect import detect_runner
from swe_lsp.sandbox.runners.selection import find_test_files, select_tests

__all__ = ["PYTEST", "UNITTEST", "TestCommand", "detect_test_command", "find_test_files", "select_tests"]

# The plain commands earlier versions ran; the runners add per-test reporting flags.
PYTEST = ("python3", "-m", "pytest", "-q", "-p", "no:cacheprovider")
UNITTEST = ("python3", "-m", "unittest", "discover", "-v")


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


def detect_test_command(tree: Path, configured: str | None = None) -> TestCommand:
    """The detected runner's whole-suite command for `tree` (see `runners.detect_runner`)."""
    runner = detect_runner(tree, configured)
    return TestCommand(runner.argv() if runner.found else (), runner.reason)
