"""Regression detection in verification: a patch that breaks a test that passed before is rejected,
even when it also fixes another one (the failure count alone would not show it). The comparison
itself is the runners' (tests/sandbox/test_sandbox_runners_compare.py); this is the verdict."""

from __future__ import annotations

from swe_lsp.sandbox import RunResult, TestRun
from swe_lsp.sandbox.runners import PytestRunner
from swe_lsp.search.model import Reproduction
from swe_lsp.search.verification import judge

SCRIPT = "print('ok')"
COMMAND = "python3 -m pytest -q tests/test_a.py"


def pytest_run(failed: list[str], passed: list[str]) -> TestRun:
    """A pytest run as its `-rA`-style summary reports it, read by the pytest runner."""
    lines = [f"PASSED {t}" for t in passed] + [f"FAILED {t} - AssertionError" for t in failed]
    summary = f"{len(failed)} failed, {len(passed)} passed in 0.1s"
    result = RunResult(
        1 if failed else 0, "\n".join(["=== short test summary info ===", *lines, summary]), ""
    )
    runner = PytestRunner("pytest: test")
    return TestRun("pytest", (), runner.parse(result.stdout), result)


KEPT = Reproduction(SCRIPT, "reproduced", 1, 1, "ISSUE REPRODUCED")
FIXED = RunResult(0, "ISSUE RESOLVED", "")


def test_judge_rejects_a_fix_that_breaks_another_test() -> None:
    before = pytest_run(["tests/test_a.py::test_old_bug"], ["tests/test_a.py::test_other"])
    after = pytest_run(["tests/test_a.py::test_other"], ["tests/test_a.py::test_old_bug"])
    verdict = judge("p1", KEPT, FIXED, after, before, COMMAND, 1.0)
    assert not verdict.verified and verdict.regression
    assert any("tests/test_a.py::test_other" in note for note in verdict.notes)


def test_judge_verifies_a_fix_that_breaks_nothing() -> None:
    before = pytest_run(["tests/test_a.py::test_old_bug"], ["tests/test_a.py::test_other"])
    after = pytest_run([], ["tests/test_a.py::test_old_bug", "tests/test_a.py::test_other"])
    verdict = judge("p1", KEPT, FIXED, after, before, COMMAND, 1.0)
    assert verdict.verified and not verdict.regression
    assert verdict.tests_exit == 0 and verdict.tests_before_exit == 1


def test_judge_without_a_kept_script_verifies_nothing() -> None:
    none = Reproduction(None, "crashed", 3, 1, "NameError", reason="the script crashed 3 times")
    run = pytest_run([], ["tests/test_a.py::test_other"])
    verdict = judge("p1", none, None, run, run, COMMAND, 1.0)
    assert not verdict.verified and not verdict.regression
    assert any("judged by the tests only: the script crashed 3 times" in n for n in verdict.notes)
