"""Comparing the tests of the original tree with those of a patched one, test by test.

A patch regresses when a test that passed before fails or errs after it. A test that vanished
counts too when the run after the patch broke in a way that hides tests (a new import or
collection error, a timeout, an interrupted run) and the run before did not; a test that fails
after and was never seen before counts when every test passed before (its line may have been cut
from the capped output, or the patch added it failing). When one side has no per-test results
(an unrecognised custom command, a crash before any test ran), exit statuses and the failure
counts in the runners' summaries decide instead.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from swe_lsp.sandbox.runners.base import TestStatus
from swe_lsp.sandbox.runners.run import TestRun

# How many regressed ids the one-line summary names: enough to act on, short enough for a line.
SHOWN = 5
_COUNTS = (
    re.compile(r"\b(\d+) (?:failed|errors?|exceptions)\b"),  # pytest, SymPy
    re.compile(r"\b(?:failures|errors)=(\d+)"),  # unittest, Django
)


@dataclass(frozen=True)
class TestComparison:
    """The tests before and after a patch. `per_test` is False when one side could not be parsed;
    then `run_regressed` holds the verdict from exit statuses and failure counts, and `detail`
    says how it was reached."""

    __test__ = False

    regressions: tuple[str, ...]
    fixed: tuple[str, ...]
    still_failing: tuple[str, ...]
    per_test: bool
    run_regressed: bool = False
    detail: str = ""

    @property
    def regressed(self) -> bool:
        """Whether the patch broke something that worked before."""
        return bool(self.regressions) or self.run_regressed

    def summary(self) -> str:
        """One line for the user, naming up to 5 regressed tests."""
        tail = f"; {self.detail}" if self.detail else ""
        if not self.per_test:
            verdict = "regression" if self.run_regressed else "no regression"
            return f"{verdict} (no per-test results: judged by exit status and counts){tail}"
        if self.regressions:
            shown = ", ".join(self.regressions[:SHOWN])
            more = f" and {len(self.regressions) - SHOWN} more" if len(self.regressions) > SHOWN else ""
            count = len(self.regressions)
            return f"regression: {count} test(s) passed before and fail after: {shown}{more}{tail}"
        return f"no regression: {len(self.fixed)} fixed, {len(self.still_failing)} still failing{tail}"


def compare(before: TestRun, after: TestRun) -> TestComparison:
    """Compare the run on the original tree (`before`) with the run on the patched one (`after`)."""
    if before.result.cancelled or after.result.cancelled:
        return TestComparison((), (), (), per_test=False, detail="cancelled before the tests finished")
    if before.parsed and after.parsed:
        return _per_test(before, after)
    return _by_exit(before, after)


def _per_test(before: TestRun, after: TestRun) -> TestComparison:
    old, new = before.statuses, after.statuses
    new_errors = sorted(t for t, s in new.items() if s is TestStatus.ERROR and t not in old)
    broke = bool(new_errors) or (after.aborted and not before.aborted)
    passed = TestStatus.PASSED
    # failing now, and passed before or (never seen, when everything passed before)
    unseen_counts = before.clean
    regressions = {
        t for t, s in new.items() if s.bad and (old.get(t) is passed or (t not in old and unseen_counts))
    }
    gone = {t for t, s in old.items() if s is passed and t not in new}
    if broke:
        regressions |= gone
    fixed = tuple(sorted(t for t, s in old.items() if s.bad and new.get(t) is passed))
    still = tuple(sorted(t for t, s in old.items() if s.bad and t in new and new[t].bad))
    notes = []
    if broke and gone:
        notes.append(f"{len(gone)} test(s) did not run after the patch ({_how(after)})")
    elif gone:
        notes.append(f"{len(gone)} test(s) seen before were not reported after (not counted)")
    return TestComparison(tuple(sorted(regressions)), fixed, still, per_test=True, detail="; ".join(notes))


def _by_exit(before: TestRun, after: TestRun) -> TestComparison:
    if after.result.timed_out and not before.result.timed_out:
        return TestComparison((), (), (), False, True, "the tests timed out after the patch, not before")
    old, new = _failures(before), _failures(after)
    codes = f"exit {after.result.exit_code} after, {before.result.exit_code} before"
    if before.result.ok and not after.result.ok:
        return TestComparison((), (), (), False, True, codes)
    if old is not None and new is not None and new > old:
        return TestComparison((), (), (), False, True, f"{new} failing after, {old} before")
    return TestComparison((), (), (), False, False, codes)


def _failures(run: TestRun) -> int | None:
    """Failed tests: counted per test when parsed, else from the summary lines; 0 for a clean
    exit, None when unknown."""
    if run.parsed:
        return len(run.failed)
    text = run.result.stdout + "\n" + run.result.stderr
    counts = [int(n) for pattern in _COUNTS for n in pattern.findall(text)]
    if counts:
        return sum(counts)
    return 0 if run.result.ok else None


def _how(run: TestRun) -> str:
    if run.result.timed_out:
        return "timed out"
    errors = sorted(t for t, s in run.statuses.items() if s is TestStatus.ERROR)
    if errors:
        return f"error in {errors[0]}" + (f" and {len(errors) - 1} more" if len(errors) > 1 else "")
    return f"exit {run.result.exit_code}"
