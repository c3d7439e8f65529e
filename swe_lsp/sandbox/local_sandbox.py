"""The local "sandbox": a plain process on a copy of the tree. No isolation at all.

Only ever used when the user sets `sandbox.kind = "local"`; `auto` never picks it, because a
candidate patch is code written by a model and runs with the user's rights here.
"""

from __future__ import annotations

import logging
from pathlib import Path

from swe_lsp.sandbox.base import Sandbox, SandboxSession
from swe_lsp.sandbox.process import ProcessSession
from swe_lsp.settings import SandboxSettings

log = logging.getLogger(__name__)


def _no_wrap(argv: list[str], workdir: Path) -> list[str]:
    return argv


class LocalSandbox(Sandbox):
    """Runs commands directly on a temporary copy of the tree, with the user's rights and network."""

    kind = "local"

    def __init__(self, settings: SandboxSettings) -> None:
        super().__init__(settings)
        log.warning(
            "sandbox.kind = local: candidate patches run unisolated, with your rights and network; "
            "install Docker or bubblewrap to isolate them"
        )

    def describe(self) -> str:
        """The kind, with its warning."""
        return "local (NOT isolated: runs with your rights and network)"

    def session(self, tree: Path, job_id: str | None = None) -> SandboxSession:
        """Copy `tree` to a private temporary folder."""
        return ProcessSession(tree, self.settings, _no_wrap)
