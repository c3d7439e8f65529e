"""The index: spans, bad files, persistence keyed by content, incremental update."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from workspace_fixtures import write

from swe_lsp.workspace import RepoIndex, WorkspaceError
from swe_lsp.workspace import index as index_module
from swe_lsp.workspace.files import MAX_TEXT_BYTES


@pytest.fixture
def count_parses(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Paths the index parses from now on (cache hits do not parse)."""
    parsed: list[str] = []
    real = index_module.extract

    def spy(rel: str, data: bytes):  # type: ignore[no-untyped-def]
        parsed.append(rel)
        return real(rel, data)

    monkeypatch.setattr(index_module, "extract", spy)
    return parsed


def test_index_lists_symbols_with_spans(fixture_repo: Path) -> None:
    index = RepoIndex.build_or_load(fixture_repo, None)
    assert index.paths == [
        "docs/guide.txt",
        "pkg/__init__.py",
        "pkg/query.py",
        "pkg/shapes.py",
        "tests/test_query.py",
    ]
    names = [(s.name, s.start, s.end) for s in index.file("pkg/query.py").symbols]
    assert names == [
        ("QuerySet", 1, 8),
        ("QuerySet.filter", 4, 5),
        ("QuerySet.exclude", 7, 8),
        ("filter", 11, 12),
    ]
    assert {s.name for s in index.symbols_named("filter")} == {"QuerySet.filter", "filter"}
    assert index.file("docs/guide.txt").terms["QuerySet"] == 1


def test_bad_files_are_indexed_without_failing(tmp_path: Path) -> None:
    root = tmp_path / "bad"
    write(
        root,
        {
            "broken.py": "def ok():\n    return 1\n\ndef broken(:\n",
            "latin.py": b"# -*- coding: latin-1 -*-\n"
            + "def caf\xe9():\n    return '\xe9'\n".encode("latin-1"),
            "notutf8.txt": b"caf\xe9 au lait\n",
            "image.png": b"\x89PNG\r\n\x1a\n\x00\x00\x00",
            "huge.py": "x = 1\n" * (MAX_TEXT_BYTES // 6 + 10),
            "minified.js": "var a=1;" * 5000,
            "real/mod.py": "def real():\n    pass\n",
        },
    )
    os.symlink("..", root / "real" / "loop")  # a directory loop
    os.symlink("self", root / "self")  # a link to itself
    os.symlink("real/mod.py", root / "alias.py")  # a link to a file inside: kept
    os.symlink("/etc/hostname", root / "outside.txt")  # a link leaving the tree: skipped
    index = RepoIndex.build_or_load(root, tmp_path / "cache")
    assert index.paths == [
        "alias.py",
        "broken.py",
        "huge.py",
        "image.png",
        "latin.py",
        "minified.js",
        "notutf8.txt",
        "real/mod.py",
    ]
    broken = index.file("broken.py")
    assert broken.status == "syntax_error" and [s.name for s in broken.symbols] == ["ok", "broken"]
    assert [s.name for s in index.file("latin.py").symbols] == ["café"]
    assert (
        index.file("notutf8.txt").status == "decoded_latin1" and index.file("notutf8.txt").terms["caf"] == 1
    )
    assert index.file("image.png").status == "binary"
    assert index.file("huge.py").status == "too_large" and not index.file("huge.py").symbols
    assert index.file("minified.js").status == "too_large"
    assert [s.name for s in index.file("alias.py").symbols] == ["real"]


def test_restart_is_warm_and_one_changed_file_reindexes_alone(
    fixture_repo: Path, tmp_path: Path, count_parses: list[str]
) -> None:
    cache = tmp_path / "cache"
    RepoIndex.build_or_load(fixture_repo, cache)
    assert len(count_parses) == 5
    count_parses.clear()
    RepoIndex.build_or_load(fixture_repo, cache)
    assert count_parses == []
    os.utime(fixture_repo / "pkg" / "shapes.py")  # touched, same bytes: re-hashed, not re-parsed
    (fixture_repo / "pkg" / "query.py").write_text("def only():\n    pass\n")
    index = RepoIndex.build_or_load(fixture_repo, cache)
    assert count_parses == ["pkg/query.py"]
    assert [s.name for s in index.file("pkg/query.py").symbols] == ["only"]


@pytest.fixture
def cached(fixture_repo: Path, tmp_path: Path, count_parses: list[str]) -> tuple[RepoIndex, Path]:
    """The fixture repo's index, built with a cache (that build's parses not counted), and the cache."""
    cache = tmp_path / "cache"
    index = RepoIndex.build_or_load(fixture_repo, cache)
    count_parses.clear()
    return index, cache


def test_update_reindexes_one_file_and_persists(
    fixture_repo: Path, cached: tuple[RepoIndex, Path], count_parses: list[str]
) -> None:
    index, cache = cached
    (fixture_repo / "pkg" / "query.py").write_text("class Changed:\n    pass\n")
    (fixture_repo / "docs" / "guide.txt").unlink()
    write(fixture_repo, {"pkg/added.py": "def added():\n    pass\n"})
    changed = index.update(
        [fixture_repo / "pkg" / "query.py", "docs/guide.txt", "pkg/added.py", "pkg/shapes.py"]
    )
    assert changed == ["docs/guide.txt", "pkg/added.py", "pkg/query.py"]
    assert sorted(count_parses) == ["pkg/added.py", "pkg/query.py"]
    assert [s.name for s in index.symbols_named("Changed")] == ["Changed"]
    assert index.symbols_named("QuerySet") == [] and index.file("docs/guide.txt") is None
    count_parses.clear()
    reloaded = RepoIndex.build_or_load(fixture_repo, cache)  # replays the journal: nothing to parse
    assert count_parses == []
    assert reloaded.paths == index.paths
    assert [s.name for s in reloaded.symbols_named("added")] == ["added"]


def test_corrupt_cache_is_rebuilt(fixture_repo: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    RepoIndex.build_or_load(fixture_repo, cache)
    for path in (cache / "index").iterdir():
        path.write_bytes(b"not a pickle")
    assert len(RepoIndex.build_or_load(fixture_repo, cache)) == 5


def test_missing_root_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match="not a folder"):
        RepoIndex.build_or_load(tmp_path / "absent", None)


def test_an_edit_reparses_only_its_block_and_matches_a_fresh_build(
    fixture_repo: Path, cached: tuple[RepoIndex, Path], count_parses: list[str]
) -> None:
    index, cache = cached
    shapes = fixture_repo / "pkg" / "shapes.py"
    shapes.write_text(shapes.read_text().replace("return self.size ** 2", "return self.size ** 3"))
    with shapes.open("a") as fh:
        fh.write("\n\ndef appended():\n    return 1\n")
    assert index.update([shapes]) == ["pkg/shapes.py"]
    assert count_parses == []  # the incremental path, not a whole-file extract
    fresh = RepoIndex.build_or_load(fixture_repo, None)
    assert index.file("pkg/shapes.py") == fresh.file("pkg/shapes.py")
    assert RepoIndex.build_or_load(fixture_repo, cache).file("pkg/shapes.py") == fresh.file("pkg/shapes.py")
