"""Regression detection in verification: a patch that breaks a test that passed before is rejected,
even when it also fixes another one (the failure count alone would not show it)."""

from __future__ import annotations

from swe_lsp.sandbox import RunResult
from swe_lsp.search.verification import failing_tests, judge, regressed

SCRIPT = "print('ok')"


def pytest_run(failed: list[str], passed: int = 3) -> RunResult:
    lines = [f"FAILED {t} - AssertionError" for t in failed]
    summary = f"{len(failed)} failed, {passed} passed in 0.1s" if failed else f"{passed} passed in 0.1s"
    out = "\n".join(["=== short test summary info ===", *lines, summary])
    return RunResult(1 if failed else 0, out, "")


def test_failing_ids_are_read_from_the_short_summary() -> None:
    run = pytest_run(["tests/test_a.py::test_one", "tests/test_b.py::TestX::test_two[1-2]"])
    assert failing_tests(run) == {"tests/test_a.py::test_one", "tests/test_b.py::TestX::test_two[1-2]"}


def test_swapping_a_failure_for_another_is_a_regression() -> None:
    before = pytest_run(["tests/test_a.py::test_old_bug"])
    after = pytest_run(["tests/test_a.py::test_other"])
    broke, why = regressed(after, before)
    assert broke and "tests/test_a.py::test_other" in why


def test_fixing_a_test_is_not_a_regression() -> None:
    assert regressed(pytest_run([]), pytest_run(["tests/test_a.py::test_old_bug"])) == (False, "")


def test_counts_are_the_fallback_without_ids() -> None:
    before = RunResult(0, "Ran 4 tests\nOK", "")
    after = RunResult(1, "Ran 4 tests\nFAILED (failures=1)\n1 failed", "")
    assert regressed(after, before)[0]
    assert not regressed(before, before)[0]


def test_judge_rejects_a_fix_that_breaks_another_test() -> None:
    repro_before = RunResult(1, "ISSUE REPRODUCED", "")
    repro_after = RunResult(0, "ISSUE RESOLVED", "")
    verdict = judge(
        "p1",
        SCRIPT,
        repro_before,
        repro_after,
        pytest_run(["tests/test_a.py::test_other"]),
        pytest_run(["tests/test_a.py::test_old_bug"]),
        "python3 -m pytest -q tests/test_a.py",
        1.0,
    )
    assert not verdict.verified
    assert any("test_other" in note for note in verdict.notes)
