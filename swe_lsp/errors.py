"""Errors a user can cause, each with a message that says what to do.

They are raised deep inside and caught at the edge (the CLI, an LSP handler), where the message is
shown as it is. Anything else escaping is a bug, and is shown with its traceback.
"""


class SweLspError(Exception):
    """Base of every error whose message is meant for the user."""


class SettingsError(SweLspError):
    """A settings file, variable or editor option is invalid: the message names the key."""


class ModelNotFoundError(SweLspError):
    """A model name has no manifest, or a manifest names a file or package that is not there."""


class BackendUnavailableError(SweLspError):
    """A backend cannot be used on this machine (not installed, no GPU for it, server down)."""


class BackendError(SweLspError):
    """A backend failed while serving a request (server error, malformed response, timeout)."""
