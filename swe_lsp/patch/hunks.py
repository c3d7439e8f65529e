"""The pieces of a unified diff (files and hunks), read with `unidiff` and applied to texts.

A hunk's body lines are kept as written (prefix, text, line ending), with the
`\\ No newline at end of file` marker resolved into the line it belongs to, so that applying a diff
reproduces the new text byte for byte, final newline included.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from unidiff import PatchSet
from unidiff.constants import DEV_NULL
from unidiff.errors import UnidiffParseError

from swe_lsp.patch.errors import PatchApplyError, PatchParseError
from swe_lsp.patch.text import split_lines

NO_NEWLINE = "\\ No newline at end of file\n"


class FileChange(StrEnum):
    """What a diff does to a whole file."""

    MODIFIED = "modified"
    ADDED = "added"
    DELETED = "deleted"


@dataclass(frozen=True)
class Hunk:
    """One hunk of one file's diff.

    `lines` are the body lines as in the diff (each starts with ` `, `-`, `+` or `\\`). `id` is
    `path#index` (index from 0 within the file): a stable, JSON-friendly name for hunk-level
    accept in the editor.
    """

    path: str
    index: int
    source_start: int
    source_length: int
    target_start: int
    target_length: int
    section: str
    lines: tuple[str, ...]

    @property
    def id(self) -> str:
        """`path#index`, the name the editor sends back to accept or reject this hunk."""
        return f"{self.path}#{self.index}"

    @property
    def header(self) -> str:
        """The `@@ -a,b +c,d @@ section` line, without its newline."""
        section = f" {self.section}" if self.section else ""
        return (
            f"@@ -{_range(self.source_start, self.source_length)} "
            f"+{_range(self.target_start, self.target_length)} @@{section}"
        )

    @property
    def source_offset(self) -> int:
        """0-based index of the first original line the hunk covers (or inserts before)."""
        return self.source_start - 1 if self.source_length else self.source_start

    @property
    def source_span(self) -> tuple[int, int]:
        """1-based first and last original line the hunk covers, context included.

        For a pure insertion without context, both are the line the insertion follows.
        """
        if not self.source_length:
            return (self.source_start, self.source_start)
        return (self.source_start, self.source_start + self.source_length - 1)

    def changed_source_lines(self) -> tuple[int, ...]:
        """1-based original lines the hunk removes or inserts after: what it really touches.

        This is what "which functions did this patch touch" should look up, not the context.
        """
        touched: list[int] = []
        line = self.source_offset + 1
        for body in self.lines:
            if body.startswith("-"):
                touched.append(line)
                line += 1
            elif body.startswith("+"):
                touched.append(max(line - 1, 1))
            elif body.startswith(" "):
                line += 1
        return tuple(sorted(set(touched)))

    def old_lines(self) -> list[str]:
        """The original lines this hunk expects, with their exact endings."""
        return _side(self.lines, "-")

    def new_lines(self) -> list[str]:
        """The lines this hunk leaves in their place."""
        return _side(self.lines, "+")

    def text(self) -> str:
        """The hunk as diff text: header and body."""
        return self.header + "\n" + "".join(self.lines)


def _range(start: int, length: int) -> str:
    return str(start) if length == 1 else f"{start},{length}"


def _side(body: Sequence[str], kept: str) -> list[str]:
    out: list[str] = []
    last_kind = ""
    for line in body:
        kind = line[:1]
        if kind == "\\":
            if last_kind in (" ", kept) and out and out[-1].endswith("\n"):
                out[-1] = out[-1][:-1]
            continue
        last_kind = kind
        if kind in (" ", kept):
            out.append(line[1:])
    return out


@dataclass(frozen=True)
class FileDiff:
    """One file's part of a diff: its path (without `a/`/`b/`), what happens to it, its hunks."""

    path: str
    change: FileChange
    hunks: tuple[Hunk, ...]

    def text(self) -> str:
        """This file's part of the diff as git writes it: headers, then hunks."""
        lines = [f"diff --git a/{self.path} b/{self.path}\n"]
        old, new = f"a/{self.path}", f"b/{self.path}"
        if self.change is FileChange.ADDED:
            lines.append("new file mode 100644\n")
            old = "/dev/null"
        elif self.change is FileChange.DELETED:
            lines.append("deleted file mode 100644\n")
            new = "/dev/null"
        if self.hunks:
            lines += [f"--- {old}\n", f"+++ {new}\n"]
            lines += [hunk.text() for hunk in self.hunks]
        return "".join(lines)


