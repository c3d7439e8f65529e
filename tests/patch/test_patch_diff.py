"""Unified diffs: building them, reading them, applying them, and taking a subset of hunks."""

import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from unidiff import PatchSet

from swe_lsp.patch import FileChange, Patch, PatchApplyError, PatchParseError
from swe_lsp.patch.errors import SweLspError

DATA = Path(__file__).parent / "data"
GOLD_PATH = "django/core/validators.py"


def gold() -> tuple[Patch, str, str]:
    original = (DATA / "validators.py.txt").read_text()
    fixed = (DATA / "validators_fixed.py.txt").read_text()
    return Patch.parse((DATA / "gold.diff").read_text()), original, fixed


def test_modified_file_diff_is_git_style_and_valid() -> None:
    patch = Patch.from_texts({"a.py": "x = 1\ny = 2\n"}, {"a.py": "x = 1\ny = 3\n"})
    assert patch.diff == (
        "diff --git a/a.py b/a.py\n--- a/a.py\n+++ b/a.py\n@@ -1,2 +1,2 @@\n x = 1\n-y = 2\n+y = 3\n"
    )
    assert PatchSet(patch.diff).modified_files[0].path == "a.py"


def test_new_and_deleted_files() -> None:
    patch = Patch.from_texts({"old.py": "gone = 1\n"}, {"new.py": "fresh = 1\n", "old.py": None})
    parsed = PatchSet(patch.diff)
    assert [f.path for f in parsed.added_files] == ["new.py"]
    assert [f.path for f in parsed.removed_files] == ["old.py"]
    assert "--- /dev/null\n+++ b/new.py\n@@ -0,0 +1 @@\n+fresh = 1\n" in patch.diff
    assert "--- a/old.py\n+++ /dev/null\n@@ -1 +0,0 @@\n-gone = 1\n" in patch.diff
    changes = {fd.path: fd.change for fd in patch.file_diffs()}
    assert changes == {"new.py": FileChange.ADDED, "old.py": FileChange.DELETED}
    assert patch.apply({"old.py": "gone = 1\n"}) == {"new.py": "fresh = 1\n", "old.py": None}


def test_unchanged_files_give_an_empty_patch() -> None:
    patch = Patch.from_texts({"a": "x\n"}, {"a": "x\n"})
    assert patch.is_empty
    assert patch.diff == ""


def test_missing_final_newline_is_marked_and_restored() -> None:
    patch = Patch.from_texts({"a": "x\ny"}, {"a": "x\ny\n"})
    assert "-y\n\\ No newline at end of file\n+y\n" in patch.diff
    assert Patch.parse(patch.diff).apply({"a": "x\ny"}) == {"a": "x\ny\n"}


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_git_apply_accepts_our_diffs(tmp_path: Path) -> None:
    original = {"m.py": "a\nb\nc", "d.py": "bye\n", "sub/e.txt": "é\r\nz\r\n"}
    new = {"m.py": "a\nB\nc\n", "d.py": None, "n.py": "hi\n", "sub/e.txt": "é\r\nzz\r\n"}
    for path, text in original.items():
        (tmp_path / path).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / path).write_bytes(text.encode())
    (tmp_path / "p.diff").write_bytes(Patch.from_texts(original, new).diff.encode())
    subprocess.run(["git", "apply", "p.diff"], cwd=tmp_path, check=True, capture_output=True)
    assert not (tmp_path / "d.py").exists()
    for path in ("m.py", "n.py", "sub/e.txt"):
        assert (tmp_path / path).read_bytes().decode() == new[path]


def test_gold_patch_applies_hunk_by_hunk() -> None:
    patch, original, fixed = gold()
    assert patch.files == (GOLD_PATH,)
    hunks = patch.hunks()
    assert [h.id for h in hunks] == [f"{GOLD_PATH}#{k}" for k in range(3)]
    assert [h.source_span for h in hunks] == [(20, 25), (30, 36), (40, 46)]
    assert [h.changed_source_lines() for h in hunks] == [(22,), (33,), (43,)]
    assert hunks[0].section == "class RegexValidator:"
    assert patch.apply({GOLD_PATH: original}) == {GOLD_PATH: fixed}


