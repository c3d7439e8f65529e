"""A patch as a git-style unified diff: build one from texts, read one, apply it, take some hunks.

`Patch` is the value that flows from patch generation to verification, ranking and the editor. It
holds the diff text itself (what SWE-bench predictions, `git apply` and the ORM prompt want); files
and hunks are read from it on demand.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property

from swe_lsp.patch.errors import PatchApplyError
from swe_lsp.patch.hunks import NO_NEWLINE, FileChange, FileDiff, Hunk, apply_file_diff, parse_file_diffs
from swe_lsp.patch.text import split_lines


def _body(prefix: str, lines: Iterable[str]) -> list[str]:
    out = []
    for line in lines:
        out.append(prefix + line)
        if not line.endswith("\n"):
            out[-1] += "\n"
            out.append(NO_NEWLINE)
    return out


def _diff_hunks(path: str, old: list[str], new: list[str], context: int) -> tuple[Hunk, ...]:
    # autojunk would treat lines frequent in a long file (blank lines, `return`) as junk and give
    # a valid but needlessly large diff.
    matcher = difflib.SequenceMatcher(None, old, new, autojunk=False)
    hunks = []
    for index, group in enumerate(matcher.get_grouped_opcodes(context)):
        i1, i2, j1, j2 = group[0][1], group[-1][2], group[0][3], group[-1][4]
        body: list[str] = []
        for tag, a1, a2, b1, b2 in group:
            if tag == "equal":
                body += _body(" ", old[a1:a2])
                continue
            body += _body("-", old[a1:a2])
            body += _body("+", new[b1:b2])
        hunks.append(
            Hunk(
                path=path,
                index=index,
                source_start=i1 + 1 if i2 > i1 else i1,
                source_length=i2 - i1,
                target_start=j1 + 1 if j2 > j1 else j1,
                target_length=j2 - j1,
                section="",
                lines=tuple(body),
            )
        )
    return tuple(hunks)


def file_diff(path: str, old: str | None, new: str | None, context: int = 3) -> FileDiff | None:
    """One file's diff from its old and new text (None: absent), or None if nothing changed."""
    if old == new or (old is None and new is None):
        return None
    change = FileChange.ADDED if old is None else FileChange.DELETED if new is None else FileChange.MODIFIED
    hunks = _diff_hunks(path, split_lines(old or ""), split_lines(new or ""), context)
    return FileDiff(path, change, hunks)


def _retarget(hunks: Iterable[Hunk]) -> tuple[Hunk, ...]:
    """Renumber kept hunks and recompute where each lands in the new file without the dropped ones."""
    out = []
    shift = 0
    for index, hunk in enumerate(hunks):
        target_offset = hunk.source_offset + shift
        target_start = target_offset + 1 if hunk.target_length else target_offset
        out.append(
            Hunk(
                hunk.path,
                index,
                hunk.source_start,
                hunk.source_length,
                target_start,
                hunk.target_length,
                hunk.section,
                hunk.lines,
            )
        )
        shift += hunk.target_length - hunk.source_length
    return tuple(out)


@dataclass(frozen=True)
class Patch:
    """A unified diff in git style (`a/`, `b/` prefixes) and the files it changes, in diff order.

    Build one with `from_texts` (from edit results) or `parse` (a diff from outside, validated).
    """

    diff: str
    files: tuple[str, ...]

    @classmethod
    def from_file_diffs(cls, file_diffs: Iterable[FileDiff]) -> Patch:
        """The patch made of these files' diffs, in the order given."""
        file_diffs = tuple(file_diffs)
        return cls("".join(fd.text() for fd in file_diffs), tuple(fd.path for fd in file_diffs))

    @classmethod
    def from_texts(
        cls, original: Mapping[str, str | None], new: Mapping[str, str | None], context: int = 3
    ) -> Patch:
        """The diff that turns `original` into `new`.

        Only the paths in `new` are compared: a path missing from `original` (or None there) is a new
        file; None in `new` deletes the file. Files are ordered by path so equal edits give equal
        diffs.
        """
        diffs = (file_diff(path, original.get(path), new[path], context) for path in sorted(new))
        return cls.from_file_diffs(fd for fd in diffs if fd is not None)

    @classmethod
    def parse(cls, diff: str) -> Patch:
        """Validate a unified diff (with `unidiff`) and wrap it; raise `PatchParseError` if invalid."""
        return cls(diff, tuple(fd.path for fd in parse_file_diffs(diff)))

    @cached_property
    def _file_diffs(self) -> tuple[FileDiff, ...]:
        return parse_file_diffs(self.diff)

    @property
    def is_empty(self) -> bool:
        """Whether the patch changes nothing."""
        return not self.files

    def file_diffs(self) -> tuple[FileDiff, ...]:
        """Each file's part of the diff: path, whether it is added, deleted or modified, and hunks."""
        return self._file_diffs

    def hunks(self) -> tuple[Hunk, ...]:
        """Every hunk, file by file, with its line ranges in the original and new file."""
        return tuple(hunk for fd in self._file_diffs for hunk in fd.hunks)

    def apply(self, texts: Mapping[str, str | None]) -> dict[str, str | None]:
        """The new texts of the files this patch changes (None: deleted), given the originals.

        `texts` needs only the changed files. Raises `PatchApplyError` naming the file and hunk when
        a hunk's context or removed lines are not in the file.
        """
        return {fd.path: apply_file_diff(fd, texts.get(fd.path)) for fd in self._file_diffs}

    def select(self, ids: Iterable[str]) -> Patch:
        """The patch with only the hunks named, e.g. those the user accepted.

        An id is a `Hunk.id`, or a file's path for all of that file's diff (the only way to name a
        file without hunks, such as a new empty `__init__.py`). Headers of the kept hunks are
        recomputed, so the result applies to the same originals. Raises `PatchApplyError` for an id
        that is not in this patch (a stale review).
        """
        wanted = set(ids)
        unknown = wanted - {hunk.id for hunk in self.hunks()} - set(self.files)
        if unknown:
            raise PatchApplyError(
                f"No such hunk in this patch: {', '.join(sorted(unknown))}. Reload the review and try again."
            )
        kept = []
        for fd in self._file_diffs:
            if fd.path in wanted:
                kept.append(fd)
                continue
            hunks = [hunk for hunk in fd.hunks if hunk.id in wanted]
            if hunks:
                kept.append(FileDiff(fd.path, fd.change, _retarget(hunks)))
        return Patch.from_file_diffs(kept)
