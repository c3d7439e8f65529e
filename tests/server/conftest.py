"""Fixtures for the server tests: a fixture workspace (the session helpers are in `lsp_client`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from calc_workspace import make_calc_workspace


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A small git repository with a bug and a TODO."""
    return make_calc_workspace(tmp_path / "ws")
