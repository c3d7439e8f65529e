"""What the server knows about its client and workspace, resolved once (ruff_server's session).

Settings come from the same sources as the CLI's (`swe-lsp.toml` files, `SWE_LSP_*` variables),
with the editor's on top: `initializationOptions`, then what `workspace/configuration` (section
`swe-lsp`) or a pushed `workspace/didChangeConfiguration` says. Both editor sources are dicts shaped
like `swe-lsp.toml` (`{"model": {"backend": "transformers"}, "search": {"budget": 2}}`). An invalid
value leaves the last good settings in force; the caller shows the error, which names the key.

Either editor source may also carry `workspace_trusted` (`TRUST_KEY`): the editor's own verdict on
the folder (VS Code's workspace trust, Neovim's `vim.secure`), the latest one in force. Without it
the folder is trusted only under the user's `trusted_folders` (see `swe_lsp.settings`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lsprotocol import types

from swe_lsp.errors import SettingsError
from swe_lsp.settings import LoadedSettings, Settings, deep_merge, load_settings

CONFIG_SECTION = "swe-lsp"
# The editor's verdict on the workspace folder, beside the settings it sends (not a setting itself).
TRUST_KEY = "workspace_trusted"


def _take_trust(values: dict[str, Any]) -> bool | None:
    """Remove `TRUST_KEY` from `values` and return it (None when absent)."""
    if TRUST_KEY not in values:
        return None
    trusted = values.pop(TRUST_KEY)
    if not isinstance(trusted, bool):
        raise SettingsError(f"{TRUST_KEY} must be true or false, got {trusted!r}")
    return trusted


@dataclass(frozen=True)
class ClientFeatures:
    """The client capabilities the server acts on."""

    work_done_progress: bool = False
    apply_edit: bool = False
    document_changes: bool = False
    resource_operations: tuple[str, ...] = ()
    configuration: bool = False
    text_document_content: bool = False
    show_document: bool = False
    # The client asks the user for an issue's text when "Resolve issue..." comes without one (the
    # extension and the Neovim plugin say so in `experimental["swe-lsp"]["issuePrompt"]`).
    issue_prompt: bool = False

    @classmethod
    def of(cls, caps: types.ClientCapabilities) -> ClientFeatures:
        """Read them from the `initialize` request."""
        window, workspace = caps.window, caps.workspace
        edit = workspace.workspace_edit if workspace else None
        content = getattr(workspace, "text_document_content", None) if workspace else None
        return cls(
            work_done_progress=bool(window and window.work_done_progress),
            apply_edit=bool(workspace and workspace.apply_edit),
            document_changes=bool(edit and edit.document_changes),
            resource_operations=tuple(str(op.value) for op in (edit.resource_operations or ()))
            if edit
            else (),
            configuration=bool(workspace and workspace.configuration),
            text_document_content=bool(content and content.dynamic_registration),
            show_document=bool(window and window.show_document and window.show_document.support),
            issue_prompt=_experimental(caps, "issuePrompt"),
        )


def _experimental(caps: types.ClientCapabilities, name: str) -> bool:
    """Whether the client sets `experimental["swe-lsp"][name]` to true."""
    ours = caps.experimental.get(CONFIG_SECTION) if isinstance(caps.experimental, Mapping) else None
    return isinstance(ours, Mapping) and ours.get(name) is True


class Session:
    """The workspace root, the client's features, and the settings in force."""

    def __init__(self) -> None:
        self.root: Path | None = None
        self.client = ClientFeatures()
        self.client_name = "unknown"
        self._init_options: dict[str, Any] = {}
        self._client_config: dict[str, Any] = {}
        self.client_trust = False
        self.loaded = LoadedSettings(Settings())
        self._shown_ignored: set[str] = set()

    @property
    def settings(self) -> Settings:
        """The settings in force (the last good ones)."""
        return self.loaded.settings

    def initialize(self, root: Path | None, init_options: object) -> None:
        """Take the workspace and `initializationOptions`; raise `SettingsError` if they are bad
        (the settings without them, or the defaults, stay in force)."""
        self.root = root
        options = dict(init_options) if isinstance(init_options, Mapping) else {}
        trust_error: SettingsError | None = None
        try:
            self.client_trust = bool(_take_trust(options))
        except SettingsError as exc:
            trust_error = exc
        try:
            self.loaded = load_settings(root, trusted=self.client_trust)
        except SettingsError:
            self.loaded = LoadedSettings(Settings())
            raise
        if trust_error is not None:
            raise trust_error
        if init_options is None:
            return
        if not isinstance(init_options, Mapping):
            raise SettingsError(
                f"initializationOptions must be an object shaped like swe-lsp.toml, got {init_options!r}"
            )
        self._reload(options, self._client_config)

    def update_client_config(self, config: object) -> None:
        """Take the editor's `swe-lsp` configuration; raise `SettingsError` if it is bad."""
        if config is None:
            config = {}
        if not isinstance(config, Mapping):
            raise SettingsError(f"the '{CONFIG_SECTION}' configuration must be an object, got {config!r}")
        config = dict(config)
        trusted = _take_trust(config)
        self._reload(self._init_options, config, self.client_trust if trusted is None else trusted)

    def _reload(
        self, init_options: dict[str, Any], client_config: dict[str, Any], trusted: bool | None = None
    ) -> None:
        trusted = self.client_trust if trusted is None else trusted
        overrides = deep_merge(init_options, client_config)
        loaded = load_settings(self.root, overrides or None, trusted=trusted)  # raises: keep the last good
        self.loaded = loaded
        self._init_options, self._client_config = init_options, client_config
        self.client_trust = trusted

    def unshown_ignored(self) -> str | None:
        """One message for the workspace-file keys left out (the folder is not trusted) that were
        not shown yet, or None."""
        new = [m for m in self.loaded.ignored if m not in self._shown_ignored]
        self._shown_ignored.update(new)
        return "swe-lsp: " + "\n".join(new) if new else None
