"""Apply parsed edit blocks to file texts, never to disk, and say how it went.

The statuses are SWE-SynInfer's, so that the search stage can filter candidates and train on them
the same way: `unparsed`, `unmatched`, `ambiguous`, `syntax_error`, `empty_diff`, `applicable`. Each
failure comes with a message meant for the model (which edit, which file, what was wrong, the
closest lines for a SEARCH text that was not found), because a rejected patch is cheapest to fix by
telling the model why.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from enum import StrEnum
from pathlib import Path, PurePosixPath

from swe_lsp.patch.blocks import EditBlock, ParsedBlocks, parse_edit_blocks
from swe_lsp.patch.diff import Patch
from swe_lsp.patch.matching import closest_region, find_matches
from swe_lsp.patch.text import is_python_path, newline_of, split_lines, strip_eol

_FEEDBACK_CONTEXT_LINES = 12


class ApplyStatus(StrEnum):
    """What became of a candidate patch; only `applicable` ones go on to verification."""

    APPLICABLE = "applicable"
    UNPARSED = "unparsed"
    UNMATCHED = "unmatched"
    AMBIGUOUS = "ambiguous"
    SYNTAX_ERROR = "syntax_error"
    EMPTY_DIFF = "empty_diff"


@dataclass(frozen=True)
class BlockOutcome:
    """What became of one edit block: its status, how it matched, and feedback when it failed."""

    index: int
    path: str
    status: ApplyStatus
    strategy: str | None = None
    feedback: str = ""


@dataclass(frozen=True)
class FileSyntaxError:
    """A Python file the edits left unparsable: where, and Python's own message."""

    path: str
    line: int | None
    message: str


@dataclass(frozen=True)
class ApplyResult:
    """The outcome of applying one candidate's edit blocks.

    `original_texts` holds every file the blocks touched as it was (None: it did not exist);
    `new_texts` the changed files' new texts whenever every block matched (so a `syntax_error` result
    can still be shown); `patch` is set only when the result is `applicable`.
    """

    status: ApplyStatus
    original_texts: Mapping[str, str | None] = field(default_factory=dict)
    new_texts: Mapping[str, str] = field(default_factory=dict)
    outcomes: tuple[BlockOutcome, ...] = ()
    feedback: tuple[str, ...] = ()
    syntax_errors: tuple[FileSyntaxError, ...] = ()
    patch: Patch | None = None

    @property
    def ok(self) -> bool:
        """Whether the patch applies, parses and changes something."""
        return self.status is ApplyStatus.APPLICABLE

    @property
    def feedback_text(self) -> str:
        """All feedback as one message for the model (when applicable, only parse problems, if any)."""
        return "\n\n".join(self.feedback)


FileSource = Mapping[str, str] | Path
"""Where the original texts come from: a mapping path -> text, or a snapshot root read (only read)."""


def _safe_relative(path: str) -> str | None:
    """`path` as a clean relative POSIX path, or None if it is absolute or climbs out of the root."""
    pure = PurePosixPath(path.replace("\\", "/"))
    if pure.is_absolute() or ".." in pure.parts or not pure.parts:
        return None
    return pure.as_posix()


def _reader(source: FileSource) -> Callable[[str], str | None]:
    if isinstance(source, Path):
        root = source

        def read(path: str) -> str | None:
            target = root / path
            if not target.is_file():
                return None
            # Bytes, not read_text: read_text would turn `\r\n` into `\n` and every line would differ.
            return target.read_bytes().decode("utf-8", errors="replace")

        return read
    return source.get


def _excerpt(lines: list[str], start: int, end: int) -> str:
    end = min(end, start + _FEEDBACK_CONTEXT_LINES)
    width = len(str(end))
    return "\n".join(f"{k + 1:>{width}} | {lines[k]}" for k in range(start, end))


