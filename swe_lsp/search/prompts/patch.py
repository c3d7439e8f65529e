"""Patch generation: the code at the kept locations in, search/replace edit blocks out.

The blocks are parsed and applied by `swe_lsp.patch` (whitespace-tolerant, re-indenting, `ast`-checked);
a failed block's feedback is sent back as the next user turn, a bounded number of times.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from swe_lsp.llm import Message, regex_not_starting
from swe_lsp.llm.limits import Limits
from swe_lsp.patch.text import is_python_path
from swe_lsp.search.model import Location
from swe_lsp.search.prompts.common import SYSTEM, issue_block, regex_escape
from swe_lsp.search.turns import answer_turn, constrained

# Lines of context shown around a location (a model needs to see where a block ends), and the
# lines shown per file where no model's limits apply (the reproduction prompt, the PRM's view of a
# location set, which is clipped to MAX_STEP_CHARS anyway).
CONTEXT_LINES = 3
DEFAULT_SHOWN_LINES = 160
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


def import_span(lines: Sequence[str]) -> tuple[int, int] | None:
    """The 1-based span of a Python file's import block: its top-level imports before the first
    definition (None when the file has none or does not parse), so a fix can add an import."""
    try:
        tree = ast.parse("\n".join(lines))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None
    imports = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            break
        if isinstance(node, ast.Import | ast.ImportFrom):
            imports.append((node.lineno, node.end_lineno or node.lineno))
    return (imports[0][0], imports[-1][1]) if imports else None


def shown_spans(
    locations: Sequence[Location],
    read_lines: Callable[[str], list[str] | None],
    shown_lines: int = DEFAULT_SHOWN_LINES,
    import_header: bool = False,
) -> dict[str, list[tuple[int, int]]]:
    """The 1-based line spans of each file the patch prompt shows: the locations with CONTEXT_LINES
    around them (and a Python file's import block with `import_header`), overlaps merged, at most
    `shown_lines` lines per file; unreadable files left out. The prompt and its constraint both
    come from these, so the model may quote what it was shown."""
    spans: dict[str, list[tuple[int, int]]] = {}
    for loc in locations:
        spans.setdefault(loc.file, []).append((loc.start, loc.end))
    shown: dict[str, list[tuple[int, int]]] = {}
    for path, ranges in spans.items():
        lines = read_lines(path)
        if lines is None:
            continue
        header = import_span(lines) if import_header and is_python_path(path) else None
        merged: list[list[int]] = []
        widened = [(max(1, a - CONTEXT_LINES), min(len(lines), b + CONTEXT_LINES)) for a, b in ranges]
        for start, end in sorted([*([header] if header else []), *widened]):
            if merged and start <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], end)
            else:
                merged.append([start, end])
        count, kept = 0, []
        for start, end in merged:
            end = min(end, start + shown_lines - count - 1)
            if end < start:
                break
            count += end - start + 1
            kept.append((start, end))
        shown[path] = kept
    return shown


def code_context(
    locations: Sequence[Location],
    read_lines: Callable[[str], list[str] | None],
    shown_lines: int = DEFAULT_SHOWN_LINES,
    import_header: bool = False,
) -> str:
    """The code at `locations`, one section per file, without line numbers inside the code (models
    copy them into SEARCH text otherwise)."""
    sections = []
    for path, spans in shown_spans(locations, read_lines, shown_lines, import_header).items():
        lines = read_lines(path) or []
        for start, end in spans:
            body = "\n".join(lines[start - 1 : end])
            sections.append(f"### {path} (lines {start}-{end})\n```\n{body}\n```")
    return "\n\n".join(sections) or "(no code could be read at the locations)"


@dataclass(frozen=True)
class PatchForm:
    """What the patch constraint allows (from the model's limits): SEARCH runs of at most
    `search_lines` consecutive shown lines (None: any shown lines, any number), REPLACE of at most
    `replace_lines` lines (None: any), `max_blocks` blocks, and whether a block may create a file."""

    search_lines: int | None
    replace_lines: int | None
    max_blocks: int
    new_files: bool
    shown_lines: int
    import_header: bool

    @staticmethod
    def from_limits(limits: Limits, shown_lines: int | None = None) -> PatchForm:
        """A model's form; `shown_lines` below the limit when the prompt must shrink to fit."""
        return PatchForm(
            limits.search_lines,
            limits.replace_lines,
            limits.max_blocks,
            limits.new_files,
            shown_lines or limits.shown_lines,
            limits.import_header,
        )


def patch_regex(
    locations: Sequence[Location], read_lines: Callable[[str], list[str] | None], form: PatchForm
) -> str | None:
    """The constrained form of a patch turn: edit blocks whose SEARCH quotes the code shown, exactly,
    and whose REPLACE is free text.

    Copying lines exactly is where models fail most (a changed indent, an invented line); under
    this constraint every block finds its text, so the candidate fails or passes on its merits, not on
    its transcription. With `form.search_lines` a number, SEARCH is a run of at most that many
    consecutive shown lines (the tiny model's grammar: it grows with the number); with None, any
    sequence of shown lines, starting and ending on a non-blank one (that they are consecutive is
    checked when the block is applied, and the model is told if not). None when no code could be
    read (the prompt then says so, unconstrained)."""
    per_file = []
    for path, spans in shown_spans(locations, read_lines, form.shown_lines, form.import_header).items():
        lines = read_lines(path) or []
        shown = [line for start, end in spans for line in lines[start - 1 : end]]
        if form.search_lines is None:
            search = _lines_regex(shown)
        else:
            runs: dict[str, None] = {}
            for start, end in spans:
                part = lines[start - 1 : end]
                for i in range(len(part)):
                    if part[i].strip():  # a SEARCH starting on a blank line matches too many places
                        runs[_run_regex(part[i : i + form.search_lines])] = None
            search = "(" + "|".join(runs) + ")" if runs else None
        if search:
            per_file.append(regex_escape(path) + r"\n<<<<<<< SEARCH\n" + search)
    if not per_file:
        return None
    if form.new_files:  # a new file: any relative path, an empty SEARCH
        per_file.append(_NEW_PATH + r"\n<<<<<<< SEARCH\n")
    line = regex_not_starting(_FORBIDDEN_PREFIXES, _FORBIDDEN_LINES)
    bound = "*" if form.replace_lines is None else "{0," + str(form.replace_lines) + "}"
    replace_lines = "(" + line + r"\n)" + bound
    block = "### (" + "|".join(per_file) + r")=======\n" + replace_lines + ">>>>>>> REPLACE"
    return constrained(block + r"(\n\n?" + block + "){0," + str(form.max_blocks - 1) + "}")


# A new file's path: relative, no `..` segment, no spaces (apply checks it is not an existing file).
_NEW_PATH = r"[A-Za-z0-9_][A-Za-z0-9_.\-]*(/[A-Za-z0-9_][A-Za-z0-9_.\-]*)*"


def _lines_regex(shown: Sequence[str]) -> str | None:
    """Any sequence of `shown`'s lines that starts and ends on a non-blank one (each line with its
    newline); its size is linear in the lines shown."""
    solid = list(dict.fromkeys(regex_escape(x) + r"\n" for x in shown if x.strip()))
    if not solid:
        return None
    every = list(dict.fromkeys(regex_escape(x) + r"\n" for x in shown))
    one, anyline = "(" + "|".join(solid) + ")", "(" + "|".join(every) + ")"
    return f"({one}({anyline}*{one})?)"


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


def patch_messages(
    issue: str, locations: Sequence[Location], context: str, gathered: str = ""
) -> tuple[Message, ...]:
    """The prompt for a patch: the issue, where the fault was localized, what the localization's
    tool calls found (when given), the code there."""
    where = "\n".join(f"- {loc.label()} (lines {loc.start}-{loc.end})" for loc in locations)
    found = f"What was found while localizing:\n{gathered}\n\n" if gathered else ""
    user = (
        f"{issue_block(issue)}\n\nThe fault was localized to:\n{where}\n\n{found}Code:\n{context}\n\n{FORMAT}"
    )
    return (Message("system", SYSTEM), Message("user", user))


def retry_message(messages: Sequence[Message], answer: str, feedback: str) -> tuple[Message, ...]:
    """The conversation after a patch that did not apply: its answer and what went wrong."""
    again = "Write all the edits again, corrected, in the same form."
    reply = f"The edits could not be applied:\n{feedback}\n\n{again}"
    return (*messages, Message("assistant", answer_turn(answer)), Message("user", reply))


# How much of a stage's output the PRM is shown (labels and the code they point at).
MAX_STEP_CHARS = 6000


def render_locations(locations: Sequence[Location], read_lines: Callable[[str], list[str] | None]) -> str:
    """A location set as the PRM sees it: the labels, then the code there. The server and the
    trainer (which labels PRM data) both render with this, so the PRM trains on what it scores."""
    labels = "\n".join(loc.label() for loc in locations)
    return f"{labels}\n\n{code_context(locations, read_lines)}"[:MAX_STEP_CHARS]
