"""Detecting the test command and choosing the tests that exercise a change."""

from __future__ import annotations

from pathlib import Path

from swe_lsp.sandbox.which_tests import PYTEST, UNITTEST, detect_test_command, select_tests


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_configured_command_wins(tmp_path: Path) -> None:
    write(tmp_path, {"pytest.ini": "[pytest]\n"})
    command = detect_test_command(tmp_path, "make check ARGS='-x y'")
    assert command.argv == ("make", "check", "ARGS=-x y")
    assert "settings" in command.reason


def test_pytest_config_in_pyproject(tmp_path: Path) -> None:
    write(tmp_path, {"pyproject.toml": "[tool.pytest.ini_options]\naddopts = '-q'\n"})
    command = detect_test_command(tmp_path)
    assert command.argv == PYTEST and "pyproject.toml" in command.reason


def test_pytest_config_in_setup_cfg(tmp_path: Path) -> None:
    write(tmp_path, {"setup.cfg": "[tool:pytest]\ntestpaths = t\n"})
    assert detect_test_command(tmp_path).reason == "pytest: [tool:pytest] in setup.cfg"


def test_tox_running_pytest_means_pytest(tmp_path: Path) -> None:
    write(tmp_path, {"tox.ini": "[tox]\nenvlist = py3\n[testenv]\ncommands = pytest {posargs}\n"})
    assert detect_test_command(tmp_path).argv == PYTEST


def test_tox_otherwise(tmp_path: Path) -> None:
    write(tmp_path, {"tox.ini": "[tox]\nenvlist = py3\n[testenv]\ncommands = python run.py\n"})
    assert detect_test_command(tmp_path).argv == ("tox", "-q")


def test_unittest_only_files(tmp_path: Path) -> None:
    write(tmp_path, {"tests/test_a.py": "import unittest\nclass T(unittest.TestCase):\n    pass\n"})
    command = detect_test_command(tmp_path)
    assert command.argv == UNITTEST and "unittest" in command.reason


def test_plain_test_files_run_with_pytest(tmp_path: Path) -> None:
    write(tmp_path, {"pkg/a_test.py": "def test_x():\n    pass\n", ".venv/test_no.py": ""})
    command = detect_test_command(tmp_path)
    assert command.argv == PYTEST and "1 test files" in command.reason


def test_nothing_found(tmp_path: Path) -> None:
    write(tmp_path, {"main.py": "print(1)\n"})
    command = detect_test_command(tmp_path)
    assert not command.found and "no tests found" in command.reason


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
