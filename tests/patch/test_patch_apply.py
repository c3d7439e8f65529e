"""Applying edit blocks to texts: matching strategies, statuses and feedback for the model."""

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from swe_lsp.patch import ApplyStatus, EditBlock, apply_edit_blocks, apply_model_output

MODULE = """import os


class Greeter:
    def greet(self, name):
        if not name:
            return "hello"
        return "hello " + name

    def part(self):
        return 1


def other():
    return 1
"""


def edit(search: str, replace: str, path: str = "pkg/greet.py") -> EditBlock:
    return EditBlock(path, search, replace)


def apply_one(block: EditBlock, text: str = MODULE):
    return apply_edit_blocks([block], {block.path: text})


def test_exact_match() -> None:
    result = apply_one(edit('        return "hello " + name\n', '        return f"hello {name}"\n'))
    assert result.status is ApplyStatus.APPLICABLE
    assert result.outcomes[0].strategy == "exact"
    assert result.new_texts["pkg/greet.py"] == MODULE.replace('"hello " + name', 'f"hello {name}"')
    assert result.patch is not None
    assert result.patch.files == ("pkg/greet.py",)


TOLERATED = [
    pytest.param(
        '\n        if not name:   \n            return "hello"\n\n',
        '        if not name:\n            return "hi"\n',
        "whitespace",
        '            return "hi"\n        return "hello " + name',
        id="trailing-whitespace-and-blank-edges",
    ),
    pytest.param(
        # The model quoted the method body at top level; the file has it inside the class.
        'if not name:\n    return "hello"\n',
        'if not name:\n    raise ValueError("no name")\n',
        "reindent",
        '        if not name:\n            raise ValueError("no name")\n',
        id="reindent-shifts-the-replacement-too",
    ),
    pytest.param(
        'def greet(self,   name):\n    if not name:\n\n        return  "hello"\n',
        "def greet(self, name):\n    return name\n",
        "loose",
        "    def greet(self, name):\n        return name\n        return",
        id="loose-inner-whitespace-and-blank-lines",
    ),
]


@pytest.mark.parametrize(("search", "replace", "strategy", "expected"), TOLERATED)
def test_misquoted_search_still_matches(search: str, replace: str, strategy: str, expected: str) -> None:
    result = apply_one(edit(search, replace))
    assert result.status is ApplyStatus.APPLICABLE
    assert result.outcomes[0].strategy == strategy
    assert expected in result.new_texts["pkg/greet.py"]


def test_ambiguous_search_is_a_status_with_the_places() -> None:
    # `return 1` sits in a method (indent 8) and in a function (indent 4): both re-indent matches.
    result = apply_one(edit("return 1\n", "return 2\n"))
    assert result.status is ApplyStatus.AMBIGUOUS
    assert result.new_texts == {}
    assert result.patch is None
    assert "2 times" in result.feedback_text
    assert "lines 11, 15" in result.feedback_text


def test_reindent_needs_one_consistent_shift() -> None:
    # Both places have the same lines once stripped; only the first is the SEARCH text shifted.
    text = "  if x:\n    y()\nif x:\ny()\n"
    result = apply_edit_blocks([edit("if x:\n  y()\n", "if x:\n  z()\n", "a.txt")], {"a.txt": text})
    assert result.status is ApplyStatus.APPLICABLE
    assert result.outcomes[0].strategy == "reindent"
    assert result.new_texts["a.txt"] == "  if x:\n    z()\nif x:\ny()\n"


def test_exact_ambiguity_is_not_resolved_by_a_looser_strategy() -> None:
    result = apply_edit_blocks([edit("x = 1\n", "x = 2\n", "a.txt")], {"a.txt": "x = 1\ny\nx = 1\n"})
    assert result.status is ApplyStatus.AMBIGUOUS


def test_unmatched_feedback_names_block_file_and_nearest_lines() -> None:
    blocks = [
        edit("import os\n", "import os\nimport sys\n"),
        edit('        return "helo " + nme\n', "        pass\n"),
    ]
    result = apply_edit_blocks(blocks, {"pkg/greet.py": MODULE})
    assert result.status is ApplyStatus.UNMATCHED
    assert [o.status for o in result.outcomes] == [ApplyStatus.APPLICABLE, ApplyStatus.UNMATCHED]
    (message,) = result.feedback
    assert "Edit 2 (`pkg/greet.py`)" in message
    assert "not found" in message
    # Line numbers are those of the text the block was applied to: after edit 1 added a line.
    assert 'line 9:\n```\n9 |         return "hello " + name\n```' in message


