"""Fixtures for the search tests: the example workspace copied where a test may touch it."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from scripted import EXAMPLE


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A copy of examples/statsmini (not a git repository)."""
    dest = tmp_path / "statsmini"
    shutil.copytree(EXAMPLE, dest, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    return dest
