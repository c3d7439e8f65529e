"""Running a runner's tests in a sandbox session and reading per-test results from the output."""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from swe_lsp.sandbox.base import SandboxSession
from swe_lsp.sandbox.result import RunResult
from swe_lsp.sandbox.runners.base import TestRunner, TestStatus


@dataclass(frozen=True)
class TestRun:
    """One run of a runner's tests: the command, the per-test statuses read from its output (empty
    when none could be read) and the raw result."""

    __test__ = False

    runner: str  # the runner's name
    argv: tuple[str, ...]
    statuses: Mapping[str, TestStatus]
    result: RunResult

    @property
    def parsed(self) -> bool:
        """Whether any per-test status was read."""
        return bool(self.statuses)

    @property
    def passed(self) -> frozenset[str]:
        """Ids of the tests that passed."""
        return frozenset(t for t, s in self.statuses.items() if s is TestStatus.PASSED)

    @property
    def failed(self) -> frozenset[str]:
        """Ids of the tests that failed or were in error."""
        return frozenset(t for t, s in self.statuses.items() if s.bad)

    @property
    def aborted(self) -> bool:
        """The run stopped before it had run everything: killed at the timeout, cancelled, or ended
        with a status runners use for "could not run" rather than "tests failed" (0 and 1 are
        what they use for passed and failed; pytest: 2 interrupted, 3 internal error, 4 usage
        error, 5 nothing collected; a negative status is a signal)."""
        return self.result.exit_code not in (0, 1)

    @property
    def clean(self) -> bool:
        """Finished with exit status 0 and no test failed: every test that ran passed."""
        return self.result.ok and not self.failed


def run_tests(
    session: SandboxSession,
    runner: TestRunner,
    tests: Sequence[str],
    timeout_s: float | None,
    cancel: threading.Event | None = None,
) -> TestRun:
    """Run `tests` (selectors; () = the whole suite) with `runner` in `session`, and parse them.

    stdout and stderr are parsed one after the other, not interleaved: unittest and Django write
    their progress lines to stderr and tests' own prints go to stdout, so each stays whole.
    """
    argv = runner.argv(tests)
    result = session.run(list(argv), timeout_s, env=runner.env, cancel=cancel)
    statuses = runner.parse(result.stdout + "\n" + result.stderr)
    return TestRun(runner.name, argv, statuses, result)
