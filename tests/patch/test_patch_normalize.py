"""Dedup keys: equal for patches that differ only in formatting, different otherwise."""

from swe_lsp.patch import Patch, dedup_key, patch_dedup_key

ORIGINAL = {"m.py": "def f(a, b):\n    return a + b\n", "README": "Some  text\n"}


def test_reformatted_python_has_the_same_key() -> None:
    one = {"m.py": "def f(a, b):\n    if a is None:\n        return b\n    return a + b\n"}
    two = {"m.py": "def f(a,b):\n\n    # guard\n    if (a is None):  return b\n    return (a + b)\n"}
    assert dedup_key(one) == dedup_key(two)


def test_different_python_has_a_different_key() -> None:
    one = {"m.py": "def f(a, b):\n    return a + b\n"}
    two = {"m.py": "def f(a, b):\n    return a - b\n"}
    three = {"other.py": "def f(a, b):\n    return a + b\n"}
    assert len({dedup_key(one), dedup_key(two), dedup_key(three)}) == 3


def test_non_python_and_unparsable_python_compare_whitespace_normalized_text() -> None:
    assert dedup_key({"README": "Some text\n\n"}) == dedup_key({"README": "  Some   text\n"})
    assert dedup_key({"README": "Some text\n"}) != dedup_key({"README": "Some texts\n"})
    assert dedup_key({"m.py": "def f(:\n  pass"}) == dedup_key({"m.py": "def  f(:\n\n    pass\n"})
    assert dedup_key({"m.py": "x = 1\n"}) != dedup_key({"m.py": None})


def test_a_file_only_reformatted_is_ignored_given_the_originals() -> None:
    fix = {"m.py": "def f(a, b):\n    return a * b\n"}
    fix_and_reformat = {**fix, "README": "Some text\n"}
    assert dedup_key(fix, ORIGINAL) == dedup_key(fix_and_reformat, ORIGINAL)
    assert dedup_key(fix) != dedup_key(fix_and_reformat)


def test_patch_key_applies_the_diff_first() -> None:
    one = Patch.from_texts(ORIGINAL, {"m.py": "def f(a, b):\n    return b + a\n"})
    two = Patch.from_texts(ORIGINAL, {"m.py": "def f(a, b):\n    return (b +\n            a)\n"})
    three = Patch.from_texts(ORIGINAL, {"m.py": "def f(a, b):\n    return a + b + 0\n"})
    assert patch_dedup_key(one, ORIGINAL) == patch_dedup_key(two, ORIGINAL)
    assert patch_dedup_key(one, ORIGINAL) != patch_dedup_key(three, ORIGINAL)