def _body_line(value: str, line_type: str) -> str:
    if line_type == "\\":
        return NO_NEWLINE
    if not value.endswith("\n"):
        value += "\n"  # the diff's last line, cut short
    return (line_type or " ") + value


def parse_file_diffs(diff: str) -> tuple[FileDiff, ...]:
    """Read a unified diff (git style or plain) into files and hunks; raise `PatchParseError`."""
    try:
        patch_set = PatchSet(diff)
    except UnidiffParseError as err:
        raise PatchParseError(f"Not a valid unified diff: {err}") from err
    if diff.strip() and not len(patch_set):
        raise PatchParseError("Not a unified diff: no `--- a/...`, `+++ b/...` file headers found.")
    files = []
    for patched in patch_set:
        if patched.is_binary_file:
            raise PatchParseError(f"`{patched.path}`: binary diffs are not supported.")
        if patched.is_rename:
            raise PatchParseError(f"`{patched.path}`: renames are not supported; delete and add instead.")
        # Not unidiff's is_added_file / is_removed_file: those also call a file that is emptied
        # (or an empty file that gets lines) deleted (added). Only /dev/null says so.
        change = (
            FileChange.ADDED
            if patched.source_file == DEV_NULL
            else FileChange.DELETED
            if patched.target_file == DEV_NULL
            else FileChange.MODIFIED
        )
        hunks = tuple(
            Hunk(
                path=patched.path,
                index=k,
                source_start=h.source_start,
                source_length=h.source_length,
                target_start=h.target_start,
                target_length=h.target_length,
                section=h.section_header,
                # An empty line type marks blank lines unidiff found after the hunk, not in it.
                lines=tuple(_body_line(line.value, line.line_type) for line in h if line.line_type),
            )
            for k, h in enumerate(patched)
        )
        files.append(FileDiff(patched.path, change, hunks))
    return tuple(files)


def _describe(lines: Sequence[str]) -> str:
    return repr("".join(lines[:3])[:200]) if lines else "the end of the file"


def _find(lines: list[str], old: list[str], expected: int, floor: int) -> int | None:
    """Where `old` sits in `lines`: at `expected` if it does, else at the nearest place after `floor`.

    Searching nearby is what `git apply` and `patch` do when earlier, unrelated edits moved the
    code; context lines still have to match exactly.
    """
    width = len(old)
    candidates = range(floor, len(lines) - width + 1)
    if expected in candidates and lines[expected : expected + width] == old:
        return expected
    fits = [p for p in candidates if lines[p : p + width] == old]
    return min(fits, key=lambda p: (abs(p - expected), p)) if fits else None


def apply_file_diff(file_diff: FileDiff, text: str | None) -> str | None:
    """The text after applying `file_diff` to `text` (None: absent); None when the file is deleted.

    Raises `PatchApplyError` naming the file and hunk whose lines do not match.
    """
    path = file_diff.path
    if file_diff.change is FileChange.ADDED and text:
        raise PatchApplyError(f"`{path}`: the diff creates this file, but it already exists.")
    if file_diff.change is not FileChange.ADDED and text is None:
        raise PatchApplyError(f"`{path}`: the diff changes this file, but there is no such file.")
    lines = split_lines(text or "")
    shift, floor = 0, 0
    for hunk in file_diff.hunks:
        old, new = hunk.old_lines(), hunk.new_lines()
        expected = hunk.source_offset + shift
        at = _find(lines, old, expected, floor)
        if at is None:
            found = lines[max(expected, 0) : max(expected, 0) + len(old)]
            raise PatchApplyError(
                f"`{path}`: hunk {hunk.index + 1} ({hunk.header}) does not apply: expected "
                f"{_describe(old)} at line {expected + 1}, found {_describe(found)}."
            )
        lines[at : at + len(old)] = new
        shift = at - hunk.source_offset + len(new) - len(old)
        floor = at + len(new)
    result = "".join(lines)
    if file_diff.change is FileChange.DELETED:
        if result:
            raise PatchApplyError(f"`{path}`: the diff deletes this file, but it has lines the diff lacks.")
        return None
    return result
