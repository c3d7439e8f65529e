"""Every tool call's output on the fixture repository, and malformed calls."""

from __future__ import annotations

from pathlib import Path

import pytest

from swe_lsp.workspace import RepoIndex, Tools
from swe_lsp.workspace.tools import MAX_LISTED


@pytest.fixture
def tools(fixture_repo: Path) -> Tools:
    return Tools(RepoIndex.build_or_load(fixture_repo, None))


def call(tools: Tools, name: str, **args: object) -> str:
    result = tools.call(name, args)
    assert result.ok, result.text
    return result.text


def test_search_class(tools: Tools) -> None:
    assert call(tools, "search_class", class_name="QuerySet") == (
        "Found 1 matches of class `QuerySet`:\n\n"
        "pkg/query.py:1-8 QuerySet\n"
        'class QuerySet:\n    """Lazy rows."""\n\n    def filter(self, **kwargs):\n        ...\n\n'
        "    def exclude(self, **kwargs):\n        ..."
    )
    assert call(tools, "search_class", class_name="Nope") == "No class `Nope` found."


def test_search_class_in_file(tools: Tools) -> None:
    text = call(tools, "search_class_in_file", class_name="Inner", file_path="pkg/shapes.py")
    assert text.startswith(
        "Found 1 matches of class `Inner` in pkg/shapes.py:\n\npkg/shapes.py:24-28 Outer.Inner\n"
    )
    assert "class Inner:\n    def method(self):\n        ..." in text
    assert call(tools, "search_class_in_file", class_name="Inner", file_path="pkg/query.py") == (
        "No class `Inner` in pkg/query.py found."
    )


def test_search_method_shows_code(tools: Tools) -> None:
    assert call(tools, "search_method", method_name="filter") == (
        "Found 2 matches of method `filter`:\n\n"
        "pkg/query.py:4-5 QuerySet.filter\n"
        "    4     def filter(self, **kwargs):\n"
        '    5         raise ValueError("Cannot filter a sliced query set")\n\n'
        "pkg/query.py:11-12 filter\n"
        "   11 def filter(rows):\n"
        "   12     return [r for r in rows if r]"
    )


def test_search_method_in_class_and_file(tools: Tools) -> None:
    text = call(tools, "search_method_in_class", method_name="area", class_name="Outer")
    assert text.startswith("Found 2 matches of method `area` in class `Outer`:")
    assert "pkg/shapes.py:30-33 Outer.area" in text and "pkg/shapes.py:35-37 Outer.area" in text
    assert call(tools, "search_method_in_class", method_name="filter", class_name="Outer") == (
        "No method `filter` in class `Outer` found."
    )
    text = call(tools, "search_method_in_file", method_name="filter", file_path="pkg/query.py")
    assert text.startswith("Found 2 matches of method `filter` in pkg/query.py:")


def test_search_code_collapses_past_a_few_hits(tools: Tools, fixture_repo: Path) -> None:
    assert call(tools, "search_code", code_str="raise ValueError") == (
        "Found 1 matches of code `raise ValueError`:\n"
        '- pkg/query.py:5: raise ValueError("Cannot filter a sliced query set")'
    )
    (fixture_repo / "pkg" / "many.py").write_text("x = 1\n" * (MAX_LISTED + 1))
    tools.index.update(["pkg/many.py"])
    assert call(tools, "search_code", code_str="x = 1") == (
        "Found 11 matches of code `x = 1` (too many to show; narrow the search to a file):\n- pkg/many.py: 11"
    )
    assert call(tools, "search_code_in_file", code_str="kwargs", file_path="pkg/query.py") == (
        "Found 3 matches of code `kwargs` in pkg/query.py:\n"
        "- pkg/query.py:4: def filter(self, **kwargs):\n"
        "- pkg/query.py:7: def exclude(self, **kwargs):\n"
        "- pkg/query.py:8: return self.filter(**kwargs)"
    )
    assert call(tools, "search_code", code_str="no such text") == "No code `no such text` found."


def test_view_file_and_skeleton(tools: Tools) -> None:
    assert call(tools, "view_file", path="pkg/query.py", start=11, end=12) == (
        "pkg/query.py lines 11-12 of 12:\n   11 def filter(rows):\n   12     return [r for r in rows if r]"
    )
    assert call(tools, "view_file", path="pkg/query.py", start=1, end=1).endswith(
        "[11 more lines; call view_file with start=2]"
    )
    text = call(tools, "get_skeleton", path="pkg/query.py")
    assert text.startswith("Skeleton of pkg/query.py:\nclass QuerySet:")
    assert "raise ValueError" not in text
    assert call(tools, "get_skeleton", path="docs/guide.txt") == (
        "docs/guide.txt is not a Python file; use view_file to read it."
    )


@pytest.mark.parametrize(
    ("name", "args", "message"),
    [
        ("search_klass", {"class_name": "A"}, "unknown tool `search_klass`"),
        ("search_class", {}, "missing argument(s) class_name"),
        ("search_class", {"class_name": "A", "x": 1}, "unknown argument(s) x"),
        ("search_class", {"class_name": "  "}, "`class_name` must be a non-empty string"),
        ("view_file", {"path": "pkg/query.py", "start": "1"}, "`start` must be a non-empty integer"),
        ("view_file", {"path": "pkg/query.py", "start": 50}, "outside pkg/query.py, which has 12 lines"),
        ("view_file", {"path": "../etc/passwd"}, "not a path inside the repository"),
        (
            "get_skeleton",
            {"path": "query.py"},
            "no file `query.py` in the repository. Did you mean: pkg/query.py?",
        ),
    ],
)
def test_malformed_calls_say_so(tools: Tools, name: str, args: dict, message: str) -> None:
    result = tools.call(name, args)
    assert not result.ok
    assert result.text.startswith("Malformed call")
    assert message in result.text


def test_specs_describe_every_tool() -> None:
    names = [spec.name for spec in Tools.specs()]
    assert names == [
        "search_class", "search_class_in_file", "search_method", "search_method_in_class",
        "search_method_in_file", "search_code", "search_code_in_file", "view_file", "get_skeleton",
    ]  # fmt: skip