def test_missing_file_and_escaping_path_are_unmatched() -> None:
    result = apply_edit_blocks(
        [edit("x\n", "y\n", "nope.py"), edit("x\n", "y\n", "../etc/passwd")], {"pkg/greet.py": MODULE}
    )
    assert result.status is ApplyStatus.UNMATCHED
    assert "no such file" in result.feedback[0]
    assert "relative to the repository root" in result.feedback[1]


def test_syntax_error_is_rejected_with_its_line() -> None:
    result = apply_one(edit("def other():\n    return 1\n", "def other(:\n    return 1\n"))
    assert result.status is ApplyStatus.SYNTAX_ERROR
    assert result.patch is None
    (error,) = result.syntax_errors
    assert (error.path, error.line) == ("pkg/greet.py", 14)
    assert "line 14" in result.feedback_text
    assert "def other(:" in result.feedback_text


def test_file_that_never_parsed_is_not_blamed() -> None:
    broken = "print 'python 2'\nx = 1\n"
    result = apply_edit_blocks([edit("x = 1\n", "x = 2\n", "old.py")], {"old.py": broken})
    assert result.status is ApplyStatus.APPLICABLE


def test_empty_diff() -> None:
    result = apply_one(edit("def other():\n", "def other():\n"))
    assert result.status is ApplyStatus.EMPTY_DIFF
    assert result.patch is None


def test_unparsed_model_output() -> None:
    result = apply_model_output("The fix is to add a check.", {"pkg/greet.py": MODULE})
    assert result.status is ApplyStatus.UNPARSED
    assert result.feedback


def test_new_file_and_sequential_blocks() -> None:
    blocks = [
        edit("", "def helper():\n    return 3\n", "pkg/helper.py"),
        edit("import os\n", "import os\n\nfrom pkg.helper import helper\n"),
        edit("def other():\n    return 1\n", "def other():\n    return helper()\n"),
    ]
    result = apply_edit_blocks(blocks, {"pkg/greet.py": MODULE})
    assert result.status is ApplyStatus.APPLICABLE
    assert result.original_texts["pkg/helper.py"] is None
    assert result.new_texts["pkg/helper.py"] == "def helper():\n    return 3\n"
    assert "new file mode" in result.patch.diff
    assert result.patch.files == ("pkg/greet.py", "pkg/helper.py")


def test_crlf_and_missing_final_newline_are_kept(tmp_path: Path) -> None:
    (tmp_path / "w.py").write_bytes(b"a = 1\r\nb = 2\r\nc = 3")
    result = apply_edit_blocks([edit("b = 2\n", "b = 20\nbb = 21\n", "w.py")], tmp_path)
    assert result.status is ApplyStatus.APPLICABLE
    assert result.new_texts["w.py"] == "a = 1\r\nb = 20\r\nbb = 21\r\nc = 3"
    assert (tmp_path / "w.py").read_bytes() == b"a = 1\r\nb = 2\r\nc = 3"  # never written


def test_editing_the_last_line_without_newline() -> None:
    result = apply_edit_blocks([edit("c = 3\n", "c = 30\n", "w.py")], {"w.py": "a = 1\nc = 3"})
    assert result.new_texts["w.py"] == "a = 1\nc = 30"


def test_unmatched_multi_line_search_points_at_the_misquoted_place() -> None:
    source = (Path(__file__).parent / "data" / "validators.py.txt").read_text()
    misquoted = (
        "    def __call__(self, val):\n"
        "        matches = self.regex.search(str(val))\n"
        "        invalid = matches if self.inverse_match else not matches\n"
    )
    result = apply_edit_blocks([edit(misquoted, "", "v.py")], {"v.py": source})
    assert result.status is ApplyStatus.UNMATCHED
    assert "lines 24-26:" in result.feedback_text
    assert "24 |     def __call__(self, value):" in result.feedback_text


PIECES = st.sampled_from(
    ["<<<<<<< SEARCH", "=======", ">>>>>>> REPLACE", "### pkg/greet.py", "### x.py", "", "import os"]
)


@settings(max_examples=150, deadline=None)
@given(st.lists(st.one_of(PIECES, st.text(max_size=20)), max_size=20))
def test_any_model_output_gives_a_status_not_an_exception(pieces: list[str]) -> None:
    result = apply_model_output("\n".join(pieces), {"pkg/greet.py": MODULE, "x.py": "import os\n"})
    assert isinstance(result.status, ApplyStatus)
    assert result.ok == (result.patch is not None)
    assert result.ok or result.feedback


def test_importing_the_package_stays_light() -> None:
    code = "import sys, swe_lsp.patch; print(sorted({'torch', 'transformers', 'vllm'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    assert out.stdout.strip() == "[]"
