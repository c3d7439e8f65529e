"""Incremental re-parsing: after any edit, the entry is exactly the one a whole parse gives."""

from __future__ import annotations

import ast
import dataclasses
import random
import textwrap
from pathlib import Path

import pytest
from workspace_fixtures import SHAPES

from swe_lsp.workspace import incremental
from swe_lsp.workspace.extract import extract
from swe_lsp.workspace.incremental import Blocks, blocks_of, reparse
from swe_lsp.workspace.model import FileIndex

PACKAGE = Path(__file__).resolve().parents[2] / "swe_lsp" / "workspace"


def edit(
    rel: str, old: tuple[FileIndex, Blocks | None], new_text: str
) -> tuple[FileIndex, Blocks | None, bool]:
    """The entry after an edit, as the index computes it, checked against a whole parse; and
    whether the incremental path was taken."""
    data = new_text.encode()
    whole, text = extract(rel, data)
    got = reparse(rel, data, whole.digest, old[0], old[1]) if old[1] is not None else None
    if got is None:
        return whole, blocks_of(whole, text), False
    assert got[0] == whole
    return got[0], got[1], True


def start(rel: str, text: str) -> tuple[FileIndex, Blocks | None]:
    entry, decoded = extract(rel, text.encode())
    return entry, blocks_of(entry, decoded)


BASE = SHAPES + textwrap.dedent(
    '''\


    def last(x):
        """The end."""
        return x
    '''
)


# (name, text replaced, replacement, whether the incremental path applies); "" appends, None
# replaces the whole file.
EDITS = [
    ("append a function", "", "\n\ndef added():\n    return 1\n", True),
    ("edit a body", "return a + b", "return a - b  # edited", True),
    ("add a comment line", "\n\nasync def", "\n# note\n\nasync def", True),
    ("insert a function", "\n\nasync def", "\n\ndef new(q):\n    return q\n\n\nasync def", True),
    ("delete a function", 'async def fetch(url: str) -> bytes:\n    return b""\n', "", True),
    ("grow a method", "return helper()", "x = 1\n            return helper() + x", True),
    ("decorate a def", "\n\nasync def", "\n\n@staticmethod\nasync def", True),
    ("nest a def in the last one", "", "    def more(self):\n        return 2\n", True),
    ("attach an else", "\n\nasync def", "\nelse:\n    pass\n\nasync def", False),
    ("open a string", "\n\nasync def", '\n\nx = """\n\nasync def', False),
    ("break the syntax", "def plain(a, b=1):", "def plain(a, b=1:", False),
    ("edit the first line", '"""Shapes."""', '"""Shapes!"""', True),
    ("replace everything", None, "class Other:\n    pass\n", False),
    ("drop the final newline", '"""The end."""\n    return x\n', '"""The end."""\n    return x', True),
    ("edit a method", "return self.size ** 2", "return self.size**2 + 1", True),
    ("add a method", "    @area.setter", "    def more(self):\n        pass\n\n    @area.setter", True),
    ("edit a nested class", "return helper()", "return helper() + 1", True),
    ("edit the last member", "return path", "return path, strict", True),
    ("dedent a member", "    @area.setter\n    def", "@area.setter\ndef", False),
    ("over-indent a member", "    @area.setter\n    def", "      @area.setter\n      def", False),
    ("end the class early", "    @area.setter", "x = 1\n    @area.setter", False),
    ("edit the class docstring", "An outer class.", "An outer class!", True),
]


@pytest.mark.parametrize(("name", "old", "new", "fast"), EDITS, ids=[e[0] for e in EDITS])
def test_edit_gives_the_whole_parse(name: str, old: str | None, new: str, fast: bool) -> None:
    if old is None:
        new_text = new
    elif old == "":
        new_text = BASE + new
    else:
        assert BASE.count(old) == 1, name
        new_text = BASE.replace(old, new)
    _, _, took_fast_path = edit("pkg/shapes.py", start("pkg/shapes.py", BASE), new_text)
    assert took_fast_path == fast, name


def test_a_method_edit_parses_that_method_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    parsed: list[str] = []
    real = incremental.python_symbols

    def spy(path: str, source: str):  # type: ignore[no-untyped-def]
        parsed.append(source.strip())
        return real(path, source)

    monkeypatch.setattr(incremental, "python_symbols", spy)
    old = start("pkg/shapes.py", BASE)
    new_text = BASE.replace("return self.size ** 2", "x = 1\n        return self.size ** 2 + x")
    entry, _, fast = edit("pkg/shapes.py", old, new_text)
    assert fast and parsed == ['class _:\n    @property\n    def area(self):\n        """The area."""\n'
                               "        x = 1\n        return self.size ** 2 + x"]  # fmt: skip
    area = next(s for s in entry.symbols if s.name == "Outer.area")
    assert (area.kind, area.start, area.end) == ("property", 30, 34)


def test_files_that_are_always_parsed_whole_get_no_blocks() -> None:
    for text in ("\ufeffdef f():\n    pass\n", "# -*- coding: utf-8 -*-\ndef f():\n    pass\n",
                 "def f():\n    pass\n\x0c\ndef g():\n    pass\n", "def f():\r\n    pass\r\n",
                 "def broken(:\n"):  # fmt: skip
        assert start("m.py", text)[1] is None
    assert start("notes.txt", "def f():\n    pass\n")[1] is None


def test_random_edit_sequences_match_whole_parses() -> None:
    rng = random.Random(20240523)
    fast = 0
    for path in sorted([*PACKAGE.glob("*.py"), Path(ast.__file__), Path(dataclasses.__file__)]):
        text = path.read_text()
        lines = text.split("\n")
        state = start(path.name, text)
        for _ in range(20):
            current = text.split("\n")
            op = rng.randrange(5)
            at = rng.randrange(len(current) + 1)
            if op == 0:  # a line from elsewhere in the file
                current.insert(at, rng.choice(lines))
            elif op == 1:
                del current[at : at + rng.randrange(1, 6)]
            elif op == 2 and at < len(current):
                current[at] = current[at] + "  # edited"
            elif op == 3:
                current[at:at] = ["", "", f"def added_{at}(x):", "    return x", ""]
            else:
                current.extend(["", f"def tail_{at}():", "    return 1", ""])
            text = "\n".join(current)
            entry, blocks, took_fast_path = edit(path.name, state, text)
            state = (entry, blocks)
            fast += took_fast_path
    assert fast > 0
