"""Each runner end to end in the local sandbox: detect, select, run before and after a patch,
compare test by test, and rerun a regressed test through its selector."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from runner_trees import django_tree, sympy_tree, write
from sandbox_helpers import make_calc_repo, settings

from swe_lsp.sandbox import TestRunner, TestStatus, compare, detect_runner, run_tests
from swe_lsp.sandbox.base import SandboxSession
from swe_lsp.sandbox.local_sandbox import LocalSandbox
from swe_lsp.sandbox.runners import TestComparison

TIMEOUT_S = 120


@pytest.fixture
def sandbox() -> Iterator[LocalSandbox]:
    with LocalSandbox(settings()) as made:
        yield made


def before_and_after(
    session: SandboxSession, runner: TestRunner, tests: list[str], patch: dict[str, bytes | None]
) -> TestComparison:
    before = run_tests(session, runner, tests, TIMEOUT_S)
    session.put_files(patch)
    after = run_tests(session, runner, tests, TIMEOUT_S)
    assert before.parsed, before.result
    assert after.parsed, after.result
    return compare(before, after)


def test_pytest_project(sandbox: LocalSandbox, tmp_path: Path) -> None:
    repo = make_calc_repo(tmp_path / "repo")
    runner = detect_runner(repo.path)
    assert runner.name == "pytest"
    tests = runner.select(repo.path, list(repo.good))
    assert tests == ["tests/test_ops.py"]
    with sandbox.session(repo.path) as session:
        good = before_and_after(session, runner, tests, repo.good)
    assert good.per_test and good.fixed == ("tests/test_ops.py::test_add",) and not good.regressed
    with sandbox.session(repo.path) as session:
        session.put_files(repo.good)
        bad = before_and_after(session, runner, tests, repo.bad)
    assert bad.regressions == ("tests/test_ops.py::test_add",)


def test_unittest_project(sandbox: LocalSandbox, tmp_path: Path) -> None:
    tree = write(
        tmp_path,
        {
            "shapes/__init__.py": "",
            "shapes/area.py": "def square(n):\n    return n * n\n",
            "tests/test_area.py": "import unittest\nfrom shapes.area import square\n\n"
            "class AreaTests(unittest.TestCase):\n"
            "    def test_square(self):\n        self.assertEqual(square(3), 9)\n\n"
            "    def test_zero(self):\n        self.assertEqual(square(0), 0)\n",
            "tests/test_other.py": "import unittest\n\nclass Other(unittest.TestCase):\n"
            "    def test_other(self):\n        pass\n",
        },
    )
    runner = detect_runner(tree)
    assert runner.name == "unittest"
    tests = runner.select(tree, ["shapes/area.py"])
    assert tests == ["tests/test_area.py"]
    with sandbox.session(tree) as session:
        whole = run_tests(session, runner, [], TIMEOUT_S)
        assert len(whole.passed) == 3, whole.result  # discover from tests/
        result = before_and_after(
            session, runner, tests, {"shapes/area.py": b"def square(n):\n    return n + n\n"}
        )
        assert [runner.selector(t) for t in result.regressions] == ["tests.test_area.AreaTests.test_square"]
        again = run_tests(session, runner, [runner.selector(result.regressions[0])], TIMEOUT_S)
    assert list(again.statuses.values()) == [TestStatus.FAILED]


def test_django_style_project(sandbox: LocalSandbox, tmp_path: Path) -> None:
    tree = django_tree(tmp_path)
    runner = detect_runner(tree)
    assert runner.name == "django"
    labels = runner.select(tree, ["django/db/models/query.py"])
    assert labels == ["queries.tests", "prefetch_related.tests", "basic.tests"]
    broken = b"class QuerySet:\n    def count(self):\n        return 1\n\nclass Prefetch:\n    pass\n"
    with sandbox.session(tree) as session:
        result = before_and_after(session, runner, labels, {"django/db/models/query.py": broken})
        assert [runner.selector(t) for t in result.regressions] == ["queries.tests.QueryTests.test_count"]
        again = run_tests(session, runner, ["queries.tests.QueryTests.test_count"], TIMEOUT_S)
    assert again.argv[-1] == "queries.tests.QueryTests.test_count"
    assert [runner.selector(t) for t in again.failed] == ["queries.tests.QueryTests.test_count"]
    assert len(again.statuses) == 1


def test_sympy_style_project(sandbox: LocalSandbox, tmp_path: Path) -> None:
    tree = sympy_tree(tmp_path)
    runner = detect_runner(tree)
    assert runner.name == "sympy"
    files = runner.select(tree, ["sympy/core/expr.py"])
    broken = b"class Expr:\n    def double(self, x):\n        return 3 * x\n"
    with sandbox.session(tree) as session:
        before = run_tests(session, runner, files, TIMEOUT_S)
        assert "warnings: ignore::UserWarning,ignore::SyntaxWarning" in before.result.stdout
        session.put_files({"sympy/core/expr.py": broken})
        after = run_tests(session, runner, files, TIMEOUT_S)
        result = compare(before, after)
        assert result.regressions == ("test_arit", "test_double", "test_str")
        assert after.statuses["test_zero"] is TestStatus.PASSED  # 3 * 0 is still 0
        only = run_tests(session, runner, ["sympy/core/tests/test_expr.py::test_double"], TIMEOUT_S)
    assert only.statuses == {"test_double": TestStatus.FAILED}
