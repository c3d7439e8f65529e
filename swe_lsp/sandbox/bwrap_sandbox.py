"""The bubblewrap sandbox: no daemon, no network, the host read-only, the tree in a private copy.

For machines without a Docker engine. It isolates less than a container (the host's files are
readable, and there are no memory or CPU limits), but a candidate cannot reach the network, write
outside its copy, or leave a process behind: the PID namespace dies with its first process.
"""

from __future__ import annotations

import shutil
import subprocess
from functools import cache
from pathlib import Path

from swe_lsp.sandbox.base import Sandbox, SandboxSession
from swe_lsp.sandbox.errors import SandboxUnavailableError
from swe_lsp.sandbox.process import ProcessSession
from swe_lsp.settings import SandboxSettings

INSTALL_HINT = "install bubblewrap (Debian: apt-get install bubblewrap; Fedora: dnf install bubblewrap)"

_ISOLATION = (
    "bwrap",
    "--ro-bind",
    "/",
    "/",
    "--dev",
    "/dev",
    "--proc",
    "/proc",
    "--unshare-all",
    "--die-with-parent",
)


def bwrap_argv(argv: list[str], workdir: Path) -> list[str]:
    """`argv` wrapped to run in a fresh namespace of every kind, with only the copy writable."""
    private = str(workdir.parent)  # the session's folder: the tree copy and its HOME
    return [
        *_ISOLATION,
        "--tmpfs",
        "/tmp",
        "--bind",
        private,
        private,
        "--chdir",
        str(workdir),
        "--new-session",
        "--",
        *argv,
    ]


@cache
def bwrap_problem() -> str | None:
    """Why bwrap cannot be used here (not installed, or namespaces refused), or None if it works.

    Cached: the answer does not change while the process lives, and probing costs a fork.
    """
    if shutil.which("bwrap") is None:
        return f"bwrap is not installed: {INSTALL_HINT}"
    try:
        done = subprocess.run([*_ISOLATION, "--", "true"], capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"bwrap does not run here: {exc}"
    if done.returncode != 0:
        reason = done.stderr.decode(errors="replace").strip() or f"exit status {done.returncode}"
        return f"bwrap cannot create namespaces here ({reason}); enable unprivileged user namespaces"
    return None


class BwrapSandbox(Sandbox):
    """Commands under `bwrap --unshare-all` on a private copy of the tree."""

    kind = "bwrap"

    def __init__(self, settings: SandboxSettings) -> None:
        problem = bwrap_problem()
        if problem:
            raise SandboxUnavailableError(problem)
        super().__init__(settings)

    def describe(self) -> str:
        """The kind, and its limits."""
        return "bwrap (no network, host read-only; no memory or CPU limits)"

    def session(self, tree: Path, job_id: str | None = None) -> SandboxSession:
        """Copy `tree` to a private folder; each run is a fresh `bwrap`."""
        return ProcessSession(tree, self.settings, bwrap_argv)
