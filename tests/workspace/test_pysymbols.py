"""Symbols and spans from `ast`, the fallback scan, and skeletons."""

from __future__ import annotations

from workspace_fixtures import SHAPES

from swe_lsp.workspace.pysymbols import python_symbols, skeleton


def test_spans_are_exact_for_nested_decorated_async_and_properties() -> None:
    symbols, parsed = python_symbols("pkg/shapes.py", SHAPES)
    assert parsed
    got = {(s.name, s.kind, s.start, s.end) for s in symbols}
    assert got == {
        ("plain", "function", 5, 7),
        ("fetch", "function", 10, 11),
        ("cached", "function", 14, 16),
        ("Outer", "class", 19, 45),
        ("Outer.Inner", "class", 24, 28),
        ("Outer.Inner.method", "method", 25, 28),
        ("Outer.Inner.method.helper", "function", 26, 27),
        ("Outer.area", "property", 30, 33),
        ("Outer.area", "property", 35, 37),  # the setter: same name, its own span
        ("Outer.load", "method", 39, 45),
    }
    by_start = {s.start: s for s in symbols}
    assert by_start[10].signature == "async def fetch(url: str) -> bytes"
    assert by_start[39].signature == "async def load( path, *, strict=False, )"
    assert by_start[19].signature == "class Outer(Base, metaclass=Meta)"
    assert by_start[19].docstring == "An outer class."
    assert by_start[5].docstring == "Add." and by_start[10].docstring is None


def test_syntax_error_falls_back_to_a_scan() -> None:
    source = (
        "class A:\n    def ok(self):\n        return 1\n\n    def broken(self:\n        pass\n\n"
        "def after():\n    x = (\n"
    )
    symbols, parsed = python_symbols("bad.py", source)
    assert not parsed
    assert [(s.name, s.kind, s.start) for s in symbols] == [
        ("A.ok", "method", 2),
        ("A.broken", "method", 5),
        ("A", "class", 1),
        ("after", "function", 8),
    ]
    assert next(s for s in symbols if s.name == "A").end == 6


def test_skeleton_elides_bodies_and_keeps_short_docstrings() -> None:
    text = skeleton(SHAPES)
    assert "return a + b" not in text
    assert '    """Add."""' in text
    assert "    size = 3" in text
    assert "        def method(self):\n            ..." in text
    assert "def helper" not in text
    assert "    async def load(\n        path," in text
