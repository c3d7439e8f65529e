"""The sandbox's errors a user can cause or fix: a missing engine, a missing image, a bad setting.

Each message says what to do (install a package, build the base image, change a setting), because
it is shown as it is in the editor or on the command line.
"""

from __future__ import annotations

from swe_lsp.errors import SweLspError


class SandboxUnavailableError(SweLspError):
    """No sandbox of the asked kind can run here: the message names what to install or start."""


class SandboxImageError(SweLspError):
    """The base image or a workspace's environment image is missing or could not be built."""


class SandboxError(SweLspError):
    """A sandbox failed while running (engine error, a container that died, a broken session)."""
