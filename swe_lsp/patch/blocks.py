"""Parse search/replace edit blocks out of free model output.

The format is the one SWE-SynInfer and Agentless train and prompt for::

    ### path/to/file.py
    <<<<<<< SEARCH
    old lines
    =======
    new lines
    >>>>>>> REPLACE

Models wrap blocks in ``` fences, write the path as `# path`, `path`, `File: path` or in backticks,
and omit it for a second block in the same file; all of that is accepted. Parsing never raises: any
text gives a (possibly empty) tuple of blocks, a status and the problems found, because the text
comes from a sampler and a crash here would cost the whole rollout.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

_SEARCH = re.compile(r"^\s*<{5,}\s*SEARCH\s*$")
_DIVIDER = re.compile(r"^\s*={5,}\s*$")
# The divider exactly as the format writes it. A SEARCH may quote a line that only looks like one
# (a reStructuredText underline in a docstring, `    ========` in every SymPy docstring): such a
# line is code when the exact divider follows it within the block.
_EXACT_DIVIDER = re.compile(r"^=======\s*$")
_REPLACE = re.compile(r"^\s*>{5,}\s*REPLACE\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_PATH_PREFIX = re.compile(r"^(?:#+|\*+|//+|-+)?\s*(?:(?:file|path|filename)\s*:\s*)?", re.IGNORECASE)
_PATH = re.compile(r"^[\w.\-+@/\\]+$")
_BACKTICKED = re.compile(r"`([^`\s]+)`")


class ParseStatus(StrEnum):
    """How well model output parsed: every block, some of them, or none."""

    OK = "ok"
    PARTIAL = "partial"
    UNPARSED = "unparsed"


@dataclass(frozen=True)
class EditBlock:
    """One search/replace edit: replace the lines `search` in file `path` by `replace`.

    `search` and `replace` are whole lines, each ending in `\\n` (empty text for no lines), so that
    an empty `replace` deletes and an empty `search` means "the file is new".
    """

    path: str
    search: str
    replace: str


@dataclass(frozen=True)
class ParsedBlocks:
    """The blocks found in model output, in order, and what was wrong with the rest of it.

    `problems` are sentences meant for the model (they are fed back as feedback).
    """

    blocks: tuple[EditBlock, ...]
    status: ParseStatus
    problems: tuple[str, ...] = ()


def _looks_like_path(token: str) -> bool:
    if not token or not _PATH.match(token) or token.strip(".-/") == "":
        return False
    last = token.replace("\\", "/").rsplit("/", 1)[-1]
    return "/" in token or ("." in last.strip(".")) or last in {"Makefile", "Dockerfile"}


def path_from_line(line: str) -> str | None:
    """The file path a header line names (`### a/b.py`, `# a/b.py`, `File: a/b.py`, `` `a/b.py`: ``).

    Returns None when the line is prose or code rather than a path.
    """
    text = line.strip()
    text = _PATH_PREFIX.sub("", text, count=1).strip().strip("*").strip()
    text = text.rstrip(":").strip().strip("`'\"").strip()
    if _looks_like_path(text):
        return text.replace("\\", "/").removeprefix("./")
    tokens = [tok for tok in _BACKTICKED.findall(line) if _looks_like_path(tok.rstrip(":"))]
    if tokens:
        return tokens[-1].rstrip(":").replace("\\", "/").removeprefix("./")
    return None


def _join(lines: list[str]) -> str:
    return "".join(line + "\n" for line in lines)


@dataclass
class _Open:
    """A block being read: where it started, its path, and its lines so far."""

    number: int
    path: str | None
    search: list[str]
    replace: list[str] | None = None


def _exact_divider_follows(lines: list[str], at: int) -> bool:
    """Whether an exact `=======` comes after line `at` before the block's end (or the next block)."""
    for line in lines[at + 1 :]:
        if _EXACT_DIVIDER.match(line):
            return True
        if _REPLACE.match(line) or _SEARCH.match(line):
            return False
    return False


def parse_edit_blocks(text: str) -> ParsedBlocks:
    """Find every search/replace block in `text`; never raises.

    A block without a path line inherits the previous block's path. A block that is not closed, or
    has no path at all, is left out and named in `problems`.
    """
    lines = [line.removesuffix("\r") for line in text.split("\n")]
    blocks: list[EditBlock] = []
    problems: list[str] = []
    current_path: str | None = None
    header: str | None = None  # the last non-blank, non-fence line outside a block
    block: _Open | None = None
    number = 0

    for at, line in enumerate(lines):
        if _SEARCH.match(line):
            if block is not None:
                problems.append(f"Edit {block.number} is not closed with `>>>>>>> REPLACE`.")
            number += 1
            named = path_from_line(header) if header is not None else None
            current_path = named or current_path
            block = _Open(number, current_path, [])
            header = None
        elif block is None:
            if line.strip() and not _FENCE.match(line):
                header = line
        elif block.replace is None:
            if _DIVIDER.match(line) and (_EXACT_DIVIDER.match(line) or not _exact_divider_follows(lines, at)):
                block.replace = []
            else:
                block.search.append(line)
        elif _REPLACE.match(line):
            if block.path is None:
                problems.append(
                    f"Edit {block.number} has no file path: put `### path/to/file` on the line "
                    "before `<<<<<<< SEARCH`."
                )
            else:
                blocks.append(EditBlock(block.path, _join(block.search), _join(block.replace)))
            block = None
        else:
            block.replace.append(line)

    if block is not None:
        missing = "`=======`" if block.replace is None else "`>>>>>>> REPLACE`"
        problems.append(f"Edit {block.number} ends without {missing}.")

    if not blocks:
        status = ParseStatus.UNPARSED
        if not problems:
            problems.append(
                "No edit found: write each change as `### path`, `<<<<<<< SEARCH`, the lines to "
                "replace, `=======`, the new lines, `>>>>>>> REPLACE`."
            )
    else:
        status = ParseStatus.PARTIAL if problems else ParseStatus.OK
    return ParsedBlocks(tuple(blocks), status, tuple(problems))
