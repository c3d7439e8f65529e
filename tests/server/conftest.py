"""Fixtures for the server tests: a fixture workspace (the session helpers are in `lsp_client`)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from lsp_client import BUGGY


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A small git repository with a bug and a TODO."""
    root = tmp_path / "ws"
    root.mkdir()
    (root / "calc.py").write_text(BUGGY)
    (root / "test_calc.py").write_text(
        "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"
    )
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run([*git, "-C", str(root), "add", "."], check=True)
    subprocess.run([*git, "-C", str(root), "commit", "-qm", "init"], check=True)
    return root


