"""The one list of folders that are never part of a workspace's code, for every reader of a tree:
the index (`workspace.files`), the snapshot copied into a sandbox (`sandbox.tree`) and the test
selection (`sandbox.runners`).

They are VCS metadata, caches and virtual environments: large, owned by the host (a host `.venv` is
useless in a container), never source, and never what a test needs. One list, so that what the
model was shown and what the sandbox runs are the same files.
"""

from __future__ import annotations

IGNORED_DIRS = frozenset(
    {
        ".git", ".hg", ".svn", "__pycache__", "node_modules", ".venv", "venv", ".tox", ".nox",
        ".mypy_cache", ".pytest_cache", ".ruff_cache", ".hypothesis", ".eggs", ".ipynb_checkpoints",
    }
)  # fmt: skip
