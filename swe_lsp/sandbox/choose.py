"""Picking the sandbox kind from the settings, and saying why when none can run.

`auto` tries Docker, then bubblewrap, and stops there: it never falls back to running candidates
unisolated, because that would silently run model-written code with the user's rights. The error
instead says what to install, or how to opt in to `local`.
"""

from __future__ import annotations

import logging

from swe_lsp.sandbox.base import Sandbox
from swe_lsp.sandbox.errors import SandboxImageError, SandboxUnavailableError
from swe_lsp.settings import SandboxSettings

log = logging.getLogger(__name__)


def open_sandbox(settings: SandboxSettings) -> Sandbox:
    """The sandbox `settings.kind` names (auto: docker, then bwrap), ready to open sessions."""
    from swe_lsp.sandbox.bwrap_sandbox import BwrapSandbox, bwrap_problem
    from swe_lsp.sandbox.docker_engine import engine_problem
    from swe_lsp.sandbox.docker_sandbox import DockerSandbox
    from swe_lsp.sandbox.local_sandbox import LocalSandbox

    if settings.kind == "docker":
        return DockerSandbox(settings)
    if settings.kind == "bwrap":
        return BwrapSandbox(settings)
    if settings.kind == "local":
        return LocalSandbox(settings)
    docker_problem = engine_problem()
    bwrap = bwrap_problem()
    if docker_problem is None:
        try:
            return DockerSandbox(settings)
        except SandboxImageError as exc:  # the engine answers but the base image is not built yet
            if bwrap is not None:
                raise
            log.warning("%s; using bwrap meanwhile", exc)
            return BwrapSandbox(settings)
    if bwrap is None:
        return BwrapSandbox(settings)
    raise SandboxUnavailableError(
        "no sandbox to verify patches in. Docker: "
        f'{docker_problem}. Bubblewrap: {bwrap}. Install one of them, or set sandbox.kind = "local" '
        "to run candidates unisolated (not recommended)."
    )
