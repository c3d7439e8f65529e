"""Re-indexing an edited Python file by re-parsing only the blocks that changed.

Parsing is most of the cost of indexing a file (`ast.parse` of django's 79 KB `query.py` is ~30 ms
alone), and an edit in the editor touches one place. At build time a file is cut into blocks where
the parser is between two statements: at each column-0 definition (a `def`, `class` or decorator
at column 0 starts a module-level statement) and, inside a column-0 class, at each definition of
its body. Each block's lines are hashed. On update, the blocks unchanged at the start and
(shifted) at the end of the file keep their symbols; only the lines between them are parsed, alone
(inside a stand-in `class _:` header when they are members of a class). If those lines parse on
their own, the whole file parses to the same symbols, because the text around them is unchanged
and they start and end between statements at the same indentation; if they do not (a decorator
added above a def, an `else:` attached to a block above, an opened string), the region grows to
whole top-level blocks, then by one block on each side, and past that the caller parses the whole
file. The result is exactly what `extract` gives for the new bytes, which tests/workspace checks
edit by edit.

Files whose line numbering `str.split` and the parser could disagree on (form feeds, `\\r`,
Unicode line separators), or whose parse depends on the bytes (a BOM or a coding declaration), get
no blocks and are always parsed whole.
"""

from __future__ import annotations

import dataclasses
import hashlib
import re
from array import array
from collections.abc import Sequence

from swe_lsp.workspace.files import decode
from swe_lsp.workspace.model import FileIndex, Symbol
from swe_lsp.workspace.pysymbols import python_symbols
from swe_lsp.workspace.tokens import raw_terms

# Per block, in line order: first line (array "I" bytes), indentation (array "B" bytes: 0 for a
# top-level block, the body's indentation for a class member) and an 8-byte hash of its lines.
Blocks = tuple[bytes, bytes, bytes]

_HASH_BYTES = 8
_MAX_INDENT = 255
_ODD_LINE_BREAKS = re.compile("[\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029]")
_CODING = re.compile(r"^[ \t]*#.*?coding[:=]")
_WRAPPER = "class _:"


def blocks_of(entry: FileIndex, text: str | None) -> Blocks | None:
    """The blocks of a freshly extracted Python file, or None when it is always parsed whole."""
    if text is None or entry.language != "python" or entry.status != "ok" or not _splittable(text):
        return None
    lines = text.split("\n")
    starts = [(1, 0), *_boundaries(lines, entry.symbols, 1, len(lines))]
    return _pack(lines, starts, len(lines))


def reparse(rel: str, data: bytes, digest: str, old: FileIndex, old_blocks: Blocks
            ) -> tuple[FileIndex, Blocks] | None:  # fmt: skip
    """The entry and blocks of `rel`, now holding `data`, re-parsing only the changed blocks of
    `old`; None when that does not apply (the caller then extracts the file whole)."""
    decoded = decode(data)
    text = decoded.text
    if text is None or decoded.status != "ok" or not _splittable(text):
        return None
    lines = text.split("\n")
    old_file = _OldFile(old, old_blocks)
    head, tail = old_file.unchanged(lines)
    for region in old_file.regions(head, tail):
        result = old_file.reparse_region(rel, lines, *region)
        if result is not None:
            symbols, blocks = result
            entry = FileIndex(rel, digest, len(data), "python", "ok", len(lines), symbols, raw_terms(text))
            return entry, blocks
    return None


