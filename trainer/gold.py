"""What the gold patch changes, in the terms the rejection checks compare against: the files, and
for each changed line the innermost class or function around it at the base commit (a module-level
line is its own block); and the gold patch as the server's own diff writer writes it.

Why re-render: a gold patch from SWE-bench or `git diff` carries `@@ ... @@ def f(...)` section
headers and its author's context widths; the server's diffs (`Patch.from_texts`, which every
candidate goes through) never do. As an ORM "chosen" beside model-written "rejected" diffs, or as a
PRM positive beside model patches, the raw text would let training learn the formatting instead of
the fix. `served_diff` applies a diff to the base commit's files and writes old -> new with the
server's writer, so the gold diff and a model diff of the same change are byte-identical.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from swe_lsp.patch import Patch, PatchApplyError, PatchParseError
from swe_lsp.workspace.model import Symbol
from swe_lsp.workspace.pysymbols import python_symbols


@dataclass(frozen=True)
class GoldTarget:
    """One thing the gold patch changes: a symbol (`name`, its span) or a module-level block (name
    None, the span of its changed lines), and the changed lines inside it (1-based, original).

    `grain` is the widest span a location may have and still point at this target at its grain:
    the symbol's own span, or for module-level lines the run of module-level code around them
    (between the neighbouring definitions; the whole file when it defines nothing). A location
    wider than that (the bare file, the class around a changed method) is coarser than the fix."""

    file: str
    name: str | None
    start: int
    end: int
    lines: tuple[int, ...]
    grain: tuple[int, int]


@dataclass(frozen=True)
class Gold:
    """The gold patch's files and targets."""

    files: tuple[str, ...]
    targets: tuple[GoldTarget, ...]


def served_diff(diff: str, read_base: Callable[[str], str | None]) -> str | None:
    """`diff` (parsed with unidiff, applied to the base commit's files that `read_base` gives) as
    the server's diff writer writes the same change; None when it is not a diff, does not apply or
    changes nothing. A diff the server wrote comes back unchanged."""
    if not diff.strip():
        return None
    try:
        patch = Patch.parse(diff)
        original = {p: read_base(p) for p in patch.files}
        new = patch.apply(original)
    except (PatchParseError, PatchApplyError):
        return None
    served = Patch.from_texts(original, new)
    return served.diff if not served.is_empty else None


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
        total = max(text.count("\n") + (not text.endswith("\n")), 1)
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
                grain = _module_block(symbols, start, end, total)
            else:
                grain = (start, end)
            targets.append(GoldTarget(path, name, start, end, tuple(members), grain))
    merged = _merge_blocks(targets)
    return Gold(parsed.files, tuple(merged))


def _module_block(symbols: Sequence[Symbol], start: int, end: int, total: int) -> tuple[int, int]:
    """The run of module-level lines around lines `start`-`end`: from after the last definition
    that ends before them to before the first that starts after them (the file's ends else)."""
    before = [s.end for s in symbols if s.end < start]
    after = [s.start for s in symbols if s.start > end]
    return (max(before) + 1 if before else 1, min(after) - 1 if after else total)


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
            grain = (min(prev.grain[0], t.grain[0]), max(prev.grain[1], t.grain[1]))
            out[-1] = GoldTarget(t.file, None, prev.start, t.end, prev.lines + t.lines, grain)
        else:
            out.append(t)
    return out
