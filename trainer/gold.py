"""What the gold patch changes, in the terms the rejection checks compare against: the files, and
for each changed line the innermost class or function around it at the base commit (a module-level
line is its own block).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from swe_lsp.patch import Patch, PatchParseError
from swe_lsp.workspace.pysymbols import python_symbols


@dataclass(frozen=True)
class GoldTarget:
    """One thing the gold patch changes: a symbol (`name`, its span) or a module-level block (name
    None, the span of its changed lines), and the changed lines inside it (1-based, original)."""

    file: str
    name: str | None
    start: int
    end: int
    lines: tuple[int, ...]


@dataclass(frozen=True)
class Gold:
    """The gold patch's files and targets."""

    files: tuple[str, ...]
    targets: tuple[GoldTarget, ...]


def gold_of(patch: str, read_base: Callable[[str], str | None]) -> Gold:
    """The files and targets of `patch`; `read_base(path)` gives a file's text at the base commit
    (None for a file the patch adds)."""
    try:
        parsed = Patch.parse(patch)
    except PatchParseError:
        return Gold((), ())
    changed: dict[str, set[int]] = {}
    for hunk in parsed.hunks():
        changed.setdefault(hunk.path, set()).update(hunk.changed_source_lines())
    targets: list[GoldTarget] = []
    for path in parsed.files:
        lines = sorted(changed.get(path, ()))
        text = read_base(path)
        if text is None or not lines:
            continue
        symbols = python_symbols(path, text)[0] if path.endswith(".py") else ()
        groups: dict[tuple[str | None, int, int], list[int]] = {}
        for line in lines:
            around = [s for s in symbols if s.start <= line <= s.end]
            if around:
                inner = max(around, key=lambda s: (s.start, -s.end))
                key: tuple[str | None, int, int] = (inner.name, inner.start, inner.end)
            else:
                key = (None, line, line)
            groups.setdefault(key, []).append(line)
        for (name, start, end), members in groups.items():
            if name is None:
                start, end = min(members), max(members)
            targets.append(GoldTarget(path, name, start, end, tuple(members)))
    merged = _merge_blocks(targets)
    return Gold(parsed.files, tuple(merged))


def _merge_blocks(targets: Sequence[GoldTarget]) -> list[GoldTarget]:
    """Module-level lines of one file become one block per run of nearby lines (within 3)."""
    out: list[GoldTarget] = []
    for t in targets:
        prev = out[-1] if out else None
        if (
            prev is not None
            and t.name is None
            and prev.name is None
            and prev.file == t.file
            and t.start - prev.end <= 3
        ):
            out[-1] = GoldTarget(t.file, None, prev.start, t.end, prev.lines + t.lines)
        else:
            out.append(t)
    return out
