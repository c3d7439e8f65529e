"""`swe-lsp sandbox status | detect | sweep` through the real entry point."""

from __future__ import annotations

from pathlib import Path

import pytest
from sandbox_helpers import CalcRepo

from swe_lsp.cli import main


def test_detect_shows_command_and_reason(calc_repo: CalcRepo, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sandbox", "detect", str(calc_repo.path)]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0].startswith("python3 -m pytest")
    assert "because: pytest: 2 test files" in out


def test_detect_without_tests_fails(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sandbox", "detect", str(tmp_path)]) == 1
    assert "(none)" in capsys.readouterr().out


def test_status_reports_each_kind(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sandbox", "status"]) == 0
    out = capsys.readouterr().out
    assert "docker engine:" in out and "bwrap:" in out


@pytest.mark.docker
def test_status_and_sweep_with_an_engine(docker_client, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sandbox", "status"]) == 0
    assert "base image:     swe-lsp-base:bookworm: present" in capsys.readouterr().out
    assert main(["sandbox", "sweep"]) == 0
    assert capsys.readouterr().out.startswith("removed ")
