"""Detecting a workspace's test runner, and the earlier single-command interface kept on top of it."""

from __future__ import annotations

from pathlib import Path

import pytest
from runner_trees import django_tree, sympy_tree, write

from swe_lsp.sandbox.runners import (
    CustomRunner,
    DjangoRunner,
    PytestRunner,
    SympyRunner,
    UnittestRunner,
    detect_runner,
    select_tests,
)


def test_django_layout(tmp_path: Path) -> None:
    runner = detect_runner(django_tree(tmp_path))
    assert isinstance(runner, DjangoRunner) and runner.name == "django"
    assert "tests/runtests.py" in runner.reason
    assert runner.argv(["queries.tests"]) == (
        "python3",
        "tests/runtests.py",
        "--verbosity",
        "2",
        "--settings=test_sqlite",
        "--parallel",
        "1",
        "queries.tests",
    )


def test_runtests_without_the_django_package_is_not_django(tmp_path: Path) -> None:
    write(tmp_path, {"tests/runtests.py": "", "tests/test_a.py": "def test_a():\n    pass\n"})
    assert detect_runner(tmp_path).name == "pytest"


def test_sympy_layout(tmp_path: Path) -> None:
    runner = detect_runner(sympy_tree(tmp_path))
    assert isinstance(runner, SympyRunner) and runner.name == "sympy"
    assert runner.argv() == ("python3", "bin/test", "-C", "--verbose")
    assert runner.env["PYTHONWARNINGS"] == "ignore::UserWarning,ignore::SyntaxWarning"


def test_bin_test_using_sympys_runner_outside_sympy(tmp_path: Path) -> None:
    write(tmp_path, {"bin/test": "import sympy\nsympy.test()\n", "pkg/__init__.py": ""})
    assert detect_runner(tmp_path).name == "sympy"
    write(tmp_path / "other", {"bin/test": "echo run\n", "tests/test_a.py": "def test_a():\n    pass\n"})
    assert detect_runner(tmp_path / "other").name == "pytest"


@pytest.mark.parametrize(
    ("files", "where"),
    [
        ({"pytest.ini": "[pytest]\n"}, "pytest.ini"),
        ({"conftest.py": ""}, "conftest.py"),
        ({"pyproject.toml": "[tool.pytest.ini_options]\naddopts = '-q'\n"}, "pyproject.toml"),
        ({"setup.cfg": "[tool:pytest]\ntestpaths = t\n"}, "[tool:pytest] in setup.cfg"),
        ({"tox.ini": "[pytest]\naddopts = -q\n"}, "[pytest] in tox.ini"),
    ],
)
def test_pytest_configuration(tmp_path: Path, files: dict[str, str], where: str) -> None:
    runner = detect_runner(write(tmp_path, files))
    assert isinstance(runner, PytestRunner)
    assert where in runner.reason
    flags = ("-q", "-p", "no:cacheprovider", "-rfEsxXp", "--tb=short")
    assert runner.argv() == ("python3", "-m", "pytest", *flags)


def test_tox_running_pytest_means_pytest(tmp_path: Path) -> None:
    # sphinx's tox.ini, abridged: pytest behind python -X flags and {posargs}
    write(
        tmp_path,
        {
            "tox.ini": "[tox]\nenvlist = py3\n[testenv]\ncommands=\n"
            "    python -X dev -X warn_default_encoding -m pytest --durations 25 {posargs}\n",
            "tests/test_a.py": "import unittest\n",
        },
    )
    runner = detect_runner(tmp_path)
    assert runner.name == "pytest" and "tox.ini runs python -X dev" in runner.reason


def test_tox_running_unittest_in_a_named_env(tmp_path: Path) -> None:
    write(tmp_path, {"tox.ini": "[tox]\n[testenv:py311]\ncommands = python -m unittest discover -v\n"})
    assert detect_runner(tmp_path).name == "unittest"


def test_nox_running_pytest(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "noxfile.py": "import nox\n\n@nox.session\ndef tests(session):\n    session.install('.')\n"
            "    session.run('coverage', 'run', '-m', 'pytest', *session.posargs)\n",
            "tests/test_a.py": "import unittest\n",
        },
    )
    runner = detect_runner(tmp_path)
    assert runner.name == "pytest" and "noxfile.py runs coverage run -m pytest" in runner.reason


def test_tox_running_something_else_falls_through_to_the_files(tmp_path: Path) -> None:
    write(tmp_path, {"tox.ini": "[testenv]\ncommands = python run.py\n"})
    assert not detect_runner(tmp_path).found
    write(tmp_path, {"t/test_a.py": "def test_a():\n    pass\n"})
    assert detect_runner(tmp_path).name == "pytest"


def test_unittest_only_files(tmp_path: Path) -> None:
    write(tmp_path, {"tests/test_a.py": "import unittest\nclass T(unittest.TestCase):\n    pass\n"})
    runner = detect_runner(tmp_path)
    assert isinstance(runner, UnittestRunner) and "use unittest only" in runner.reason
    # tests/ is not a package, so discover has to start there
    assert runner.argv() == ("python3", "-m", "unittest", "discover", "-v", "-s", "tests")
    assert runner.argv(["tests/test_a.py"]) == ("python3", "-m", "unittest", "-v", "tests/test_a.py")