def _unmatched_feedback(label: str, lines: list[str], search: list[str]) -> str:
    message = f"{label}: the SEARCH text was not found in the file."
    region = closest_region(lines, search)
    if region is not None:
        start, end, ratio = region
        where = f"line {start + 1}" if end - start == 1 else f"lines {start + 1}-{end}"
        message += (
            f" The most similar ({ratio:.0%} alike) is {where}:\n```\n{_excerpt(lines, start, end)}\n```\n"
        )
    return message + " Copy the lines to change exactly as they are in the file, indentation included."


def _syntax_error(path: str, text: str) -> FileSyntaxError | None:
    try:
        ast.parse(text, filename=path)
    except SyntaxError as err:
        return FileSyntaxError(path, err.lineno, err.msg)
    except (ValueError, RecursionError, MemoryError) as err:
        return FileSyntaxError(path, None, str(err))
    return None


def _syntax_feedback(error: FileSyntaxError, text: str) -> str:
    where = "" if error.line is None else f" at line {error.line}"
    message = f"The edits leave `{error.path}` with a syntax error{where}: {error.message}."
    lines = [strip_eol(line) for line in split_lines(text)]
    if error.line is not None and 0 < error.line <= len(lines):
        start = max(0, error.line - 3)
        message += f"\n```\n{_excerpt(lines, start, min(len(lines), error.line + 2))}\n```"
    return message + "\nCheck the indentation and brackets of the REPLACE text."


class _Workspace:
    """The texts being edited: originals read once, then each touched file's lines and endings.

    Line endings are kept per line, so that an edit in a file with mixed endings changes only the
    lines it edits; new lines take the file's dominant ending.
    """

    def __init__(self, source: FileSource) -> None:
        self._read = _reader(source)
        self.originals: dict[str, str | None] = {}
        self.lines: dict[str, list[str]] = {}
        self._eols: dict[str, list[str]] = {}
        self._newline: dict[str, str] = {}

    def open(self, path: str) -> list[str] | None:
        """The current lines of `path` (without endings), or None if it does not exist."""
        if path not in self.originals:
            text = self._read(path)
            self.originals[path] = text
            if text is not None:
                raw = split_lines(text)
                self.lines[path] = [strip_eol(line) for line in raw]
                self._eols[path] = [line[len(strip_eol(line)) :] for line in raw]
                self._newline[path] = newline_of(text)
        return self.lines.get(path)

    def replace(self, path: str, start: int, end: int, new: list[str]) -> None:
        """Replace lines `[start, end)` of `path` (which need not exist yet) by `new`."""
        lines = self.lines.setdefault(path, [])
        eols = self._eols.setdefault(path, [])
        newline = self._newline.get(path, "\n")
        new_eols = [newline] * len(new)
        at_end_without_newline = end == len(lines) and bool(eols) and eols[-1] == ""
        lines[start:end] = new
        eols[start:end] = new_eols
        if at_end_without_newline and start + len(new) > 0:
            eols[start + len(new) - 1] = ""

    def text(self, path: str) -> str | None:
        """The current text of `path`, or None if it does not exist."""
        lines = self.lines.get(path)
        if lines is None:
            return None
        return "".join(line + eol for line, eol in zip(lines, self._eols[path], strict=True))


