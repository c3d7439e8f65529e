"""Repository understanding: private snapshots, the symbol index, retrieval and the tool calls.

The search stage uses it as:

    with make_snapshot(workspace, buffers, cache_dir) as snap:
        index = RepoIndex.build_or_load(snap.root, cache_dir, key=str(snap.workspace))
        hits = retrieve(index, issue_text, top=10)
        tree = compressed_tree(index, budget_chars=4000)
        tools = Tools(index)
        tools.call("search_method_in_file", {"method_name": "x", "file_path": "a.py"})
"""

from swe_lsp.workspace.errors import WorkspaceError
from swe_lsp.workspace.index import RepoIndex
from swe_lsp.workspace.model import FileIndex, Localization, RetrievalHit, Symbol, SymbolHit
from swe_lsp.workspace.pysymbols import skeleton
from swe_lsp.workspace.retrieval import retrieve
from swe_lsp.workspace.snapshot import Snapshot, make_snapshot
from swe_lsp.workspace.tools import ToolResult, Tools, ToolSpec
from swe_lsp.workspace.tree import compressed_tree

__all__ = [
    "FileIndex",
    "Localization",
    "RepoIndex",
    "RetrievalHit",
    "Snapshot",
    "Symbol",
    "SymbolHit",
    "ToolResult",
    "ToolSpec",
    "Tools",
    "WorkspaceError",
    "compressed_tree",
    "make_snapshot",
    "retrieve",
    "skeleton",
]
