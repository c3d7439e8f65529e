"""The environment layer: the base image plus a workspace's requirements, cached by their hash.

Containers that run candidates have no network, and neither does the one that builds this layer.
It first tries with what the base already has (a pure-Python workspace needs nothing more: pytest
is in the base); only if that fails does the host's pip fetch wheels, through whatever index or
wheel folder the host's pip is configured with, and the build container installs from them with
`--no-index`. When nothing can be fetched the error names the requirements and what to do.
"""

from __future__ import annotations

import hashlib
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import TYPE_CHECKING

from swe_lsp.sandbox import docker_engine
from swe_lsp.sandbox.base_image import base_image_present
from swe_lsp.sandbox.dependencies import EnvSpec
from swe_lsp.sandbox.errors import SandboxImageError
from swe_lsp.sandbox.tree import files_archive

if TYPE_CHECKING:
    import docker

ENV_REPOSITORY = "swe-lsp-env"
VENV = "/opt/swe-env"
_WHEELS = "/tmp/swe-wheels"
_INSTALL = (
    f"python3 -m venv --system-site-packages {VENV} && "
    f"{VENV}/bin/pip install --no-index --disable-pip-version-check --find-links {_WHEELS} "
    f"-r {_WHEELS}/requirements.txt && rm -rf {_WHEELS}"
)
_ENV_CONFIG = [
    f"ENV VIRTUAL_ENV={VENV}",
    f"ENV PATH={VENV}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
]
_BUILD_TIMEOUT_S = 1800
_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def env_image(client: docker.DockerClient, base: str, spec: EnvSpec) -> str:
    """The image to run `spec`'s workspace in: `base` itself, or a cached or new env layer on it."""
    if not spec.requirements:
        return base
    base_id = client.images.get(base).id
    key = hashlib.sha256(f"{base_id}\0{spec.digest}".encode()).hexdigest()[:20]
    tag = f"{ENV_REPOSITORY}:{key}"
    with _lock(tag):  # parallel candidates of one workspace build the layer once
        if not base_image_present(client, tag):
            _build(client, base, spec, tag)
    return tag


def _lock(tag: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(tag, threading.Lock())


def _build(client: docker.DockerClient, base: str, spec: EnvSpec, tag: str) -> None:
    requirements = "\n".join(spec.requirements).encode() + b"\n"
    code, log = _install(client, base, {"requirements.txt": requirements}, commit_as=tag)
    if code == 0:
        return
    with tempfile.TemporaryDirectory(prefix="swe-lsp-wheels-") as tmp:
        code, log = _install(client, base, _download(spec, Path(tmp)), commit_as=tag)
    if code != 0:
        raise SandboxImageError(
            f"installing the workspace's requirements ({', '.join(spec.requirements)}, from "
            f"{', '.join(spec.sources)}) failed in the sandbox:\n{log[-3000:]}"
        )


def _download(spec: EnvSpec, dest: Path) -> dict[str, bytes]:
    """Wheels and sources for `spec` fetched by the host's pip, as files for the build container."""
    (dest / "requirements.txt").write_text("\n".join(spec.requirements) + "\n")
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--disable-pip-version-check",
            "--progress-bar",
            "off",
            "--dest",
            str(dest),
            "-r",
            str(dest / "requirements.txt"),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise SandboxImageError(
            f"the workspace needs {', '.join(spec.requirements)} (from {', '.join(spec.sources)}), "
            "which the sandbox image lacks, and pip could not fetch them on this machine (no package "
            "index reachable?). Make them available to pip (an index or find-links in pip.conf), or "
            f"set sandbox.image to an image that has them.\n{done.stderr[-2000:]}"
        )
    return {p.name: p.read_bytes() for p in dest.iterdir() if p.is_file()}


def _install(
    client: docker.DockerClient, base: str, files: dict[str, bytes], commit_as: str
) -> tuple[int, str]:
    """Run the offline install in a network-less container from `base`; commit it as `tag` if it worked."""
    container = client.containers.create(
        base,
        ["sh", "-c", _INSTALL],
        network_mode="none",
        labels=docker_engine.labels("env-build"),
    )
    try:
        container.put_archive("/", files_archive(files, _WHEELS.lstrip("/"), uid=0))
        container.start()
        code = int(container.wait(timeout=_BUILD_TIMEOUT_S)["StatusCode"])
        log = container.logs().decode("utf-8", "replace")
        if code == 0:
            repository, _, version = commit_as.partition(":")
            container.commit(repository=repository, tag=version, changes=_ENV_CONFIG)
        return code, log
    finally:
        docker_engine.remove_container(container)