def _apply_one(ws: _Workspace, index: int, block: EditBlock) -> BlockOutcome:
    label = f"Edit {index + 1} (`{block.path}`)"
    path = _safe_relative(block.path)
    if path is None:
        feedback = f"{label}: the path must be relative to the repository root, without `..`."
        return BlockOutcome(index, block.path, ApplyStatus.UNMATCHED, feedback=feedback)
    search = [strip_eol(line) for line in split_lines(block.search)]
    replace = [strip_eol(line) for line in split_lines(block.replace)]
    lines = ws.open(path)
    if not any(line.strip() for line in search):
        if lines is None or not any(line.strip() for line in lines):
            ws.replace(path, 0, len(lines or []), replace)
            return BlockOutcome(index, path, ApplyStatus.APPLICABLE, "new_file")
        feedback = f"{label}: SEARCH is empty but the file exists; quote the lines to change."
        return BlockOutcome(index, path, ApplyStatus.UNMATCHED, feedback=feedback)
    if lines is None:
        feedback = f"{label}: there is no such file. Use a path from the repository tree."
        return BlockOutcome(index, path, ApplyStatus.UNMATCHED, feedback=feedback)
    matches = find_matches(lines, search, replace)
    if not matches:
        feedback = _unmatched_feedback(label, lines, search)
        return BlockOutcome(index, path, ApplyStatus.UNMATCHED, feedback=feedback)
    if len(matches) > 1:
        places = ", ".join(str(m.start + 1) for m in matches[:10])
        feedback = (
            f"{label}: the SEARCH text occurs {len(matches)} times (at lines {places}). "
            "Include more surrounding lines so that it matches exactly one place."
        )
        return BlockOutcome(index, path, ApplyStatus.AMBIGUOUS, feedback=feedback)
    match = matches[0]
    ws.replace(path, match.start, match.end, list(match.replacement))
    return BlockOutcome(index, path, ApplyStatus.APPLICABLE, match.strategy)


def apply_edit_blocks(blocks: Sequence[EditBlock], source: FileSource) -> ApplyResult:
    """Apply `blocks` in order (a later block sees the earlier ones' edits) to texts from `source`.

    Nothing is written. Every block is tried even after one fails, so the feedback covers them all;
    the status is the first failure's, or, when all apply, `syntax_error` / `empty_diff` /
    `applicable`. A Python file is checked with `ast` only if it parsed before the edits, so a
    patch is not blamed for a file that was never valid Python.
    """
    if not blocks:
        feedback = ("No edit blocks to apply.",)
        return ApplyResult(ApplyStatus.UNPARSED, feedback=feedback)
    ws = _Workspace(source)
    outcomes = tuple(_apply_one(ws, k, block) for k, block in enumerate(blocks))
    originals = dict(ws.originals)
    failures = [o for o in outcomes if o.status is not ApplyStatus.APPLICABLE]
    if failures:
        feedback = tuple(o.feedback for o in failures)
        return ApplyResult(failures[0].status, originals, {}, outcomes, feedback)

    new_texts = {}
    for path, original in originals.items():
        text = ws.text(path)
        if text is not None and text != original:
            new_texts[path] = text
    errors = tuple(
        err
        for path, text in new_texts.items()
        if is_python_path(path)
        and (originals[path] is None or _syntax_error(path, originals[path] or "") is None)
        and (err := _syntax_error(path, text)) is not None
    )
    if errors:
        feedback = tuple(_syntax_feedback(err, new_texts[err.path]) for err in errors)
        return ApplyResult(ApplyStatus.SYNTAX_ERROR, originals, new_texts, outcomes, feedback, errors)
    if not new_texts:
        feedback = ("The edits change nothing: the REPLACE text is the same as the SEARCH text.",)
        return ApplyResult(ApplyStatus.EMPTY_DIFF, originals, {}, outcomes, feedback)
    patch = Patch.from_texts(originals, new_texts)
    return ApplyResult(ApplyStatus.APPLICABLE, originals, new_texts, outcomes, (), (), patch)


def apply_model_output(
    text: str, source: FileSource, parse: Callable[[str], ParsedBlocks] = parse_edit_blocks
) -> ApplyResult:
    """Parse edit blocks out of model output with `parse` (the search/replace form by default, or
    `parse_tagged_edits`) and apply them: the one call a patch sampler needs.

    Problems in the parse (an unclosed block, a block without a path) are added to the feedback; if
    no block parsed at all the status is `unparsed`.
    """
    parsed = parse(text)
    if not parsed.blocks:
        return ApplyResult(ApplyStatus.UNPARSED, feedback=parsed.problems)
    result = apply_edit_blocks(parsed.blocks, source)
    if not parsed.problems:
        return result
    return replace(result, feedback=parsed.problems + result.feedback)
