"""Parsing search/replace edit blocks out of model output."""

from hypothesis import given, settings
from hypothesis import strategies as st

from swe_lsp.patch import EditBlock, ParseStatus, parse_edit_blocks
from swe_lsp.patch.blocks import path_from_line

AGENTLESS = """I will fix the bug in `pkg/mod.py`.

```python
### pkg/mod.py
<<<<<<< SEARCH
def f(x):
    return x
=======
def f(x):
    return x + 1
>>>>>>> REPLACE
```
"""


def test_agentless_block_in_a_fence() -> None:
    parsed = parse_edit_blocks(AGENTLESS)
    assert parsed.status is ParseStatus.OK
    assert parsed.blocks == (
        EditBlock("pkg/mod.py", "def f(x):\n    return x\n", "def f(x):\n    return x + 1\n"),
    )


def test_several_blocks_and_files_with_inherited_and_varied_path_lines() -> None:
    text = """# a/one.py
<<<<<<< SEARCH
x = 1
=======
x = 2
>>>>>>> REPLACE

And again in the same file:

<<<<<<< SEARCH
y = 1
=======
>>>>>>> REPLACE

File: b/two.txt
```
<<<<<<< SEARCH
hello
=======
bye
>>>>>>> REPLACE
```
c/three.cfg
<<<<<<< SEARCH
=======
new = true
>>>>>>> REPLACE
"""
    parsed = parse_edit_blocks(text)
    assert parsed.status is ParseStatus.OK, parsed.problems
    assert [b.path for b in parsed.blocks] == ["a/one.py", "a/one.py", "b/two.txt", "c/three.cfg"]
    assert parsed.blocks[1] == EditBlock("a/one.py", "y = 1\n", "")
    assert parsed.blocks[3] == EditBlock("c/three.cfg", "", "new = true\n")


def test_crlf_model_output_is_read_as_lines() -> None:
    parsed = parse_edit_blocks(AGENTLESS.replace("\n", "\r\n"))
    assert parsed.blocks[0].search == "def f(x):\n    return x\n"


def test_no_block_is_unparsed_with_a_hint() -> None:
    parsed = parse_edit_blocks("I think the bug is in the parser.")
    assert parsed.status is ParseStatus.UNPARSED
    assert parsed.blocks == ()
    assert "SEARCH" in parsed.problems[0]


def test_unclosed_and_pathless_blocks_are_problems_not_blocks() -> None:
    text = """Some prose here
<<<<<<< SEARCH
a
=======
b
>>>>>>> REPLACE
### ok.py
<<<<<<< SEARCH
c
=======
d
>>>>>>> REPLACE
### late.py
<<<<<<< SEARCH
e
"""
    parsed = parse_edit_blocks(text)
    assert parsed.status is ParseStatus.PARTIAL
    assert parsed.blocks == (EditBlock("ok.py", "c\n", "d\n"),)
    assert any("Edit 1 has no file path" in p for p in parsed.problems)
    assert any("Edit 3 ends without `=======`" in p for p in parsed.problems)


def test_path_lines() -> None:
    assert path_from_line("### src/a.py") == "src/a.py"
    assert path_from_line("**File:** `./src/b.py`") == "src/b.py"
    assert path_from_line("Edit `pkg/c.py`:") == "pkg/c.py"
    assert path_from_line("Makefile") == "Makefile"
    assert path_from_line("Here is the fix:") is None
    assert path_from_line("x = compute(a, b)") is None


MARKERS = st.sampled_from(
    ["<<<<<<< SEARCH", "=======", ">>>>>>> REPLACE", "### a.py", "```", "```python", "", "x", "\r"]
)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.one_of(MARKERS, st.text()), max_size=30))
def test_parser_never_raises(pieces: list[str]) -> None:
    parsed = parse_edit_blocks("\n".join(pieces))
    assert isinstance(parsed.status, ParseStatus)
    assert (parsed.status is ParseStatus.UNPARSED) == (not parsed.blocks)
    for block in parsed.blocks:
        assert block.path
        assert block.search == "" or block.search.endswith("\n")


def test_a_docstring_underline_in_search_is_code_when_the_divider_follows() -> None:
    # SymPy's docstrings underline every section with `    ========`: quoting one must not end SEARCH.
    text = (
        "### a.py\n<<<<<<< SEARCH\n    Examples\n    ========\n"
        "=======\n    Examples\n    --------\n>>>>>>> REPLACE\n"
    )
    (block,) = parse_edit_blocks(text).blocks
    assert block.search == "    Examples\n    ========\n" and block.replace == "    Examples\n    --------\n"
    # Without an exact divider later, a loose one still divides (models write 5 to 9 `=`).
    (loose,) = parse_edit_blocks("### a.py\n<<<<<<< SEARCH\nx = 1\n  =====\nx = 2\n>>>>>>> REPLACE\n").blocks
    assert (loose.search, loose.replace) == ("x = 1\n", "x = 2\n")
