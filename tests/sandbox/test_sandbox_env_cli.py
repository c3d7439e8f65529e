"""`swe-lsp sandbox env | test` through the real entry point: what the sandbox makes of a project
(files only, no Docker needed), then its tests run in the built environment (Docker). The Docker
builds here are offline (`sandbox.build_network = false`: the base image's pytest is all they
need), so they take seconds and reach no index."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
from tiny_project import TINY_PROJECT, write_files

from swe_lsp.cli import main
from swe_lsp.sandbox.env_check import describe_environment, phase_fraction
from swe_lsp.sandbox.env_report import BuildFailure, EnvCheck, TestResults
from swe_lsp.settings import SandboxSettings

TINY = {**TINY_PROJECT, "swe-lsp.toml": '[sandbox]\nkind = "docker"\nbuild_network = false\n'}


write = write_files


def test_env_shows_python_dependencies_steps_runner_and_image(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tree = write(
        tmp_path,
        {
            "setup.py": "from setuptools import setup\n"
            "setup(name='p', python_requires='>=3.8', "
            "classifiers=['Programming Language :: Python :: 3.9'])\n",
            "requirements.txt": "attrs\n",
            "pytest.ini": "[pytest]\n",
            "tests/test_p.py": "def test_p():\n    pass\n",
        },
    )
    assert main(["sandbox", "env", str(tree)]) == 0
    out = capsys.readouterr().out
    assert "python:       Python 3.9 (" in out and "classifiers" in out
    assert "dependencies: setup.py, requirements.txt" in out
    assert "1. virtual environment:" in out and "pip install --use-pep517 -e ." in out and "why: " in out
    assert "test runner:  pytest" in out and "because:" in out
    assert "image:        swe-lsp-env:" in out  # cached, not built yet, or Docker unknown: all say so


def test_env_json_is_one_document_with_the_settings_applied(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tree = write(tmp_path, {"requirements.txt": "attrs\n", "test_x.py": "def test_x():\n    pass\n"})
    assert main(["sandbox", "env", str(tree), "--json", "--python", "3.13"]) == 0
    doc = json.loads(capsys.readouterr().out)  # exactly one document: loads() fails on more
    assert doc["python"]["chosen"] == "3.13" and "sandbox.python" in doc["python"]["source"]
    assert doc["sources"] == ["requirements.txt"]
    assert [s["name"] for s in doc["steps"]] == ["virtual environment", "requirements"]
    assert doc["runner"]["name"] and doc["runner"]["reason"]
    assert doc["image"]["tag"].startswith("swe-lsp-env:") and doc["image"]["base"] == "swe-lsp-base:trixie"
    assert doc["image"]["cached"] in (True, False, None)


def test_env_of_a_missing_folder_is_a_user_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sandbox", "env", str(tmp_path / "nope")]) == 2
    assert "is not a folder" in capsys.readouterr().err


def _check(tree: Path, **changes: object) -> EnvCheck:
    """A finished check of `tree` (reused environment, one test passed, one failed), as the
    Docker path makes them, for the rendering and exit-status tests that need no engine."""
    description = describe_environment(tree, SandboxSettings(), ask_docker=False)
    results = TestResults(
        ("python3", "-m", "pytest"),
        {"tests/test_calc.py::test_add[1-2]": "passed", "tests/test_calc.py::test_wrong": "failed"},
        1,
        False,
        False,
        0.5,
        True,
        "FAILED tests/test_calc.py::test_wrong - assert 2 == 3",
    )
    check = EnvCheck(description, "docker (...)", "swe-lsp-env:abc", False, 0.1, None, results)
    return dataclasses.replace(check, **changes)


def test_reports_summary_text_and_json(tmp_path: Path) -> None:
    check = _check(write(tmp_path, TINY))
    assert check.summary() == "environment reused; tests: 1 passed, 1 failed in 0.5 s"
    assert check.ok is False and check.tests is not None and check.tests.counts()["failed"] == 1
    doc = json.loads(json.dumps(check.to_json()))
    assert doc["tests"]["results"][0] == {"id": "tests/test_calc.py::test_add[1-2]", "status": "passed"}
    assert "tests/test_calc.py::test_add[1-2]  passed" in doc["text"] and "assert 2 == 3" in doc["text"]
    assert "image:        swe-lsp-env:" in doc["text"] and "Docker not asked" in doc["text"]
    assert phase_fraction("environment step 2/4: requirements") == pytest.approx(0.2)
    assert phase_fraction("running the tests: python3 -m pytest") == pytest.approx(0.8)
    assert phase_fraction("Collecting attrs") is None


def test_failed_build_exit_status_and_output(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    from swe_lsp.sandbox import env_check

    tree = write(tmp_path, TINY)
    failure = BuildFailure("requirements", "ERROR: No matching distribution", "failed at step 'requirements'")
    failed = _check(tree, image=None, built=True, build_error=failure, tests=None)
    monkeypatch.setattr(env_check, "check_environment", lambda *args, **kwargs: failed)
    assert main(["sandbox", "test", str(tree)]) == 3
    captured = capsys.readouterr()
    assert "failed at step 'requirements'" in captured.err
    assert main(["sandbox", "test", str(tree), "--json"]) == 3
    doc = json.loads(capsys.readouterr().out)
    assert doc["build"]["error"]["step"] == "requirements" and doc["tests"] is None
    tests = _check(tree).tests
    assert tests is not None
    odd = _check(tree, tests=dataclasses.replace(tests, exit_code=0))
    monkeypatch.setattr(env_check, "check_environment", lambda *args, **kwargs: odd)
    assert main(["sandbox", "test", str(tree)]) == 1  # a failed test, even with exit status 0
    assert "test_wrong" in capsys.readouterr().out


@pytest.mark.docker
def test_test_runs_each_test_in_the_built_environment(
    docker_client: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tree = write(tmp_path / "tiny", TINY)
    assert main(["sandbox", "test", str(tree), "--json"]) == 1  # one test fails
    captured = capsys.readouterr()
    doc = json.loads(captured.out)
    results = {r["id"]: r["status"] for r in doc["tests"]["results"]}
    assert results == {"tests/test_calc.py::test_add": "passed", "tests/test_calc.py::test_wrong": "failed"}
    assert doc["tests"]["counts"]["passed"] == 1 and doc["tests"]["counts"]["failed"] == 1
    assert doc["build"]["error"] is None and doc["build"]["image"].startswith("swe-lsp-env:")
    assert doc["ok"] is False and "1 passed, 1 failed" in doc["summary"]

    # One test by id, in the environment now cached: reused, and a table on stdout.
    assert main(["sandbox", "test", str(tree), "tests/test_calc.py::test_add"]) == 0
    out = capsys.readouterr().out
    assert "tests/test_calc.py::test_add" in out and "test_wrong" not in out
    assert "reused" in out and "1 passed" in out
    assert main(["sandbox", "env", str(tree)]) == 0
    assert ": cached" in capsys.readouterr().out


@pytest.mark.docker
def test_a_failed_build_prints_its_step_and_log(
    docker_client: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tree = write(
        tmp_path,
        {
            "setup.py": "raise SystemExit('swe-lsp-test: this project does not build')\n",
            "swe-lsp.toml": TINY["swe-lsp.toml"],
        },
    )
    assert main(["sandbox", "test", str(tree)]) == 3
    err = capsys.readouterr().err
    assert "failed at step 'project'" in err and "swe-lsp-test: this project does not build" in err
    assert main(["sandbox", "test", str(tree), "--json"]) == 3
    doc = json.loads(capsys.readouterr().out)
    assert doc["build"]["error"]["step"] == "project" and doc["tests"] is None and doc["ok"] is False
