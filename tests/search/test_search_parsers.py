"""The parsers of model text: exact on well-formed answers, and never raising on arbitrary text."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from swe_lsp.llm import get_manifest, regex_not_starting
from swe_lsp.llm.limits import Limits
from swe_lsp.search.model import Location
from swe_lsp.search.prompts import (
    code_context,
    parse_file_answer,
    parse_localize_answer,
    parse_script,
    patch_regex,
    understand_regex,
)
from swe_lsp.search.prompts.localize import localize_regex
from swe_lsp.search.prompts.patch import PatchForm
from swe_lsp.search.turns import THINK_BODY, split_turn
from swe_lsp.workspace import Tools

SPECS = Tools.specs()
PATHS = ["pkg/a.py", "pkg/b.py", "README.md"]
# Text made of the pieces model output is made of, so the fuzzer reaches the interesting branches.
PIECES = st.sampled_from(
    [
        "<think>",
        "</think>",
        "<answer>",
        "</answer>",
        "LOCATIONS",
        "\n",
        "pkg/a.py",
        "::",
        ":1-3",
        "[",
        "]",
        '"',
        ",",
        "search_class(",
        ")",
        "view_file(",
        "```python\n",
        "```",
        "ISSUE REPRODUCED",
        "sys.exit(1)",
        "x = (",
        "\x00",
        "é",
        " ",
    ]
)
MODEL_TEXT = st.one_of(st.text(max_size=300), st.lists(PIECES, max_size=40).map("".join))


@settings(max_examples=300, deadline=None)
@given(MODEL_TEXT)
def test_no_parser_raises(text: str) -> None:
    turn = split_turn(text)
    files, why = parse_file_answer(turn.answer, PATHS, 5)
    assert set(files) <= set(PATHS) and len(files) <= 5
    assert bool(files) != bool(why)
    parsed = parse_localize_answer(turn.answer, SPECS, 5)
    assert all(call.name in {s.name for s in SPECS} for call in parsed.calls)
    script, problem = parse_script(turn.answer)
    assert (script is None) == bool(problem)


def test_think_and_answer_are_split() -> None:
    assert split_turn("<think>hmm</think>\n<answer>x</answer>").think == "hmm"
    assert split_turn("<think>hmm</think>\n<answer>x</answer>").answer == "x"
    assert split_turn("no tags at all").answer == "no tags at all"
    assert split_turn("<think>cut off").answer == ""
    assert split_turn("thinking</think> tail").answer == "tail"


def test_file_answer_keeps_existing_files_in_order() -> None:
    assert parse_file_answer('["pkg/b.py", "nope.py", "pkg/a.py", "pkg/b.py"]', PATHS, 5)[0] == (
        "pkg/b.py",
        "pkg/a.py",
    )
    assert parse_file_answer("look at pkg/a.py", PATHS, 5)[0] == ("pkg/a.py",)
    assert parse_file_answer("[]", PATHS, 5)[0] == ()


def test_tool_calls_and_locations_are_read() -> None:
    calls = parse_localize_answer(
        'search_method_in_file("mean", "pkg/a.py")\nview_file("pkg/a.py", 1, 9)', SPECS, 5
    )
    assert [(c.name, dict(c.args)) for c in calls.calls] == [
        ("search_method_in_file", {"method_name": "mean", "file_path": "pkg/a.py"}),
        ("view_file", {"path": "pkg/a.py", "start": 1, "end": 9}),
    ]
    locs = parse_localize_answer("LOCATIONS\npkg/a.py::Foo.bar\npkg/b.py:3-7\n`pkg/a.py`", SPECS, 5)
    assert locs.final
    assert locs.locations == (
        ("pkg/a.py", "Foo.bar", None, None),
        ("pkg/b.py", None, 3, 7),
        ("pkg/a.py", None, None, None),
    )
    bad = parse_localize_answer("os.system('rm -rf /')", SPECS, 5)
    assert not bad.calls and bad.problems


def test_constraints_accept_well_formed_turns_only() -> None:
    files = understand_regex(PATHS, 5)
    assert re.fullmatch(files, '<think>a</think>\n<answer>["pkg/a.py", "README.md"]</answer>', re.DOTALL)
    assert not re.fullmatch(files, '<answer>["nope.py"]</answer>', re.DOTALL)
    final = localize_regex(SPECS, {"pkg/a.py": ("mean",)}, final=True, max_locations=5)
    assert re.fullmatch(final, "<answer>LOCATIONS\npkg/a.py::mean</answer>", re.DOTALL)
    assert not re.fullmatch(final, "<answer>LOCATIONS\npkg/a.py::other</answer>", re.DOTALL)
    assert not re.fullmatch(final, '<answer>search_class("X")</answer>', re.DOTALL)


def test_script_needs_a_verdict_and_valid_python() -> None:
    assert parse_script("```python\nimport sys\nprint('ISSUE RESOLVED')\n```")[0] is not None
    assert parse_script("```python\ndef (:\n```")[0] is None
    assert parse_script("print('hello')")[0] is None


CODE = ["def add(a, b):", '    """Add two numbers."""', "    return a - b", "", "", "def mul(a, b):"]


def _patch_turn(search: list[str], replace: list[str], think: str = "step") -> str:
    block = "\n".join(["### calc.py", "<<<<<<< SEARCH", *search, "=======", *replace, ">>>>>>> REPLACE"])
    return f"<think>{think}</think>\n<answer>\n{block}\n</answer>"


TINY = PatchForm.from_limits(get_manifest("smollm2-135m").limits)
STRONG = PatchForm.from_limits(Limits())


def test_patch_constraint_quotes_the_shown_code_exactly() -> None:
    regex = patch_regex(
        [Location("calc.py", 1, 3, "add")], lambda path: CODE if path == "calc.py" else None, TINY
    )
    assert regex is not None
    accepts = lambda text: re.fullmatch(regex, text, re.DOTALL) is not None  # noqa: E731
    assert accepts(_patch_turn(CODE[1:3], ['    """Add two numbers."""', "    return a + b"]))
    assert accepts(_patch_turn(CODE[2:3], ["    return a + b", "", "# a < b, ``` inline", "========"]))
    assert accepts(_patch_turn(CODE[2:3], ["    return a + b"], think="if a < b: quote </thin"))
    # An invented line, a changed indent, lines out of order, a SEARCH starting or ending blank:
    assert not accepts(_patch_turn(["def add(x, y):"], ["def add(x, y):"]))
    assert not accepts(_patch_turn(["return a - b"], ["return a + b"]))
    assert not accepts(_patch_turn([CODE[2], CODE[0]], ["x"]))
    assert not accepts(_patch_turn(CODE[3:6], ["x"]))
    assert not accepts(_patch_turn(CODE[2:4], ["x"]))  # ends on a blank line
    assert accepts(_patch_turn(CODE[2:6], ["x"]))  # blank lines inside a SEARCH are fine
    # A file that was not shown, a fence or a merge marker in REPLACE, `</think>` inside the thinking.
    assert not accepts(_patch_turn(CODE[2:3], ["x"]).replace("### calc.py", "### other.py"))
    assert not accepts(_patch_turn(CODE[2:3], ["```python", "    return a + b"]))
    assert not accepts(_patch_turn(CODE[2:3], ["=======", "    return a + b"]))
    assert not accepts(_patch_turn(CODE[2:3], ["x"], think="a </think> b"))
    assert patch_regex([Location("gone.py", 1, 3)], lambda path: None, TINY) is None


LONG = ["import os", "", "", "# one", "# two", "# three", "# four", "", "", "def f(x):"]
LONG += [*[f"    x += {i}" for i in range(12)], "    return x", ""]


def test_the_strong_form_quotes_any_shown_lines_in_many_blocks_and_may_add_files() -> None:
    def read(path: str) -> list[str] | None:
        return LONG if path == "m.py" else None

    tiny = patch_regex([Location("m.py", 10, 23, "f")], read, TINY)
    strong = patch_regex([Location("m.py", 10, 23, "f")], read, STRONG)
    assert tiny is not None and strong is not None

    def turn(*blocks: tuple[str, list[str], list[str]]) -> str:
        body = "\n\n".join(
            "\n".join([f"### {p}", "<<<<<<< SEARCH", *s, "=======", *r, ">>>>>>> REPLACE"])
            for p, s, r in blocks
        )
        return f"<answer>\n{body}\n</answer>"

    whole = turn(("m.py", LONG[9:23], ["def f(x):", "    return x + 66"]))  # 14 lines: over the tiny 6
    assert re.fullmatch(strong, whole, re.DOTALL) and not re.fullmatch(tiny, whole, re.DOTALL)
    many = turn(*[("m.py", [LONG[10 + i]], [LONG[10 + i] + "  # seen"]) for i in range(6)])  # 6 blocks > 4
    assert re.fullmatch(strong, many, re.DOTALL) and not re.fullmatch(tiny, many, re.DOTALL)
    new = turn(
        ("m.py", ["    return x"], ["    return helper(x)"]), ("pkg/helper.py", [], ["def helper(x):"])
    )
    assert re.fullmatch(strong, new, re.DOTALL) and not re.fullmatch(tiny, new, re.DOTALL)
    # The import header is shown (and may be quoted) only in the strong form.
    imports = turn(("m.py", ["import os"], ["import os", "import sys"]))
    assert re.fullmatch(strong, imports, re.DOTALL) and not re.fullmatch(tiny, imports, re.DOTALL)
    assert "import os" in code_context([Location("m.py", 10, 23, "f")], read, STRONG.shown_lines, True)
    # Still only shown lines, exactly, and a SEARCH may not start on a blank line.
    assert not re.fullmatch(strong, turn(("m.py", ["    x += 99"], ["y"])), re.DOTALL)
    assert not re.fullmatch(strong, turn(("m.py", ["", "def f(x):"], ["y"])), re.DOTALL)
    assert not re.fullmatch(strong, turn(("other.py", ["import os"], ["y"])), re.DOTALL)


def test_tool_arguments_may_quote_code() -> None:
    final = localize_regex(SPECS, {"pkg/a.py": ("mean",)}, final=False, max_locations=5)
    call = 'search_code("raise ValueError(\\"empty\\")")'
    assert re.fullmatch(final, f"<answer>{call}</answer>", re.DOTALL)
    assert re.fullmatch(final, "<answer>search_code('x = \"%s\" % name')</answer>", re.DOTALL)
    parsed = parse_localize_answer(call, SPECS, 5)
    assert [dict(c.args) for c in parsed.calls] == [{"code_str": 'raise ValueError("empty")'}]


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="</think>ab\n", max_size=24))
def test_think_body_is_any_text_without_the_closing_tag(text: str) -> None:
    assert (re.fullmatch(THINK_BODY, text) is not None) == ("</think>" not in text)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="`<=ab \n", max_size=12))
def test_regex_not_starting_is_the_exact_complement(text: str) -> None:
    regex = regex_not_starting(["```", "<<<"], ["=="])
    expected = "\n" not in text and not text.startswith(("```", "<<<")) and text != "=="
    assert (re.fullmatch(regex, text) is not None) == expected
