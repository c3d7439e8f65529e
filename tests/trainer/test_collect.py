"""Step 1: the paper's filters, each with kept and dropped cases, and collection from both sources."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from trainer.cli import main
from trainer.filters import (
    apply_filters,
    code_files,
    count_links,
    is_test_path,
    issue_length,
    issue_links,
    patch_size,
)
from trainer.instances import DataError, Instance, read_instances


def _diff(*paths: str) -> str:
    return "".join(f"--- a/{p}\n+++ b/{p}\n@@ -1 +1 @@\n-x = 1\n+x = 2\n" for p in paths)


def _inst(
    text: str = "The parser drops the last line of the input file.", patch: str | None = None
) -> Instance:
    return Instance("i", "o/r", "abc", text, _diff("pkg/a.py") if patch is None else patch)


def test_issue_length_keeps_twenty_characters_and_drops_fewer() -> None:
    assert issue_length(_inst("x" * 20)) == ""
    assert "19 characters" in issue_length(_inst("x" * 19 + "   "))


def test_issue_links_keeps_three_and_drops_four() -> None:
    three = "See https://a.org/1 and http://b.org/2 and www.c.org for details of the crash."
    assert count_links(three) == 3 and issue_links(_inst(three)) == ""
    assert "4 hyperlinks" in issue_links(_inst(three + " Also https://d.org."))


def test_patch_size_counts_non_test_code_files_only() -> None:
    assert patch_size(_inst(patch=_diff("pkg/a.py", "docs/index.rst", "tests/test_a.py"))) == ""
    assert patch_size(_inst(patch=_diff(*(f"pkg/m{i}.py" for i in range(5))))) == ""
    assert "6 non-test code files" in patch_size(_inst(patch=_diff(*(f"pkg/m{i}.py" for i in range(6)))))
    assert "0 non-test code files" in patch_size(_inst(patch=_diff("tests/test_a.py", "README.md")))
    assert "0 non-test" in patch_size(_inst(patch="not a diff"))


@pytest.mark.parametrize(
    ("path", "test"),
    [
        ("tests/test_a.py", True),
        ("pkg/test_a.py", True),
        ("a/b_test.go", True),
        ("conftest.py", True),
        ("web/x.spec.ts", True),
        ("pkg/testing_utils.py", False),
        ("pkg/contest.py", False),
        ("pkg/a.py", False),
    ],
)
def test_is_test_path(path: str, test: bool) -> None:
    assert is_test_path(path) is test


def test_apply_filters_counts_each_drop_against_the_first_failing_filter() -> None:
    items = [_inst(), _inst("short"), _inst("https://a https://b https://c https://d long enough text")]
    kept, report = apply_filters(items)
    assert kept == [items[0]]
    assert report["issue_length"]["dropped"] == 1 and report["issue_links"]["dropped"] == 1
    assert report["patch_files"] == {"seen": 1, "dropped": 0, "examples": []}


def test_collect_reads_swebench_rows_with_json_string_test_lists(tmp_path: Path) -> None:
    rows = [
        {**_inst().to_json(), "instance_id": "ok", "FAIL_TO_PASS": '["t::a"]', "PASS_TO_PASS": "[]"},
        {**_inst("too short").to_json(), "instance_id": "short"},
    ]
    source = tmp_path / "sb.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    assert main(["collect", "--swebench", str(source), "--out", str(tmp_path / "run")]) == 0
    (kept,) = read_instances(tmp_path / "run" / "collect" / "instances.jsonl")
    assert kept.instance_id == "ok" and kept.FAIL_TO_PASS == ("t::a",)
    report = json.loads((tmp_path / "run" / "collect" / "report.json").read_text())
    assert report["input"] == 2 and report["kept"] == 1 and report["filters"]["issue_length"]["dropped"] == 1


def test_collect_from_git_splits_code_and_test_changes(pr_list: Path, tmp_path: Path) -> None:
    assert main(["collect", "--git", str(pr_list), "--out", str(tmp_path / "run")]) == 0
    found = {i.instance_id: i for i in read_instances(tmp_path / "run" / "collect" / "instances.jsonl")}
    assert set(found) == {"mean-empty", "clamp-high"}
    mean = found["mean-empty"]
    assert code_files(mean.patch) == ("pkg/core.py",)
    assert "tests/test_core.py" in mean.test_patch and "tests/" not in mean.patch
    assert "raise ValueError" in mean.patch and mean.git_dir and len(mean.base_commit) == 40


def test_a_bad_input_line_is_a_user_error(tmp_path: Path) -> None:
    source = tmp_path / "bad.jsonl"
    source.write_text('{"instance_id": "x"}\n')
    with pytest.raises(DataError, match="missing"):
        read_instances(source)
    assert main(["collect", "--swebench", str(source), "--out", str(tmp_path / "run")]) == 2
