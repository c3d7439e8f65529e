"""LSP edits: minimal TextEdits in UTF-16 positions, new and deleted files, stale checks."""

import itertools
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lsprotocol.types import CreateFile, DeleteFile, Position, TextDocumentEdit, TextEdit

from swe_lsp.patch import (
    Patch,
    content_hash,
    document_uri,
    patch_workspace_edit,
    stale_files,
    text_edits,
    workspace_edit,
)

ROOT = "file:///home/me/project"


def offset_of(text: str, position: Position) -> int:
    """What an editor does: find the line by LSP line breaks, then count UTF-16 units into it."""
    breaks = list(re.finditer(r"\r\n|\r|\n", text))
    starts = [0] + [m.end() for m in breaks]
    start = starts[position.line]
    line_end = breaks[position.line].start() if position.line < len(breaks) else len(text)
    units = 0
    offset = start
    while units < position.character:
        units += 2 if ord(text[offset]) > 0xFFFF else 1
        offset += 1
    assert units == position.character, "position splits a surrogate pair"
    # An editor clamps a column past the end of the line: a position inside `\r\n` is not one.
    assert offset <= line_end, "position is inside a line break"
    return offset


def apply_edits(text: str, edits: list[TextEdit]) -> str:
    spans = [(offset_of(text, e.range.start), offset_of(text, e.range.end), e.new_text) for e in edits]
    assert all(a[1] <= b[0] for a, b in itertools.pairwise(spans)), "edits overlap"
    for start, end, new_text in reversed(spans):
        text = text[:start] + new_text + text[end:]
    return text


def test_positions_count_utf16_units_after_an_emoji() -> None:
    original = 'greeting = "🎉 hi"\nname = "x"\n'
    new = 'greeting = "🎉 yo"\nname = "x"\n'
    (edit,) = text_edits(original, new)
    # `greeting = "` is 12 units, the emoji 2 more, the space 1: "hi" starts at 15, not 14.
    assert (edit.range.start.line, edit.range.start.character) == (0, 15)
    assert (edit.range.end.line, edit.range.end.character) == (0, 17)
    assert edit.new_text == "yo"


def test_one_minimal_edit_per_changed_region() -> None:
    original = "a\nb\nc\nd\ne\nf\n"
    new = "a\nB\nc\nd\ne\nf\ng\n"
    edits = text_edits(original, new)
    assert [(e.range.start.line, e.range.start.character, e.range.end.line, e.new_text) for e in edits] == [
        (1, 0, 1, "B"),
        (6, 0, 6, "g\n"),
    ]
    assert apply_edits(original, edits) == new


@pytest.mark.parametrize(
    ("original", "new"),
    [("x = 1\r\ny = 2\r\n", "x = 1\ny = 2\r\n"), ("x\r\n", "x\rz\n"), ("a\r\nb\n", "a\nb\r\n")],
)
def test_crlf_line_break_is_never_split(original: str, new: str) -> None:
    assert apply_edits(original, text_edits(original, new)) == new


SAMPLE = st.sampled_from(["a", "é", "🎉", "\n", "\r\n", "\r", " ", "x", "🐍b"])
DOC = st.lists(SAMPLE, max_size=30).map("".join)


@settings(max_examples=300, deadline=None)
@given(DOC, DOC)
def test_text_edits_turn_original_into_new(original: str, new: str) -> None:
    assert apply_edits(original, text_edits(original, new)) == new


def test_workspace_edit_with_versions_new_and_deleted_files_and_hashes() -> None:
    original = {"src/mod.py": "x = 1\n", "gone.py": "y = 1\n"}
    new = {"src/mod.py": "x = 2\n", "gone.py": None, "src/new file.py": "z = 1\n"}
    prepared = workspace_edit(ROOT, original, new, versions={"src/mod.py": 7})
    changes = prepared.edit.document_changes
    assert isinstance(changes[0], DeleteFile)
    assert changes[0].uri == f"{ROOT}/gone.py"
    assert isinstance(changes[1], TextDocumentEdit)
    assert (changes[1].text_document.uri, changes[1].text_document.version) == (f"{ROOT}/src/mod.py", 7)
    assert isinstance(changes[2], CreateFile)
    assert changes[2].uri == f"{ROOT}/src/new%20file.py"
    assert changes[3].text_document.version is None
    assert changes[3].edits[0].new_text == "z = 1\n"
    assert prepared.base_hashes == {
        "gone.py": content_hash("y = 1\n"),
        "src/mod.py": content_hash("x = 1\n"),
        "src/new file.py": None,
    }


def test_stale_files_detects_changes_since_the_snapshot() -> None:
    original = {"a.py": "x = 1\n"}
    prepared = workspace_edit(ROOT, original, {"a.py": "x = 2\n", "b.py": "new\n"})
    assert stale_files(prepared.base_hashes, {"a.py": "x = 1\n"}) == ()
    assert stale_files(prepared.base_hashes, {"a.py": "x = 1  # edited\n"}) == ("a.py",)
    assert stale_files(prepared.base_hashes, {"a.py": "x = 1\n", "b.py": "exists now\n"}) == ("b.py",)


def test_edit_for_accepted_hunks_only() -> None:
    lines = [f"line {k}\n" for k in range(30)]
    original = {"f.txt": "".join(lines)}
    changed = lines.copy()
    changed[2], changed[25] = "LINE 2\n", "LINE 25\n"
    patch = Patch.from_texts(original, {"f.txt": "".join(changed)})
    _first, second = patch.hunks()
    prepared = patch_workspace_edit(ROOT, patch, original, hunk_ids=[second.id])
    (document_edit,) = prepared.edit.document_changes
    (edit,) = document_edit.edits
    assert (edit.range.start.line, edit.new_text) == (25, "LINE")
    assert document_uri(ROOT, "f.txt") == document_edit.text_document.uri
