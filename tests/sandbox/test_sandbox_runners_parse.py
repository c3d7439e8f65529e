"""Each runner's parser on output its real runner printed, and its selectors.

The files in runner_outputs/ are real runs, each of a small test file with one test per outcome:
pytest 9 with the runner's flags (one run with a module that fails to import); Django's
tests/runtests.py (Django 5.1 dev, Python 3.11, stdout and stderr merged as a terminal shows them);
`python -m unittest -v` on Python 3.9 and 3.12 (the id format changed in 3.11), stdout then stderr
as `run_tests` joins them; SymPy 1.9's bin/test (the legacy runner) and a 2026 SymPy's (pytest).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from swe_lsp.sandbox.runners import DjangoRunner, PytestRunner, SympyRunner, TestStatus, UnittestRunner

OUTPUTS = Path(__file__).parent / "runner_outputs"
P, F, E, S, X = (TestStatus.PASSED, TestStatus.FAILED, TestStatus.ERROR, TestStatus.SKIPPED, TestStatus.XFAIL)


def output(name: str) -> str:
    return (OUTPUTS / name).read_text()


def test_pytest_summary_lines() -> None:
    statuses = PytestRunner().parse(output("pytest_summary.txt"))
    assert statuses == {
        "tests/test_demo.py::test_ok": P,
        "tests/test_demo.py::test_fail": F,
        "tests/test_demo.py::test_error": E,
        "tests/test_demo.py::test_xfail": X,
        "tests/test_demo.py::test_xpass": P,  # not strict
        "tests/test_demo.py::test_xpass_strict": F,
        "tests/test_demo.py::test_param[a b]": P,
        "tests/test_demo.py::test_param[c - d]": F,
        "tests/test_demo.py::test_param[x[1]]": P,
    }  # the skip is summarised by location only


def test_pytest_collection_error_is_an_error_of_the_file() -> None:
    assert PytestRunner().parse(output("pytest_collection_error.txt")) == {"tests/test_broken.py": E}


def test_pytest_verbose_progress_lines_colour_and_xdist() -> None:
    text = (
        "\x1b[32mtests/t.py::test_a PASSED\x1b[0m                  [ 33%]\n"
        "tests/t.py::test_b[1 2] FAILED                    [ 66%]\n"
        "[gw1] [100%] SKIPPED tests/t.py::test_c\n"
        "tests/t.py::test_d SKIPPED (no db)                [100%]\n"
        "SKIPPED [2] tests/t.py:12: no db\n"
        "some output line mentioning PASSED things\n"
    )
    assert PytestRunner().parse(text) == {
        "tests/t.py::test_a": P,
        "tests/t.py::test_b[1 2]": F,
        "tests/t.py::test_c": S,
        "tests/t.py::test_d": S,
    }


def test_a_failure_and_a_teardown_error_of_one_test_keep_the_error() -> None:
    text = "FAILED t.py::test_a - assert 0\nERROR t.py::test_a - RuntimeError: teardown\n"
    assert PytestRunner().parse(text) == {"t.py::test_a": E}


@pytest.mark.parametrize(
    ("listed", "selector"),
    [
        ("tests/t.py::test_a", "tests/t.py::test_a"),
        ("tests/t.py::test_b[1 2]", "tests/t.py::test_b[1 2]"),
        ("tests/t.py::test_a [100%]", "tests/t.py::test_a"),
        ("tests/t.py::test_a PASSED [ 50%]", "tests/t.py::test_a"),
        ("FAILED tests/t.py::C::test_a - AssertionError: x", "tests/t.py::C::test_a"),
        ("  tests/t.py  ", "tests/t.py"),
    ],
)
def test_pytest_selector_cleans_log_residue(listed: str, selector: str) -> None:
    assert PytestRunner().selector(listed) == selector


def test_pytest_selector_rejects_what_is_not_an_id() -> None:
    with pytest.raises(ValueError):
        PytestRunner().selector("[1]")


def test_django_verbose_output() -> None:
    statuses = DjangoRunner().parse(output("django_runtests.txt"))
    demo = "zzdemo.tests.DemoTests"
    assert statuses == {
        f"test_docstring ({demo}.test_docstring)": P,  # its docstring line carries the status
        f"test_error ({demo}.test_error)": E,
        f"test_fail ({demo}.test_fail)": F,
        f"test_ok ({demo}.test_ok)": P,
        f"test_prints ({demo}.test_prints)": P,  # status after the test's own output
        f"test_skip ({demo}.test_skip)": S,
        f"test_sub ({demo}.test_sub)": F,  # one subtest failed
        f"test_xfail ({demo}.test_xfail)": X,
        f"test_xpass ({demo}.test_xpass)": F,  # unexpected success fails a unittest run
        "test_get_absolute_url (absolute_url_overrides.tests.AbsoluteUrlOverrideTests."
        "test_get_absolute_url)": P,
        "test_insert_get_absolute_url (absolute_url_overrides.tests.AbsoluteUrlOverrideTests."
        "test_insert_get_absolute_url)": P,
        "test_override_get_absolute_url (absolute_url_overrides.tests.AbsoluteUrlOverrideTests."
        "test_override_get_absolute_url)": P,
    }


def test_django_failure_headers_catch_tests_whose_progress_line_was_cut() -> None:
    text = (
        "... [20000 bytes of output cut by swe-lsp] ...\n"
        "======================================================================\n"
        "FAIL: test_x (admin_views.tests.AdminViewTests.test_x)\n"
        "ERROR: setUpClass (admin_views.tests.OtherTests)\n"
    )
    assert DjangoRunner().parse(text) == {
        "test_x (admin_views.tests.AdminViewTests.test_x)": F,
        "setUpClass (admin_views.tests.OtherTests)": E,
    }


@pytest.mark.parametrize("version", ["py39", "py312"])
def test_unittest_before_and_after_the_311_id_format(version: str) -> None:
    statuses = UnittestRunner().parse(output(f"unittest_{version}.txt"))
    cls = "tests.test_demo.DemoTests"
    long = version == "py312"
    ids = {name: f"{name} ({cls}.{name})" if long else f"{name} ({cls})" for name in ("test_ok", "test_fail")}
    assert statuses[ids["test_ok"]] is P and statuses[ids["test_fail"]] is F
    by_status = sorted((s.value, t.split(" ")[0]) for t, s in statuses.items())
    assert by_status == [
        ("error", "setUpClass"),
        ("error", "test_broken"),  # the module that failed to import
        ("error", "test_error"),
        ("failed", "test_fail"),
        ("failed", "test_sub"),  # 3.9 runs its line into the next test's; the header tells
        ("passed", "test_docstring"),
        ("passed", "test_ok"),
        ("passed", "test_prints"),
        ("skipped", "test_skip"),
        ("xfail", "test_xfail"),  # read from the line test_sub left open, on 3.9
    ]


@pytest.mark.parametrize(
    ("listed", "selector"),
    [
        ("test_x (admin_views.tests.AdminViewTests)", "admin_views.tests.AdminViewTests.test_x"),
        ("test_x (admin_views.tests.AdminViewTests.test_x)", "admin_views.tests.AdminViewTests.test_x"),
        ("test_sub (a.tests.T.test_sub) (i=1)", "a.tests.T.test_sub"),
        ("setUpClass (a.tests.T)", "a.tests.T"),
        ("zzbroken.tests (unittest.loader._FailedTest.zzbroken.tests)", "zzbroken.tests"),
        ("admin_views.tests.AdminViewTests.test_x", "admin_views.tests.AdminViewTests.test_x"),
    ],
)
def test_django_selector(listed: str, selector: str) -> None:
    assert DjangoRunner().selector(listed) == selector


def test_django_selector_rejects_a_docstring_listed_as_a_test() -> None:
    # SWE-bench's Django lists hold some docstring first lines in place of test names
    with pytest.raises(ValueError, match="not a unittest test id"):
        DjangoRunner().selector("get_absolute_url() functions as a normal method.")


def test_sympy_legacy_runner_output() -> None:
    statuses = SympyRunner().parse(output("sympy_legacy.txt"))
    assert {t: s for t, s in statuses.items() if not t.startswith("test_Tuple")} == {
        "test_tuple_wrapper": P,
        "test_iterable_is_sequence": P,
        "test_Dict": P,
        "test_issue_5788": P,  # the last of its file: "[OK]" aligned after the status
        "test_ok": P,
        "test_fail": F,
        "test_error": E,
        "test_skipped": S,  # its reason comes before the "s"
        "test_xfail": X,
        "test_xpass": P,
        "test_prints": P,  # status on the line after the test's output
    }
    assert sum(1 for t in statuses if t.startswith("test_Tuple")) == 9


def test_sympy_pytest_based_output_uses_the_same_names() -> None:
    statuses = SympyRunner().parse(output("sympy_pytest.txt"))
    assert statuses == {
        "test_ok": P,
        "test_fail": F,
        "test_error": F,  # pytest reports a raising test as failed
        "test_skipped": S,
        "test_xfail": X,
        "test_xpass": P,
        "test_prints": P,
    }


def test_sympy_import_failures_traceback_headers_and_name_clashes() -> None:
    text = (
        "sympy/a/tests/test_x.py[?]   Failed to import                        [FAIL]\n"
        "sympy/b/tests/test_y.py[2] \ntest_same ok\ntest_only_here ok   [OK]\n"
        "sympy/c/tests/test_z.py[1] \ntest_same F     [FAIL]\n"
        "______________ sympy/d/tests/test_w.py:test_cut _______________\n"
    )
    assert SympyRunner().parse(text) == {
        "sympy/a/tests/test_x.py": E,
        "test_same": F,  # the worse of the two
        "test_only_here": P,
        "test_cut": F,  # only its traceback header survived
    }


def test_sympy_argv_and_selectors() -> None:
    runner = SympyRunner()
    assert runner.selector("test_foo") == "test_foo"
    assert runner.selector("sympy/core/tests/test_x.py:test_foo") == "sympy/core/tests/test_x.py::test_foo"
    assert runner.selector("sympy/core/tests/test_x.py") == "sympy/core/tests/test_x.py"
    with pytest.raises(ValueError):
        runner.selector("Some docstring")
    argv = runner.argv(["sympy/a/tests/test_x.py", "sympy/b/tests/test_y.py::test_foo", "test_bar"])
    assert argv == (
        "python3",
        "bin/test",
        "-C",
        "--verbose",
        "sympy/a/tests/test_x.py",
        "sympy/b/tests/test_y.py",
        "-k",
        "test_foo",
        "test_bar",
    )