def test_unittest_in_a_package_discovers_from_the_top(tmp_path: Path) -> None:
    write(tmp_path, {"tests/__init__.py": "", "tests/test_a.py": "import unittest\n"})
    assert detect_runner(tmp_path).argv() == ("python3", "-m", "unittest", "discover", "-v")


def test_plain_test_files_run_with_pytest(tmp_path: Path) -> None:
    write(tmp_path, {"pkg/a_test.py": "def test_x():\n    pass\n", ".venv/test_no.py": ""})
    runner = detect_runner(tmp_path)
    assert runner.name == "pytest" and "1 test files" in runner.reason


def test_nothing_found(tmp_path: Path) -> None:
    write(tmp_path, {"main.py": "print(1)\n"})
    runner = detect_runner(tmp_path)
    assert not runner.found and runner.name == "none" and "no tests found" in runner.reason
    assert runner.select(tmp_path, ["main.py"]) == [] and runner.parse("PASSED a.py::t") == {}
    with pytest.raises(ValueError, match="no tests found"):
        runner.argv()


def test_configured_pytest_command_is_read_as_pytest(tmp_path: Path) -> None:
    write(tmp_path, {"tests/test_a.py": "from pkg import core\n", "pkg/core.py": ""})
    runner = detect_runner(django_tree(tmp_path), "python -m pytest -x --no-header")
    assert isinstance(runner, CustomRunner) and runner.name == "custom"
    assert "read as pytest" in runner.reason
    assert runner.argv() == ("python", "-m", "pytest", "-x", "--no-header")
    assert runner.select(tmp_path, ["pkg/core.py"]) == ["tests/test_a.py"]
    assert runner.argv(["tests/test_a.py"])[-1] == "tests/test_a.py"
    assert runner.parse("FAILED tests/test_a.py::test_x - boom\n") == {"tests/test_a.py::test_x": "failed"}


def test_configured_django_and_sympy_commands(tmp_path: Path) -> None:
    django = detect_runner(django_tree(tmp_path / "d"), "python3 tests/runtests.py --settings=test_sqlite")
    assert django.argv(["queries.tests"])[-1] == "queries.tests"
    assert django.selector("test_count (queries.tests.QueryTests)") == "queries.tests.QueryTests.test_count"
    sympy = detect_runner(sympy_tree(tmp_path / "s"), "bin/test --verbose")
    assert sympy.argv(["sympy/core/tests/test_expr.py::test_zero"]) == (
        "bin/test",
        "--verbose",
        "sympy/core/tests/test_expr.py",
        "-k",
        "test_zero",
    )
    assert sympy.env == SympyRunner().env


def test_configured_command_that_cannot_take_selectors_runs_whole(tmp_path: Path) -> None:
    write(tmp_path, {"tests/test_a.py": "import pkg\n", "pkg/__init__.py": ""})
    make = detect_runner(tmp_path, "make check ARGS='-x y'")
    assert make.argv(["tests/test_a.py"]) == ("make", "check", "ARGS=-x y")
    assert make.select(tmp_path, ["pkg/__init__.py"]) == [] and make.parse("PASSED a.py::t") == {}
    with pytest.raises(ValueError, match="cannot select"):
        make.selector("a.py::t")
    shell = detect_runner(tmp_path, "cd tests && pytest -q")
    assert shell.argv(["x"]) == ("sh", "-c", "cd tests && pytest -q") and "shell line" in shell.reason
    discover = detect_runner(tmp_path, "python -m unittest discover -v")
    assert discover.argv(["tests/test_a.py"]) == ("python", "-m", "unittest", "discover", "-v")
    assert discover.parse("test_a (t.T.test_a) ... ok\n") == {"test_a (t.T.test_a)": "passed"}


def test_configured_tox_is_read_as_what_tox_runs(tmp_path: Path) -> None:
    write(tmp_path, {"tox.ini": "[testenv]\ncommands = pytest {posargs}\n"})
    runner = detect_runner(tmp_path, "tox -e py311")
    assert runner.argv(["tests/test_a.py"]) == ("tox", "-e", "py311")
    assert "tox runs pytest" in runner.reason
    assert runner.parse("PASSED a.py::t\n") == {"a.py::t": "passed"}


def test_select_tests_by_import_name_and_change(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "src/pkg/__init__.py": "",
            "src/pkg/core.py": "",
            "src/pkg/util.py": "",
            "tests/test_a.py": "from pkg.core import thing\n",
            "tests/test_b.py": "from pkg import core\n",
            "tests/test_c.py": "import pkg.core.sub as s\n",
            "tests/test_core.py": "",  # named after the module
            "tests/test_util.py": "import pkg.util\n",
            "tests/test_new.py": "",  # changed itself
            "tests/test_unrelated.py": "import os\nfrom pkg import cores\n",
            "tests/test_broken.py": "def (:\n",
        },
    )
    chosen = select_tests(tmp_path, ["src/pkg/core.py", "tests/test_new.py", "README.md"])
    assert chosen == [
        "tests/test_a.py",
        "tests/test_b.py",
        "tests/test_c.py",
        "tests/test_core.py",
        "tests/test_new.py",
    ]


def test_select_tests_for_a_package_init(tmp_path: Path) -> None:
    write(tmp_path, {"pkg/__init__.py": "", "t/test_x.py": "import pkg.sub\n", "t/test_y.py": "import pk\n"})
    assert select_tests(tmp_path, ["pkg/__init__.py"]) == ["t/test_x.py"]
