"""Fixtures for the sandbox tests: a tiny buggy package, and a sandbox of each kind.

Docker tests (`@pytest.mark.docker`) need an engine: see `require_docker` in tests/conftest.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from docker_support import require_docker
from sandbox_helpers import CalcRepo, make_calc_repo, settings

from swe_lsp.sandbox.base import Sandbox

if TYPE_CHECKING:
    from swe_lsp.sandbox.docker_sandbox import DockerSandbox


@pytest.fixture
def calc_repo(tmp_path: Path) -> CalcRepo:
    """The buggy package in tmp_path/repo, with a known-good and a known-bad patch."""
    return make_calc_repo(tmp_path / "repo")


@pytest.fixture(scope="session")
def docker_client() -> Iterator[object]:
    """A client for the engine, with the base image built if it is missing (about a minute)."""
    from swe_lsp.sandbox.base_image import DEFAULT_BASE_IMAGE, base_image_present, build_base_image
    from swe_lsp.sandbox.docker_engine import connect

    require_docker()  # session fixtures are set up before the autouse check runs
    client = connect()
    if not base_image_present(client, DEFAULT_BASE_IMAGE):
        build_base_image(client, DEFAULT_BASE_IMAGE)
    yield client
    client.close()


def make_sandbox(kind: str, request: pytest.FixtureRequest, **overrides: object) -> Sandbox:
    """A sandbox of `kind`, skipping where it cannot run here."""
    from swe_lsp.sandbox.bwrap_sandbox import BwrapSandbox, bwrap_problem
    from swe_lsp.sandbox.docker_sandbox import DockerSandbox
    from swe_lsp.sandbox.local_sandbox import LocalSandbox

    if kind == "docker":
        return DockerSandbox(settings(**overrides), request.getfixturevalue("docker_client"))
    if kind == "bwrap":
        problem = bwrap_problem()
        if problem:
            pytest.skip(problem)
        return BwrapSandbox(settings(**overrides))
    return LocalSandbox(settings(**overrides))


KINDS = [pytest.param("docker", marks=pytest.mark.docker), "bwrap", "local"]
ISOLATED_KINDS = [pytest.param("docker", marks=pytest.mark.docker), "bwrap"]


@pytest.fixture(params=KINDS)
def sandbox(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    """Each kind of sandbox in turn."""
    with make_sandbox(request.param, request) as made:
        yield made


@pytest.fixture(params=ISOLATED_KINDS)
def isolated_sandbox(request: pytest.FixtureRequest) -> Iterator[Sandbox]:
    """The kinds that cut the network: docker and bwrap."""
    with make_sandbox(request.param, request) as made:
        yield made


@pytest.fixture
def new_docker(docker_client: object) -> Iterator[Callable[..., DockerSandbox]]:
    """Make Docker sandboxes (`new_docker(warm=0, memory="1g")`); all are closed at teardown."""
    from swe_lsp.sandbox.docker_sandbox import DockerSandbox

    made: list[DockerSandbox] = []

    def make(warm: int = 1, **overrides: object) -> DockerSandbox:
        made.append(DockerSandbox(settings(**overrides), docker_client, warm=warm))  # type: ignore[arg-type]
        return made[-1]

    yield make
    for sandbox in made:
        sandbox.close()
