"""Errors about diffs that a user (or a dataset) can cause: a malformed diff, one that does not apply.

Model output is never an error here: edit blocks that do not parse or apply come back as a status
with feedback for the model. These are for diffs handed to us from outside, such as a gold patch or
a diff the user asks to apply after editing the file.
"""

from swe_lsp.errors import SweLspError


class PatchParseError(SweLspError):
    """Text given as a unified diff is not one; the message says where it breaks."""


class PatchApplyError(SweLspError):
    """A unified diff does not fit the files it is applied to; the message names file and hunk."""
