"""Errors in the workspace layer that a user can cause (a folder that is not there, a buffer for a
file outside the workspace, a cache folder that cannot be written)."""

from swe_lsp.errors import SweLspError


class WorkspaceError(SweLspError):
    """The workspace cannot be snapshotted or indexed as asked: the message names the path and what to
    do about it."""