class _OldFile:
    """The previous entry and blocks of a file, and how to re-use them for its new lines."""

    def __init__(self, old: FileIndex, blocks: Blocks) -> None:
        self.old = old
        self.starts = array("I")
        self.starts.frombytes(blocks[0])
        self.indents = array("B")
        self.indents.frombytes(blocks[1])
        self.hashes = blocks[2]
        self.k = len(self.starts)
        self.ends = [*(s - 1 for s in self.starts[1:]), old.lines]

    def unchanged(self, lines: list[str]) -> tuple[int, int]:
        """(h, t): blocks [0, h) are unchanged at the start and [t, k) at the end (shifted)."""
        n, delta = len(lines), len(lines) - self.old.lines
        head, head_end = 0, 0
        while head < self.k:
            first, last = self.starts[head], self.ends[head]
            if last > n or _hash(lines[first - 1 : last]) != self._hash_at(head):
                break
            head_end, head = last, head + 1
        tail = self.k
        while tail > head:
            first, last = self.starts[tail - 1] + delta, self.ends[tail - 1] + delta
            if first <= head_end or _hash(lines[first - 1 : last]) != self._hash_at(tail - 1):
                break
            tail -= 1
        return head, tail

    def regions(self, head: int, tail: int) -> list[tuple[int, int, bool]]:
        """Regions to try re-parsing, smallest first: (first block, end block, as class members)."""
        tried: list[tuple[int, int, bool]] = []
        if self._member_region(head, tail):
            tried.append((head, tail, True))
        start = head
        while 0 < start < self.k and self.indents[start] != 0:
            start -= 1
        end = tail
        while end < self.k and self.indents[end] != 0:
            end += 1
        tried.append((start, end, False))
        wider_start = start - 1
        while wider_start > 0 and self.indents[wider_start] != 0:
            wider_start -= 1
        wider_end = min(end + 1, self.k)
        while wider_end < self.k and self.indents[wider_end] != 0:
            wider_end += 1
        tried.append((max(wider_start, 0), wider_end, False))
        # Re-parsing everything costs what a whole parse does; leave that to the caller.
        return [r for i, r in enumerate(tried) if (r[0], r[1]) != (0, self.k) and r not in tried[:i]]

    def _member_region(self, head: int, tail: int) -> bool:
        """Whether blocks [head, tail) are members of one class's body (and nothing else)."""
        return 0 < head < self.k and all(self.indents[i] != 0 for i in range(head, max(tail, head + 1)))

    def reparse_region(self, rel: str, lines: list[str], head: int, tail: int, members: bool
                       ) -> tuple[tuple[Symbol, ...], Blocks] | None:  # fmt: skip
        """Symbols and blocks with blocks [head, tail) re-parsed from `lines`; None if they do
        not parse alone (or, as members, are not a class body at the old indentation)."""
        delta = len(lines) - self.old.lines
        head_end = self.starts[head] - 1 if head < self.k else self.old.lines
        old_tail_start = self.starts[tail] if tail < self.k else self.old.lines + 1
        tail_start = old_tail_start + delta
        if tail_start <= head_end:
            return None
        middle = lines[head_end : tail_start - 1]
        body_continues = tail < self.k and self.indents[tail] != 0
        owner: Symbol | None = None
        if members:
            indent = self.indents[head]
            if not _is_class_body(middle, indent, whole=body_continues):
                return None
            owner = self._class_at(head)
            if owner is None:
                return None
            # Padding with empty lines keeps the parser's line numbers those of the whole file.
            source = "\n" * (head_end - 1) + _WRAPPER + "\n" + "\n".join(middle)
        else:
            source = "\n" * head_end + "\n".join(middle)
        parsed_symbols, parsed = python_symbols(rel, source)
        if not parsed:
            return None

        symbols = [s for s in self.old.symbols if s.start <= head_end]
        new_starts: list[tuple[int, int]] = [(head_end + 1, self.indents[head] if members else 0)]
        if owner is not None:
            wrapper, *inside = parsed_symbols
            end = owner.end + delta if body_continues else wrapper.end
            symbols[symbols.index(owner)] = dataclasses.replace(owner, end=end)
            middle_symbols = [
                dataclasses.replace(s, name=owner.name + s.name[1:]) if s.start <= wrapper.end else s
                for s in inside
            ]
            own = [s for s in inside if s.start <= wrapper.end]
            after = [s for s in inside if s.start > wrapper.end]
            new_starts += [b for b in _members(lines, own, wrapper, indent) if b[0] > head_end + 1]
            new_starts += _boundaries(lines, after, wrapper.end, tail_start - 1)
        else:
            middle_symbols = list(parsed_symbols)
            new_starts += _boundaries(lines, middle_symbols, head_end + 1, tail_start - 1)
        symbols.extend(middle_symbols)
        symbols.extend(_shifted(s, delta) for s in self.old.symbols if s.start >= old_tail_start)

        middle_blocks = (
            _pack(lines, new_starts, tail_start - 1) if tail_start > head_end + 1 else (b"", b"", b"")
        )
        starts = array("I", self.starts[:head])
        starts.frombytes(middle_blocks[0])
        starts.extend(s + delta for s in self.starts[tail:])
        indents = self.indents[:head].tobytes() + middle_blocks[1] + self.indents[tail:].tobytes()
        hashes = self.hashes[: head * _HASH_BYTES] + middle_blocks[2] + self.hashes[tail * _HASH_BYTES :]
        return tuple(symbols), (starts.tobytes(), indents, hashes)

    def _class_at(self, block: int) -> Symbol | None:
        """The column-0 class whose body holds member block `block` (None would be a bug; it only
        makes the caller parse more)."""
        top = block
        while self.indents[top] != 0:
            top -= 1
        line = self.starts[top]
        found = (s for s in self.old.symbols if s.start == line and s.kind == "class" and "." not in s.name)
        return next(found, None)

    def _hash_at(self, i: int) -> bytes:
        return self.hashes[i * _HASH_BYTES : (i + 1) * _HASH_BYTES]


