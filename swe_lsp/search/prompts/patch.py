"""Patch generation: the code at the kept locations in, search/replace edit blocks out.

The blocks are parsed and applied by `swe_lsp.patch` (whitespace-tolerant, re-indenting, `ast`-checked);
a failed block's feedback is sent back as the next user turn, a bounded number of times.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from swe_lsp.llm import Message
from swe_lsp.search.model import Location
from swe_lsp.search.prompts.common import SYSTEM, issue_block
from swe_lsp.search.turns import answer_turn

# Lines of context shown around a location, and the most lines shown per file.
CONTEXT_LINES = 3
MAX_LINES_PER_FILE = 160

FORMAT = """Write the fix as one or more search/replace edit blocks, each in this exact form:

### path/to/file.py
<<<<<<< SEARCH
the existing lines to change, copied exactly (indentation included)
=======
the new lines
>>>>>>> REPLACE

Quote enough lines in SEARCH to match one place only. Change as little as needed."""


def code_context(locations: Sequence[Location], read_lines: Callable[[str], list[str] | None]) -> str:
    """The code at `locations`, one section per file, overlapping spans merged, without line numbers
    inside the code (models copy them into SEARCH text otherwise)."""
    spans: dict[str, list[tuple[int, int]]] = {}
    for loc in locations:
        spans.setdefault(loc.file, []).append((loc.start, loc.end))
    sections = []
    for path, ranges in spans.items():
        lines = read_lines(path)
        if lines is None:
            continue
        merged: list[list[int]] = []
        for start, end in sorted(ranges):
            start, end = max(1, start - CONTEXT_LINES), min(len(lines), end + CONTEXT_LINES)
            if merged and start <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        shown = 0
        for start, end in merged:
            end = min(end, start + MAX_LINES_PER_FILE - shown - 1)
            if end < start:
                break
            shown += end - start + 1
            body = "\n".join(lines[start - 1 : end])
            sections.append(f"### {path} (lines {start}-{end})\n```\n{body}\n```")
    return "\n\n".join(sections) or "(no code could be read at the locations)"


def patch_messages(issue: str, locations: Sequence[Location], context: str) -> tuple[Message, ...]:
    """The prompt for a patch: the issue, where the fault was localized, the code there."""
    where = "\n".join(f"- {loc.label()} (lines {loc.start}-{loc.end})" for loc in locations)
    user = f"{issue_block(issue)}\n\nThe fault was localized to:\n{where}\n\nCode:\n{context}\n\n{FORMAT}"
    return (Message("system", SYSTEM), Message("user", user))


def retry_message(messages: Sequence[Message], answer: str, feedback: str) -> tuple[Message, ...]:
    """The conversation after a patch that did not apply: its answer and what went wrong."""
    reply = f"The edits could not be applied:\n{feedback}\n\nWrite all the edit blocks again, corrected."
    return (*messages, Message("assistant", answer_turn(answer)), Message("user", reply))


# How much of a stage's output the PRM is shown (labels and the code they point at).
MAX_STEP_CHARS = 6000


def render_locations(locations: Sequence[Location], read_lines: Callable[[str], list[str] | None]) -> str:
    """A location set as the PRM sees it: the labels, then the code there. The server and the
    trainer (which labels PRM data) both render with this, so the PRM trains on what it scores."""
    labels = "\n".join(loc.label() for loc in locations)
    return f"{labels}\n\n{code_context(locations, read_lines)}"[:MAX_STEP_CHARS]