def test_gold_patch_applies_after_unrelated_lines_moved_it() -> None:
    patch, original, fixed = gold()
    header = "# -*- coding: utf-8 -*-\n# Licensed under BSD.\n"
    assert patch.apply({GOLD_PATH: header + original}) == {GOLD_PATH: header + fixed}


def test_mismatched_context_names_file_and_hunk() -> None:
    patch, original, _ = gold()
    drifted = original.replace("class ASCIIUsernameValidator", "class AsciiUsernameValidator")
    with pytest.raises(PatchApplyError, match=r"`django/core/validators.py`: hunk 2 \(@@ -30,7 \+32,7 @@"):
        patch.apply({GOLD_PATH: drifted})
    with pytest.raises(PatchApplyError, match="no such file"):
        patch.apply({})


def test_invalid_diffs_are_user_errors() -> None:
    with pytest.raises(PatchParseError) as info:
        Patch.parse("--- a/x\n+++ b/x\n@@ -1,3 +1,3 @@\n-a\n+b\n")
    assert isinstance(info.value, SweLspError)
    with pytest.raises(PatchParseError):
        Patch.parse("this is not a diff\n")


def test_subset_of_hunks_applies_only_those() -> None:
    patch, original, fixed = gold()
    ids = [h.id for h in patch.hunks()]
    only_last = patch.select([ids[2]])
    (hunk,) = only_last.hunks()
    assert (hunk.source_start, hunk.target_start) == (40, 40)  # the dropped first hunk added 2 lines
    assert [h.target_start for h in patch.select([ids[0], ids[2]]).hunks()] == [20, 42]
    result = only_last.apply({GOLD_PATH: original})[GOLD_PATH]
    assert result.count(r"r'\A[\w.@+-]+\Z'") == 1
    assert "self.inverse_match = inverse_match" not in result
    # Accepting the rest afterwards, against the new text, completes the fix.
    rest = Patch.from_texts({GOLD_PATH: result}, {GOLD_PATH: fixed})
    assert rest.apply({GOLD_PATH: result}) == {GOLD_PATH: fixed}
    assert patch.select(ids).apply({GOLD_PATH: original}) == {GOLD_PATH: fixed}
    assert patch.select([]).is_empty
    with pytest.raises(PatchApplyError, match="No such hunk"):
        patch.select([f"{GOLD_PATH}#9"])


LINE = st.sampled_from(["", "a", "b", "c", "def f():", "    return 1", "é🎉", "x\r", "\x0c"])
TEXT = st.lists(LINE, max_size=25).map("\n".join) | st.text(max_size=60)
FILES = st.dictionaries(st.sampled_from(["a.py", "b/c.txt", "d"]), st.none() | TEXT, max_size=3)


@settings(max_examples=200, deadline=None)
@given(FILES, FILES, st.integers(min_value=0, max_value=4))
def test_round_trip_texts_to_diff_and_back(original: dict, new: dict, context: int) -> None:
    patch = Patch.from_texts(original, new, context=context)
    reparsed = Patch.parse(patch.diff)
    assert reparsed.files == patch.files
    applied = reparsed.apply(original)
    expected = {path: text for path, text in new.items() if original.get(path) != text}
    assert applied == expected
    # Any subset of hunks applies too; all of them, with the hunkless files, is the whole patch.
    hunk_ids = [h.id for h in patch.hunks()]
    reparsed.select(hunk_ids[::2]).apply(original)
    hunkless = [fd.path for fd in patch.file_diffs() if not fd.hunks]
    assert patch.select(hunk_ids + hunkless).diff == patch.diff
    assert patch.select(hunk_ids + hunkless).apply(original) == applied
    assert patch.select(patch.files) == patch
