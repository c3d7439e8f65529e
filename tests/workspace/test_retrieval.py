"""Retrieval, what an issue names, the compressed tree, and `swe-lsp localize`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from swe_lsp.cli import main
from swe_lsp.workspace import RepoIndex, compressed_tree, retrieve
from swe_lsp.workspace.mentions import find_mentions
from swe_lsp.workspace.tree import render_paths

ISSUE = """QuerySet.filter fails on a sliced query set

```
Traceback (most recent call last):
  File "/venv/lib/python3.11/site-packages/pkg/query.py", line 5, in filter
ValueError: Cannot filter a sliced query set
```
"""


def test_mentions_find_paths_frames_dotted_and_errors() -> None:
    m = find_mentions(ISSUE + "\nSee ``pkg/shapes.py`` and `Outer.area`.")
    assert m.paths == ("pkg/shapes.py",)
    assert [(f.path, f.line, f.function) for f in m.frames] == [
        ("/venv/lib/python3.11/site-packages/pkg/query.py", 5, "filter")
    ]
    assert "QuerySet.filter" in m.dotted and "Outer.area" in m.dotted
    assert m.errors == (("ValueError", "Cannot filter a sliced query set"),)
    assert "Outer" in m.code_identifiers


def test_retrieve_ranks_the_named_file_and_method_first(fixture_repo: Path) -> None:
    index = RepoIndex.build_or_load(fixture_repo, None)
    found = retrieve(index, ISSUE, top=3, top_symbols=3)
    assert found.files[0].path == "pkg/query.py"
    assert {"in traceback", "contains the error message"} <= set(found.files[0].reasons)
    assert found.symbols[0].name == "QuerySet.filter"
    assert [f.path for f in found.files].index("tests/test_query.py") > 0


def test_retrieve_sees_an_update(fixture_repo: Path) -> None:
    index = RepoIndex.build_or_load(fixture_repo, None)
    assert retrieve(index, "zebra striping").files == ()
    (fixture_repo / "pkg" / "zebra.py").write_text("def zebra_striping():\n    pass\n")
    index.update(["pkg/zebra.py"])
    assert retrieve(index, "zebra striping").files[0].path == "pkg/zebra.py"


def test_compressed_tree_fits_the_budget() -> None:
    paths = [f"src/pkg{i}/mod{j}.py" for i in range(20) for j in range(30)] + ["setup.py"]
    full = render_paths(paths, 100_000)
    assert "    mod29.py" in full and full.count("\n") == len(paths) + 20
    small = render_paths(paths, 800)
    assert len(small) <= 800 and "setup.py" in small
    assert "src/\n  pkg0/\n    mod0.py" in small or "pkg0/ (30 files)" in small
    assert len(render_paths(paths, 60)) <= 60


def test_tree_of_an_index(fixture_repo: Path) -> None:
    text = compressed_tree(RepoIndex.build_or_load(fixture_repo, None), 1000)
    assert text == "docs/\n  guide.txt\npkg/\n  __init__.py\n  query.py\n  shapes.py\ntests/\n  test_query.py"


def test_localize_cli_json(fixture_repo: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
                           monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setenv("SWE_LSP_CACHE_DIR", str(tmp_path / "cache"))
    issue = tmp_path / "issue.md"
    issue.write_text(ISSUE)
    code = main(["localize", "--workspace", str(fixture_repo), "--issue", str(issue), "--top", "2", "--json"])
    assert code == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"files", "symbols", "ranker", "semantic", "notes"}
    assert out["semantic"] == "all-MiniLM-L6-v2"  # installed with swe-lsp, on by default
    assert out["notes"] == []
    assert out["ranker"].startswith("prior model trained on") and out["ranker"].endswith("no git history")
    assert out["files"][0] == "pkg/query.py" and len(out["files"]) == 2
    assert out["symbols"][0] == {"file": "pkg/query.py", "name": "QuerySet.filter"}
    assert not any((tmp_path / "cache" / "snapshots").iterdir())  # the snapshot was removed


def test_localize_cli_explains_the_learned_ranking(fixture_repo: Path, tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setenv("SWE_LSP_CACHE_DIR", str(tmp_path / "cache"))
    issue = tmp_path / "issue.md"
    issue.write_text(ISSUE)
    args = ["localize", "--workspace", str(fixture_repo), "--issue", str(issue), "--top", "2"]
    assert main([*args, "--json", "--explain"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["explain"][0]["file"] == out["files"][0] == "pkg/query.py"
    assert out["explain"][0]["score"] >= out["explain"][1]["score"]
    assert out["explain"][0]["features"]["defines"] > 0
    assert main([*args, "--explain"]) == 0
    text = capsys.readouterr().out
    assert "Learned ranker (score: features):" in text and "pkg/query.py: first_score=" in text
    assert "Symbols also ranked by: similarity to the issue under all-MiniLM-L6-v2" in text
    assert "QuerySet.filter [method]" in text and "in traceback" in text  # each symbol says why
    # An embedding model the user named that cannot load: the hand order, and the reason, in both forms.
    broken = tmp_path / "my-model"
    broken.mkdir()
    (broken / "config.json").write_text("{ not json")
    monkeypatch.setenv("SWE_LSP_SEARCH__EMBEDDING_MODEL", str(broken))
    assert main(args) == 0
    assert (
        "Symbols also ranked by: nothing else (symbols ranked without the embedding model: cannot load"
        in (capsys.readouterr().out)
    )
    assert main([*args, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["semantic"] is None and out["notes"][0].startswith(
        "symbols ranked without the embedding model"
    )
    monkeypatch.delenv("SWE_LSP_SEARCH__EMBEDDING_MODEL")
    monkeypatch.setenv("SWE_LSP_SEARCH__SEMANTIC_RANKER", "false")
    assert main([*args, "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["semantic"] is None and out["notes"] == []
    monkeypatch.setenv("SWE_LSP_SEARCH__HISTORY_RANKER", "false")
    assert main([*args, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["ranker"] == "the first stage (no learned ranker)"


def test_localize_cli_empty_issue_is_a_user_error(fixture_repo: Path, tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:  # fmt: skip
    issue = tmp_path / "empty.md"
    issue.write_text("  \n")
    assert main(["localize", "--workspace", str(fixture_repo), "--issue", str(issue)]) == 2
    assert "the issue in" in capsys.readouterr().err


def test_a_method_of_the_class_the_issue_names_ranks_above_its_twin(tmp_path: Path) -> None:
    body = "    def combine(self, other):\n        return sorted(set(self.items) | set(other.items))\n"
    (tmp_path / "shapes.py").write_text(f"class Renderer:\n{body}\n\nclass Media:\n{body}")
    index = RepoIndex.build_or_load(tmp_path, None)
    found = retrieve(index, "Combining two Media objects loses the order of their items", top_symbols=5)
    names = [s.name for s in found.symbols]
    assert names.index("Media.combine") < names.index("Renderer.combine")
    assert "in a class the issue names" in found.symbols[names.index("Media.combine")].reasons


def test_the_class_of_a_leading_method_is_shown_beside_it(tmp_path: Path) -> None:
    methods = "".join(f"    def step_{i}(self):\n        return self.value + {i}\n\n" for i in range(12))
    (tmp_path / "printer.py").write_text(
        "class CodePrinter:\n    known = {}\n\n    def print_sinc(self, expr):\n"
        "        return 'sinc(%s)' % self.print_expr(expr)\n\n" + methods
    )
    index = RepoIndex.build_or_load(tmp_path, None)
    found = retrieve(index, "CodePrinter cannot print sinc: print_sinc returns a wrong expr", top_symbols=5)
    names = [s.name for s in found.symbols]
    assert names[:2] == ["CodePrinter.print_sinc", "CodePrinter"], names
    assert "the class of `CodePrinter.print_sinc`" in found.symbols[1].reasons


def test_a_symbol_of_a_lower_file_gives_way_to_an_equal_one_of_a_higher_file(tmp_path: Path) -> None:
    body = "def render(items):\n    return sorted(items)\n"
    (tmp_path / "alpha.py").write_text(body)
    (tmp_path / "beta.py").write_text(body)
    index = RepoIndex.build_or_load(tmp_path, None)

    def reorder(stage):  # the learned order: beta first, both files at the same score
        return {"beta.py": 1.0, "alpha.py": 0.5}

    found = retrieve(index, "render returns items unsorted", top_symbols=2, reorder=reorder)
    assert [h.path for h in found.files] == ["beta.py", "alpha.py"]
    assert [s.file for s in found.symbols] == ["beta.py", "alpha.py"]
    assert found.symbols[0].score > found.symbols[1].score


def test_the_issues_title_weighs_more_than_its_body(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from swe_lsp.workspace import retrieval

    (tmp_path / "expiry.py").write_text(
        "def expire(entries, timeout):\n    return [e for e in entries if e.age < timeout]\n"
    )
    (tmp_path / "console.py").write_text(
        "def show(handler, record):\n    handler.emit(record.message)\n    return handler\n"
    )
    index = RepoIndex.build_or_load(tmp_path, None)
    # The title names the subject; the body mostly tells how it was seen (handler, record, message).
    issue = (
        "Entries never expire after the timeout\n\n"
        "I watch the handler print each record; the handler shows the record message, and each record "
        "message comes through the handler again and again."
    )
    assert retrieve(index, issue).files[0].path == "expiry.py"
    monkeypatch.setattr(retrieval, "TITLE_WEIGHT", 0.0)
    assert retrieve(index, issue).files[0].path == "console.py"


def test_the_issues_title_weighs_more_in_a_symbols_match(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from swe_lsp.workspace import retrieval

    # One file, so only the symbol stage orders them: `expire` has the title's word, `show` two of
    # the body's.
    (tmp_path / "cache.py").write_text(
        "def expire(entries, limit):\n    return [e for e in entries if e.timeout < limit]\n\n\n"
        "def show(handler, record):\n    handler.emit(record)\n    return handler\n"
    )
    index = RepoIndex.build_or_load(tmp_path, None)
    issue = "Entries ignore their timeout\n\nThe handler shows each record, the handler shows the record."
    assert [s.name for s in retrieve(index, issue, top_symbols=2).symbols] == ["expire", "show"]
    monkeypatch.setattr(retrieval, "TITLE_WEIGHT", 0.0)
    assert [s.name for s in retrieve(index, issue, top_symbols=2).symbols] == ["show", "expire"]


def test_the_functions_nested_in_the_leading_function_follow_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from swe_lsp.workspace import retrieval

    (tmp_path / "index.py").write_text(
        "def create_index(entries, group):\n"
        "    def keyfunc(pair):\n        return pair[0].lower()\n"
        "    grouped = sorted(entries, key=keyfunc)\n    return [(group, e) for e in grouped]\n\n\n"
        "def group_entries(entries, group):\n    return {group: entries}\n\n\n"
        "def index_group(index, group):\n    return index[group]\n"
    )
    index = RepoIndex.build_or_load(tmp_path, None)
    issue = "create_index puts the entries of a group in the wrong index group"
    names = [s.name for s in retrieve(index, issue, top_symbols=4).symbols]
    assert names[:2] == ["create_index", "create_index.keyfunc"]
    monkeypatch.setattr(retrieval, "NESTED_SHOWN", 0)
    names = [s.name for s in retrieve(index, issue, top_symbols=4).symbols]
    assert names[0] == "create_index" and names[-1] == "create_index.keyfunc"


def test_a_symbol_whose_string_the_issue_quotes_ranks_first(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from swe_lsp.workspace import retrieval

    # `reset` shares more of the issue's words; `check` builds the message the issue quotes (with the
    # value filled in for `%r` and the line broken where the issue's reporter wrapped it).
    (tmp_path / "pool.py").write_text(
        "def check(value):\n"
        "    if value < 0:\n"
        "        raise ValueError('must not be negative, got %r' % value)\n"
        "    return value\n\n\n"
        "def reset(connection, timeout):\n"
        "    connection.timeout = timeout\n"
        "    return connection.reset(timeout)\n"
    )
    index = RepoIndex.build_or_load(tmp_path, None)
    issue = (
        "Resetting a connection timeout fails\n\n"
        "Resetting the connection with a timeout of -1 (no timeout) raises ValueError: must not be\n"
        "negative, got -1"
    )
    found = retrieve(index, issue, top_symbols=2)
    assert [s.name for s in found.symbols] == ["check", "reset"]
    assert "the issue quotes a string of it" in found.symbols[0].reasons
    monkeypatch.setattr(retrieval, "QUOTED_WEIGHT", 0.0)
    assert [s.name for s in retrieve(index, issue, top_symbols=2).symbols] == ["reset", "check"]


@pytest.mark.parametrize(
    ("code", "issue", "quoted"),
    [
        ('raise TypeError(f"cannot compare {a!r} with {b!r}")', "TypeError: cannot compare 1 with 'x'", True),
        ("warn('Option %(name)s is gone', {'name': n})", "Option `cache` is gone", False),  # both short
        ("warn('The option %(name)s is deprecated', {'name': n})", "The option cache is deprecated", True),
        ("key = 'timeout'", "the timeout is ignored", False),  # a piece shorter than QUOTED_MIN_CHARS
        ('msg = "Cannot   Filter A Sliced"', "cannot filter a sliced query", True),  # spaces and case
        ('path = "////////////////"', "////////////////", False),  # no word in it
        ("'%(app)s.%(model)s'", "app.model", False),  # no piece, no words
    ],
)
def test_which_string_pieces_an_issue_quotes(code: str, issue: str, quoted: bool) -> None:
    from swe_lsp.workspace.retrieval import _plain, _quotes

    assert _quotes(code, _plain(issue)) is quoted


def test_a_private_helper_of_a_function_the_issue_names_follows_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from swe_lsp.workspace import retrieval

    # The issue names `Encoder.transform`; the work is in `_transform`, which shares none of the
    # issue's words, while `unknown_values` shares several.
    (tmp_path / "encode.py").write_text(
        "class Encoder:\n"
        "    def transform(self, X):\n        return self._transform(X)\n\n"
        "    def _transform(self, X):\n        out = []\n        for row in X:\n"
        "            out.append(row.strip())\n        return out\n\n\n"
        "def unknown_values(values, unknown):\n    return [v for v in values if v in unknown]\n"
    )
    index = RepoIndex.build_or_load(tmp_path, None)
    issue = "`Encoder.transform` drops unknown values\n\nIt returns the wrong values for unknown rows."
    names = [s.name for s in retrieve(index, issue, top_symbols=4).symbols]
    assert names.index("Encoder._transform") < names.index("unknown_values"), names
    helper = next(s for s in retrieve(index, issue, top_symbols=4).symbols if s.name == "Encoder._transform")
    assert "called by a function the issue names" in helper.reasons
    monkeypatch.setattr(retrieval, "HELPER_WEIGHT", 0.0)
    names = [s.name for s in retrieve(index, issue, top_symbols=4).symbols]
    assert names.index("Encoder._transform") > names.index("unknown_values"), names


def test_a_file_whose_string_the_issue_quotes_moves_up(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from swe_lsp.workspace import retrieval

    # `tables.py` shares more of the issue's words; `report.py` logs the line the issue quotes.
    (tmp_path / "tables.py").write_text(
        "def lock_table(table):\n    table.locked = True\n    return table\n\n\n"
        "def unlock_table(table):\n    table.locked = False\n    return table\n"
    )
    (tmp_path / "report.py").write_text(
        "import logging\n\n\ndef backup(name, state):\n"
        "    logging.info('skipping locked table %s', name)\n    return state\n"
    )
    index = RepoIndex.build_or_load(tmp_path, None)
    issue = (
        "Unlocked tables are skipped\n\nThe backup logs `skipping locked table users` for an unlocked table: "
        "the backup leaves it out of the backup, so the backup has no users."
    )
    found = retrieve(index, issue, top=2)
    assert [f.path for f in found.files] == ["report.py", "tables.py"]
    assert "the issue quotes a string of it" in found.files[0].reasons
    monkeypatch.setattr(retrieval, "QUOTED_FILE_GAIN", 0.0)
    assert [f.path for f in retrieve(index, issue, top=2).files] == ["tables.py", "report.py"]


def test_a_traceback_frame_pins_the_function_of_its_file_and_line(tmp_path: Path) -> None:
    # Three `__eq__` and a `compare` of this repository; the traceback's frames are in the second
    # `__eq__` of numbers.py (line 12) and in another library's `compare`.
    (tmp_path / "pkg").mkdir()
    eq = "    def __eq__(self, other):\n        return self.value == other.value\n"
    (tmp_path / "pkg" / "numbers.py").write_text(
        f"class Integer:\n    value = 0\n\n{eq}\n\nclass Rational:\n    value = 0\n\n{eq}"
    )
    other = f"class Other:\n{eq}\n\ndef compare(a, b):\n    return a == b\n"
    (tmp_path / "pkg" / "other.py").write_text(other)
    assert (tmp_path / "pkg" / "numbers.py").read_text().splitlines()[10] == "    def __eq__(self, other):"
    issue = (
        "Comparing a rational to a string raises\n\n```\nTraceback (most recent call last):\n"
        '  File "/usr/lib/python3/dist-packages/numpy/core/fromnumeric.py", line 5, in compare\n'
        '  File "/venv/lib/python3.11/site-packages/pkg/numbers.py", line 12, in __eq__\n'
        "AttributeError: 'str' object has no attribute 'value'\n```\n"
    )
    index = RepoIndex.build_or_load(tmp_path, None)
    found = {s.name: s for s in retrieve(index, issue, top_symbols=10).symbols}
    framed = {name for name, s in found.items() if "in traceback" in s.reasons}
    assert framed == {"Rational.__eq__"}, {name: s.reasons for name, s in found.items()}
    assert {"Integer.__eq__", "Other.__eq__", "compare"} <= set(found)