def _splittable(text: str) -> bool:
    """Whether line numbers from `str.split("\\n")` are the parser's and a `str` parse is the
    parse of the bytes (see the module docstring)."""
    if text.startswith("\ufeff") or _ODD_LINE_BREAKS.search(text) or "barry_as_FLUFL" in text:
        return False
    first_break = text.find("\n")
    second_break = text.find("\n", first_break + 1) if first_break >= 0 else -1
    head = text[: second_break if second_break >= 0 else len(text)].split("\n")
    return not any(_CODING.match(line) for line in head)


def _boundaries(lines: Sequence[str], symbols: Sequence[Symbol], lo: int, hi: int) -> list[tuple[int, int]]:
    """Block starts (line, indentation) after line `lo` up to `hi`: column-0 definitions, and the
    members of column-0 classes (those starting at `lo` included)."""
    found: list[tuple[int, int]] = []
    for i, symbol in enumerate(symbols):
        if "." in symbol.name or not lo <= symbol.start <= hi or _indent(lines[symbol.start - 1]) != 0:
            continue
        if symbol.start > lo:
            found.append((symbol.start, 0))
        if symbol.kind == "class":
            # Symbols come in definition order, so a class's own follow it (see pysymbols).
            end = i + 1
            while end < len(symbols) and symbols[end].start <= symbol.end:
                end += 1
            found.extend(_members(lines, symbols[i + 1 : end], symbol))
    return sorted(set(found))


def _members(lines: Sequence[str], symbols: Sequence[Symbol], owner: Symbol, indent: int | None = None
             ) -> list[tuple[int, int]]:  # fmt: skip
    """Starts of the definitions directly in `owner`'s body (found among `symbols`), when it can
    be told for sure which they are: the body is indented with spaces and no code line before its
    first definition is indented less (else the least-indented definitions might sit in an `if`)."""
    prefix = owner.name + "."
    inside = [
        s
        for s in symbols
        if owner.start < s.start <= owner.end
        and s.name.startswith(prefix)
        and "." not in s.name[len(prefix) :]
    ]
    if not inside:
        return []
    columns = [_indent(lines[s.start - 1]) for s in inside]
    body = indent if indent is not None else min(columns)
    if not 0 < body <= _MAX_INDENT:
        return []
    first = min(s.start for s in inside)
    for line in lines[owner.start : first - 1]:
        stripped = line.lstrip(" ")
        if stripped and not stripped.startswith("#") and 0 < len(line) - len(stripped) < body:
            return []
    return [(s.start, body) for s, column in zip(inside, columns, strict=True) if column == body]


def _is_class_body(middle: Sequence[str], indent: int, whole: bool) -> bool:
    """Whether `middle` starts with a statement at exactly `indent` spaces and, when the class goes
    on after it (`whole`), never dedents below that."""
    seen_code = False
    for line in middle:
        stripped = line.lstrip(" ")
        if not stripped or stripped.startswith("#"):
            continue
        width = len(line) - len(stripped)
        if not seen_code:
            if width != indent or stripped[0] in " \t":
                return False
            seen_code = True
        elif whole and width < indent:
            return False
    return seen_code


def _indent(line: str) -> int:
    """Leading spaces of a line; -1 when its indentation has a tab (never a block boundary)."""
    stripped = line.lstrip(" ")
    if stripped[:1] == "\t":
        return -1
    return len(line) - len(stripped)


def _pack(lines: Sequence[str], starts: Sequence[tuple[int, int]], last_line: int) -> Blocks:
    """Blocks starting at `starts` (ascending (line, indentation)), the last ending at `last_line`."""
    firsts = [s for s, _ in starts]
    ends = [*(s - 1 for s in firsts[1:]), last_line]
    hashes = b"".join(_hash(lines[a - 1 : b]) for a, b in zip(firsts, ends, strict=True))
    return array("I", firsts).tobytes(), bytes(i for _, i in starts), hashes


def _hash(lines: Sequence[str]) -> bytes:
    data = "\n".join(lines).encode("utf-8", "surrogatepass")
    return hashlib.blake2b(data, digest_size=_HASH_BYTES).digest()


def _shifted(symbol: Symbol, delta: int) -> Symbol:
    if delta == 0:
        return symbol
    return dataclasses.replace(symbol, start=symbol.start + delta, end=symbol.end + delta)
