"""Patches: edit blocks from the model, applying them to texts, unified diffs, LSP edits.

The path of a candidate: `parse_edit_blocks` (model output -> `EditBlock`s) -> `apply_edit_blocks`
(-> `ApplyResult` with a SynInfer status, feedback for the model and a `Patch`) -> `dedup_key` (to
verify each distinct idea once) -> `patch_workspace_edit` (the hunks the user accepts -> a
`WorkspaceEdit`). Nothing here writes files or imports anything heavy.
"""

from swe_lsp.patch.apply import (
    ApplyResult,
    ApplyStatus,
    BlockOutcome,
    FileSource,
    FileSyntaxError,
    apply_edit_blocks,
    apply_model_output,
)
from swe_lsp.patch.blocks import EditBlock, ParsedBlocks, ParseStatus, parse_edit_blocks
from swe_lsp.patch.diff import Patch, file_diff
from swe_lsp.patch.errors import PatchApplyError, PatchParseError
from swe_lsp.patch.hunks import FileChange, FileDiff, Hunk
from swe_lsp.patch.lsp_edits import (
    PreparedEdit,
    document_uri,
    patch_workspace_edit,
    stale_files,
    text_edits,
    workspace_edit,
)
from swe_lsp.patch.normalize import dedup_key, normalized_source, patch_dedup_key
from swe_lsp.patch.tagged import parse_tagged_edits
from swe_lsp.patch.text import content_hash

__all__ = [
    "ApplyResult",
    "ApplyStatus",
    "BlockOutcome",
    "EditBlock",
    "FileChange",
    "FileDiff",
    "FileSource",
    "FileSyntaxError",
    "Hunk",
    "ParseStatus",
    "ParsedBlocks",
    "Patch",
    "PatchApplyError",
    "PatchParseError",
    "PreparedEdit",
    "apply_edit_blocks",
    "apply_model_output",
    "content_hash",
    "dedup_key",
    "document_uri",
    "file_diff",
    "normalized_source",
    "parse_edit_blocks",
    "parse_tagged_edits",
    "patch_dedup_key",
    "patch_workspace_edit",
    "stale_files",
    "text_edits",
    "workspace_edit",
]
