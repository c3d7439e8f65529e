"""What every prompt shares: the system message and how the issue is quoted."""

from __future__ import annotations

from swe_lsp.llm import regex_escape

SYSTEM = (
    "You are a senior software engineer resolving an issue in a code repository. "
    "Think step by step inside <think>...</think>, then give only the final answer inside "
    "<answer>...</answer>, in exactly the format asked for."
)
# Issues pasted from trackers can be long; past this the tail is dropped (the title and the first
# traceback carry most of the signal).
MAX_ISSUE_CHARS = 6000


def issue_block(issue: str) -> str:
    """The issue text, quoted so the model can tell it from the instructions."""
    text = issue.strip()
    if len(text) > MAX_ISSUE_CHARS:
        text = text[:MAX_ISSUE_CHARS] + "\n[... issue cut ...]"
    return f"<issue>\n{text}\n</issue>"


def regex_alternatives(options: list[str]) -> str:
    """A regex group matching exactly one of `options` (escaped for both Python and xgrammar)."""
    return "(" + "|".join(regex_escape(o) for o in options) + ")"
