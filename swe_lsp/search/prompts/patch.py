"""Patch generation: the code at the kept locations in, search/replace edit blocks out.

The blocks are parsed and applied by `swe_lsp.patch` (whitespace-tolerant, re-indenting, `ast`-checked);
a failed block's feedback is sent back as the next user turn, a bounded number of times.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from swe_lsp.llm import Message, regex_not_starting
from swe_lsp.search.model import Location
from swe_lsp.search.prompts.common import SYSTEM, issue_block, regex_escape
from swe_lsp.search.turns import answer_turn, constrained

# Lines of context shown around a location, and the most lines shown per file.
CONTEXT_LINES = 3
MAX_LINES_PER_FILE = 160
# The constrained patch form's bounds: lines one SEARCH may quote, lines one REPLACE may write,
# blocks per answer. Past these a sample is cut off, marked invalid, and retried.
MAX_SEARCH_LINES = 6
MAX_REPLACE_LINES = 40
MAX_BLOCKS = 4
# What a REPLACE line may not be: a Markdown fence (source code never starts a line with three
# backquotes; a model that writes one has stopped writing code and started explaining) or a merge
# marker (the model has lost track of the block). Exactly `=======` only: longer rules of `=` are
# reStructuredText underlines.
_FORBIDDEN_PREFIXES = ("```", "<<<<<<<")
_FORBIDDEN_LINES = ("=======",)

FORMAT = """Write the fix as one or more search/replace edit blocks, each in this exact form:

### path/to/file.py
<<<<<<< SEARCH
the existing lines to change, copied exactly (indentation included)
=======
the new lines
>>>>>>> REPLACE

For example, to make `limit` inclusive:

### pkg/util.py
<<<<<<< SEARCH
    if count > limit:
        return None
=======
    if count >= limit:
        return None
>>>>>>> REPLACE

Quote enough lines in SEARCH to match one place only. Change as little as needed."""


def shown_spans(
    locations: Sequence[Location], read_lines: Callable[[str], list[str] | None]
) -> dict[str, list[tuple[int, int]]]:
    """The 1-based line spans of each file the patch prompt shows: the locations with CONTEXT_LINES
    around them, overlaps merged, at most MAX_LINES_PER_FILE lines per file; unreadable files left out.
    The prompt and its constraint both come from these, so the model may quote what it was shown."""
    spans: dict[str, list[tuple[int, int]]] = {}
    for loc in locations:
        spans.setdefault(loc.file, []).append((loc.start, loc.end))
    shown: dict[str, list[tuple[int, int]]] = {}
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
        count, kept = 0, []
        for start, end in merged:
            end = min(end, start + MAX_LINES_PER_FILE - count - 1)
            if end < start:
                break
            count += end - start + 1
            kept.append((start, end))
        shown[path] = kept
    return shown


def code_context(locations: Sequence[Location], read_lines: Callable[[str], list[str] | None]) -> str:
    """The code at `locations`, one section per file, without line numbers inside the code (models
    copy them into SEARCH text otherwise)."""
    sections = []
    for path, spans in shown_spans(locations, read_lines).items():
        lines = read_lines(path) or []
        for start, end in spans:
            body = "\n".join(lines[start - 1 : end])
            sections.append(f"### {path} (lines {start}-{end})\n```\n{body}\n```")
    return "\n\n".join(sections) or "(no code could be read at the locations)"


def patch_regex(locations: Sequence[Location], read_lines: Callable[[str], list[str] | None]) -> str | None:
    """The constrained form of a patch turn: edit blocks whose SEARCH quotes 1 to MAX_SEARCH_LINES
    consecutive lines of the code shown, exactly, and whose REPLACE is free text.

    Copying lines exactly is where small models fail most (a changed indent, an invented line); under
    this constraint every block finds its text, so the candidate fails or passes on its merits, not on
    its transcription. None when no code could be read (the prompt then says so, unconstrained)."""
    per_file = []
    for path, spans in shown_spans(locations, read_lines).items():
        lines = read_lines(path) or []
        runs: dict[str, None] = {}
        for start, end in spans:
            shown = lines[start - 1 : end]
            for i in range(len(shown)):
                if shown[i].strip():  # a SEARCH starting on a blank line matches too many places
                    runs[_run_regex(shown[i : i + MAX_SEARCH_LINES])] = None
        if runs:
            per_file.append(regex_escape(path) + r"\n<<<<<<< SEARCH\n(" + "|".join(runs) + ")")
    if not per_file:
        return None
    line = regex_not_starting(_FORBIDDEN_PREFIXES, _FORBIDDEN_LINES)
    replace_lines = "(" + line + r"\n){0," + str(MAX_REPLACE_LINES) + "}"
    block = "### (" + "|".join(per_file) + r")=======\n" + replace_lines + ">>>>>>> REPLACE"
    return constrained(block + r"(\n\n?" + block + "){0," + str(MAX_BLOCKS - 1) + "}")


def _run_regex(lines: Sequence[str]) -> str:
    """`lines[0]`, optionally followed by `lines[1]`, and so on: every prefix of the run that ends
    on a non-blank line, each line with its newline, as one nested regex (n lines cost n copies, not
    n*(n+1)/2). Trailing blank lines make a SEARCH no more precise, and a model that quotes them
    goes on to copy the code after them into REPLACE. `lines[0]` is not blank."""
    regex = ""
    for line in reversed(lines):
        line_regex = regex_escape(line) + r"\n"
        if line.strip():
            regex = line_regex + (f"({regex})?" if regex else "")
        elif regex:  # a blank line must lead on to a non-blank one
            regex = line_regex + f"({regex})"
    return regex


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
