"""Comparing test runs before and after a patch: per test, and by exit status when that is all."""

from __future__ import annotations

from swe_lsp.sandbox.result import RunResult
from swe_lsp.sandbox.runners import TestComparison, TestRun, TestStatus, compare

P, F, E = TestStatus.PASSED, TestStatus.FAILED, TestStatus.ERROR


def run(statuses: dict[str, TestStatus], exit_code: int | None = 0, out: str = "", **flags: bool) -> TestRun:
    return TestRun("pytest", ("pytest",), statuses, RunResult(exit_code, out, "", **flags))


def test_per_test_regression_fix_and_still_failing() -> None:
    before = run({"a": P, "b": F, "c": F, "d": P, "e": TestStatus.SKIPPED}, exit_code=1)
    after = run({"a": E, "b": P, "c": F, "d": P, "e": TestStatus.SKIPPED}, exit_code=1)
    result = compare(before, after)
    assert result == TestComparison(regressions=("a",), fixed=("b",), still_failing=("c",), per_test=True)
    assert result.regressed
    assert result.summary() == "regression: 1 test(s) passed before and fail after: a"


def test_a_patch_that_fixes_one_test_and_breaks_another_regresses() -> None:
    result = compare(run({"x": F, "y": P}, 1), run({"x": P, "y": F}, 1))
    assert result.regressions == ("y",) and result.fixed == ("x",)


def test_no_regression_summary() -> None:
    result = compare(run({"a": F, "b": P}, 1), run({"a": P, "b": P}))
    assert not result.regressed
    assert result.summary() == "no regression: 1 fixed, 0 still failing"


def test_summary_names_at_most_five() -> None:
    names = [f"t{i}" for i in range(7)]
    result = compare(run(dict.fromkeys(names, P)), run(dict.fromkeys(names, F), 1))
    assert result.summary() == (
        "regression: 7 test(s) passed before and fail after: t0, t1, t2, t3, t4 and 2 more"
    )


def test_tests_gone_from_a_run_that_timed_out_count() -> None:
    before = run({"a": P, "b": P, "c": P})
    after = run({"a": P}, exit_code=None, timed_out=True)
    result = compare(before, after)
    assert result.regressions == ("b", "c")
    assert "2 test(s) did not run after the patch (timed out)" in result.summary()


def test_tests_gone_behind_a_new_import_error_count() -> None:
    before = run({"mod.tests.T.test_a": P, "other": F}, 1)
    after = run({"mod (unittest.loader._FailedTest.mod)": E, "other": F}, 1)
    result = compare(before, after)
    assert result.regressions == ("mod.tests.T.test_a",)
    assert "did not run after the patch (error in mod (unittest.loader._FailedTest.mod))" in result.summary()


def test_tests_gone_from_a_run_that_finished_do_not_count() -> None:
    # e.g. their lines were cut from the capped output; nothing says they failed
    result = compare(run({"a": P, "b": P}), run({"a": P}))
    assert not result.regressed
    assert "1 test(s) seen before were not reported after (not counted)" in result.summary()


def test_gone_tests_when_both_runs_broke_do_not_count() -> None:
    before = run({"a": P, "b": P}, exit_code=None, timed_out=True)
    assert not compare(before, run({"a": P}, exit_code=None, timed_out=True)).regressed


def test_failing_test_never_seen_before_counts_only_if_all_passed_before() -> None:
    clean = run({"a": P})
    assert compare(clean, run({"a": P, "new": F}, 1)).regressions == ("new",)
    failing = run({"a": F}, 1)
    assert not compare(failing, run({"a": F, "new": F}, 1)).regressed


def test_fallback_by_exit_status_when_after_could_not_be_parsed() -> None:
    result = compare(run({"a": P}), run({}, exit_code=1, out="Traceback ...\nImportError: boom\n"))
    assert not result.per_test and result.regressed and result.regressions == ()
    assert (
        result.summary()
        == "regression (no per-test results: judged by exit status and counts); exit 1 after, 0 before"
    )


def test_fallback_by_failure_counts() -> None:
    before = run({}, exit_code=1, out="==== 1 failed, 3 passed in 0.1s ====\n")
    worse = run({}, exit_code=1, out="FAILED (failures=1, errors=1)\n")
    same = run({}, exit_code=1, out=" tests finished: 3 passed, 1 failed, in 0.2 seconds\n")
    assert (
        compare(before, worse).run_regressed and "2 failing after, 1 before" in compare(before, worse).detail
    )
    assert not compare(before, same).regressed


def test_fallback_timeout_after_the_patch() -> None:
    result = compare(run({}, exit_code=0), run({}, exit_code=None, timed_out=True))
    assert result.regressed and "timed out after the patch" in result.summary()


def test_cancelled_runs_are_not_judged() -> None:
    result = compare(run({"a": P}), run({}, exit_code=None, cancelled=True))
    assert not result.regressed and not result.per_test and "cancelled" in result.summary()


def test_test_run_properties() -> None:
    tests = run({"a": P, "b": F, "c": E, "d": TestStatus.XFAIL}, exit_code=1)
    assert tests.parsed and tests.passed == {"a"} and tests.failed == {"b", "c"}
    assert not tests.aborted and not tests.clean
    assert run({}, exit_code=2).aborted and not run({}).parsed and run({"a": P}).clean
