"""Prompts and output formats of every Dev-Search step: the single source of the text the model
sees and of how its answers are read. The trainer imports these unchanged, so the model is trained
on exactly the runtime it is served in. Everything here is pure: text in, text or values out.
"""

from swe_lsp.search.prompts import synifer
from swe_lsp.search.prompts.common import SYSTEM, issue_block
from swe_lsp.search.prompts.judge import orm_messages, prm_messages
from swe_lsp.search.prompts.localize import (
    LocalizeAnswer,
    ToolCall,
    localize_messages,
    localize_regex,
    parse_localize_answer,
    tool_results_message,
)
from swe_lsp.search.prompts.patch import (
    MAX_STEP_CHARS,
    code_context,
    patch_messages,
    patch_regex,
    render_locations,
    retry_message,
)
from swe_lsp.search.prompts.understand import (
    parse_file_answer,
    understand_messages,
    understand_regex,
)
from swe_lsp.search.prompts.verify import (
    REPRODUCED,
    RESOLVED,
    parse_script,
    refine_message,
    repro_messages,
    repro_retry_message,
)

__all__ = [
    "MAX_STEP_CHARS",
    "REPRODUCED",
    "RESOLVED",
    "SYSTEM",
    "LocalizeAnswer",
    "ToolCall",
    "code_context",
    "issue_block",
    "localize_messages",
    "localize_regex",
    "orm_messages",
    "parse_file_answer",
    "parse_localize_answer",
    "parse_script",
    "patch_messages",
    "patch_regex",
    "prm_messages",
    "refine_message",
    "render_locations",
    "repro_messages",
    "repro_retry_message",
    "retry_message",
    "synifer",
    "tool_results_message",
    "understand_messages",
    "understand_regex",
]
