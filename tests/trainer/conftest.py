"""Fixtures for the trainer's tests: the tiny git repository and the tiny random model."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from repo_fixture import make_repo
from tiny import build_tiny_model


@pytest.fixture
def pr_list(tmp_path: Path) -> Path:
    """The `--git` list of the two-issue repository."""
    return make_repo(tmp_path / "data")


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny random Qwen2 folder with its tokenizer."""
    return build_tiny_model(tmp_path_factory.mktemp("tiny") / "qwen2")
