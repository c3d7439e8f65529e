"""Reaching the Docker engine, labelling what swe-lsp starts there, and sweeping leftovers.

Every container swe-lsp creates carries `swe-lsp.owner=<host>:<pid>` and `swe-lsp.job=<id>`. A
process that crashes cannot remove its containers, so the next one sweeps them at start; only
containers with our label, and only those whose owning process is gone, so that two servers (or a
server and a test run) on one machine never remove each other's work.
"""

from __future__ import annotations

import os
import socket
import time
from typing import TYPE_CHECKING

from swe_lsp.sandbox.errors import SandboxUnavailableError

if TYPE_CHECKING:
    import docker

LABEL_OWNER = "swe-lsp.owner"
LABEL_JOB = "swe-lsp.job"
LABEL_CREATED = "swe-lsp.created"
INSTALL_HINT = (
    "install and start Docker (Debian/Ubuntu: apt-get install docker.io, then start dockerd), "
    "or point DOCKER_HOST at an engine"
)


def connect(timeout_s: float = 120.0) -> docker.DockerClient:
    """A client for the engine named by the environment (DOCKER_HOST or the local socket), pinged."""
    import docker

    try:
        client = docker.from_env(timeout=int(timeout_s))
        client.ping()
    except docker.errors.DockerException as exc:
        raise SandboxUnavailableError(f"the Docker engine does not answer ({exc}); {INSTALL_HINT}") from exc
    return client


def engine_problem() -> str | None:
    """Why Docker cannot be used here, or None when the engine answers."""
    try:
        connect(timeout_s=10).close()
    except SandboxUnavailableError as exc:
        return str(exc)
    return None


def owner() -> str:
    """This process, as it is written in the owner label."""
    return f"{socket.gethostname()}:{os.getpid()}"


def labels(job_id: str | None) -> dict[str, str]:
    """The labels of a container this process creates for `job_id`."""
    return {LABEL_OWNER: owner(), LABEL_JOB: job_id or "-", LABEL_CREATED: str(int(time.time()))}


def _owner_gone(value: str) -> bool:
    """Whether the process named by an owner label has ended (only decidable on this host)."""
    host, _, pid = value.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


def sweep(client: docker.DockerClient, everything: bool = False) -> list[str]:
    """Remove swe-lsp containers whose owner process is gone (all of them with `everything`).

    Returns the names removed. Containers without our label are never looked at.
    """
    removed = []
    # ignore_removed: a container another process removes while we list is not an error.
    for container in client.containers.list(all=True, filters={"label": LABEL_OWNER}, ignore_removed=True):
        if everything or _owner_gone(container.labels.get(LABEL_OWNER, "")):
            remove_container(container)
            removed.append(container.name)
    return removed


def owned_containers(client: docker.DockerClient, job_id: str | None = None) -> list[str]:
    """Names of the containers this process owns now (of one job, if given), for tests and status."""
    wanted = [f"{LABEL_OWNER}={owner()}"] + ([f"{LABEL_JOB}={job_id}"] if job_id else [])
    return [c.name for c in client.containers.list(all=True, filters={"label": wanted}, ignore_removed=True)]


def remove_container(container: docker.models.containers.Container) -> None:
    """Force-remove `container`; one already gone, or already being removed, is fine."""
    import docker

    try:
        container.remove(force=True)
    except docker.errors.NotFound:
        pass
    except docker.errors.APIError as exc:
        if exc.status_code != 409:  # 409: the engine is already removing it (auto_remove)
            raise
