"""`swe-lsp resolve`: flags become settings overrides; user errors are one line and exit 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from swe_lsp.cli import build_parser, main
from swe_lsp.cli.resolve_cmd import _overrides


def test_flags_become_settings_overrides(tmp_path: Path) -> None:
    args = build_parser().parse_args(
        [
            "resolve",
            "--workspace",
            str(tmp_path),
            "--issue",
            "-",
            "--budget",
            "8",
            "--beam",
            "3",
            "--strategy",
            "vote",
            "--sandbox",
            "bwrap",
            "--backend",
            "transformers",
            "--rounds",
            "2",
        ]
    )
    assert _overrides(args) == {
        "model": {"backend": "transformers"},
        "search": {"budget": 8, "beam": 3, "strategy": "vote", "max_localization_rounds": 2},
        "sandbox": {"kind": "bwrap"},
    }


def test_user_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["resolve", "--workspace", str(tmp_path / "nope"), "--issue", "x"]) == 2
    assert "no such folder" in capsys.readouterr().err
    (tmp_path / "empty.md").write_text("  \n")
    assert main(["resolve", "--workspace", str(tmp_path), "--issue", str(tmp_path / "empty.md")]) == 2
    assert "is empty" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        build_parser().parse_args(["resolve", "--issue", "x", "--budget", "0"])
