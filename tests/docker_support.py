"""Whether the Docker engine can be used by a test, shared by every test folder."""

from __future__ import annotations

import os
from functools import cache

import pytest


@cache
def docker_problem() -> str | None:
    """Why no Docker engine can be used (None when one answers); asked once per test run."""
    from swe_lsp.sandbox.docker_engine import engine_problem

    return engine_problem()


def require_docker() -> None:
    """Skip the calling test when no engine answers; fail it instead under CI=true, because CI is
    where the Docker path must really be exercised."""
    problem = docker_problem()
    if problem is None:
        return
    if os.environ.get("CI") == "true":
        pytest.fail(f"CI=true and the Docker engine is unreachable: {problem}")
    pytest.skip(f"no Docker engine: {problem}")
