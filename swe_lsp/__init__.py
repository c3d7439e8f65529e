"""swe-lsp: resolve issues in the open workspace with a local model, reward-guided search and verification.

The package is split by the path of a request (see DESIGN.md): `server` -> `search` ->
(`workspace`, `llm`, `patch`, `sandbox`). Importing `swe_lsp` itself is cheap: nothing here pulls in
torch, so the LSP process stays light.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("swe-lsp")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"
