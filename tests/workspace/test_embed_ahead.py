"""Embedding a workspace's symbols ahead (idle time): what is stored is what a job asks for, in the
order the history says, within its budget, and the indexer process does it between its tasks."""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from swe_lsp.server import index_process
from swe_lsp.workspace import RepoIndex, retrieve
from swe_lsp.workspace import semantic as semantic_module
from swe_lsp.workspace.embed_ahead import EmbedAhead, files_in_order
from swe_lsp.workspace.history import Commit, History
from swe_lsp.workspace.semantic import SemanticModel, VectorStore, default_source, store_path, symbol_text

ISSUE = "QuerySet.filter fails on a sliced query set"


def _model(cache: Path) -> SemanticModel:
    source = default_source()
    return SemanticModel(source, VectorStore(store_path(cache, source)), device="cpu")


def test_files_go_most_changed_first_and_tests_never(fixture_repo: Path) -> None:
    index = RepoIndex.build_or_load(fixture_repo, None)
    history = History(
        "head",
        (
            Commit("a", 1, "Fix shapes", ("pkg/shapes.py",)),
            Commit("b", 2, "Fix shapes again", ("pkg/shapes.py", "tests/test_query.py")),
            Commit("c", 3, "Fix the query", ("pkg/query.py",)),
        ),
    )
    assert files_in_order(index, history) == ["pkg/shapes.py", "pkg/query.py"]
    assert files_in_order(index, None) == ["pkg/query.py", "pkg/shapes.py"]


def test_a_job_finds_every_vector_stored_ahead(fixture_repo: Path, tmp_path: Path) -> None:
    index = RepoIndex.build_or_load(fixture_repo, None)
    ahead = EmbedAhead(index, _model(tmp_path), files_in_order(index, None))
    while ahead.step():
        pass
    report = ahead.report()
    symbols = sum(len(index.file(p).symbols) for p in ("pkg/query.py", "pkg/shapes.py"))  # type: ignore[union-attr]
    assert (report.embedded, report.stored, report.total, report.stopped) == (symbols, 0, symbols, "done")

    later = _model(tmp_path)  # a job's process: a fresh model over the same store
    asked: list[str] = []
    encode = later._model.encode_document

    def recorded(texts: list[str], **kwargs: Any) -> Any:
        asked.extend(texts)
        return encode(texts, **kwargs)

    later._model.encode_document = recorded  # type: ignore[method-assign]
    found = retrieve(index, ISSUE, top=3, top_symbols=10, semantic=later)
    assert {s.file for s in found.symbols} & {"pkg/query.py", "pkg/shapes.py"}
    assert asked and all(t.startswith("tests/") for t in asked), asked  # only tests were left to embed
    # A second pass finds them all stored and embeds nothing.
    again = EmbedAhead(index, _model(tmp_path), files_in_order(index, None))
    while again.step():
        pass
    assert (again.report().embedded, again.report().stored) == (0, symbols)


def test_the_budget_stops_it_and_a_saved_file_goes_first(fixture_repo: Path, tmp_path: Path) -> None:
    index = RepoIndex.build_or_load(fixture_repo, None)
    spent = EmbedAhead(index, _model(tmp_path), files_in_order(index, None), budget_s=0.0)
    assert spent.step() is False and spent.report().stopped == "budget" and spent.done == 0
    ahead = EmbedAhead(index, _model(tmp_path), ["pkg/query.py"])
    ahead.front(["pkg/shapes.py", "tests/test_query.py"])  # a test file is never embedded ahead
    assert ahead.total == sum(len(index.file(p).symbols) for p in ("pkg/query.py", "pkg/shapes.py"))  # type: ignore[union-attr]
    batch: list[str] = []
    ahead.model.store_ahead = lambda texts: batch.extend(texts) or len(texts)  # type: ignore[method-assign]
    ahead.step()
    assert batch and batch[0].startswith("pkg/shapes.py ")


def _serve(tasks: list[dict[str, Any]], until: Any) -> list[dict[str, Any]]:
    """Run `index_process.serve` on a real pipe holding `tasks`, until a result satisfies `until`,
    then close its input (as the server does)."""
    read_fd, write_fd = os.pipe()
    os.write(write_fd, "".join(json.dumps(t) + "\n" for t in tasks).encode())
    said: list[dict[str, Any]] = []
    seen = threading.Event()

    class Results:
        def write(self, text: str) -> None:
            said.append(json.loads(text))
            if until(said[-1]):
                seen.set()

        def flush(self) -> None:
            pass

    with os.fdopen(read_fd, "r") as tasks_file:
        thread = threading.Thread(target=index_process.serve, args=(tasks_file, Results()), daemon=True)
        thread.start()
        assert seen.wait(300), said
        os.close(write_fd)
        thread.join(60)
    assert not thread.is_alive()
    return said


def test_the_indexer_embeds_between_its_tasks(fixture_repo: Path, tmp_path: Path) -> None:
    root, cache = fixture_repo.resolve(), tmp_path / "cache"
    build = {
        "op": "build",
        "root": str(root),
        "cache": str(cache),
        "learn": False,
        "semantic": {"model": None},
    }
    update = {"op": "update", "paths": [str(root / "pkg" / "shapes.py")]}
    said = _serve([build, update], lambda m: m["op"] == "embed" and "done" not in m)
    ops = [m["op"] for m in said]
    assert ops[:2] == ["build", "update"]  # the update waiting in the pipe came before any batch
    end = said[-1]
    assert end["stopped"] == "done" and end["embedded"] == end["total"] > 0, end


def test_a_build_with_embedding_off_drops_the_queue(fixture_repo: Path, tmp_path: Path) -> None:
    """The folder built again without `semantic` (the setting was turned off): its queue ends at
    once, saying so, and nothing more is embedded."""
    root, cache = fixture_repo.resolve(), tmp_path / "cache"
    build = {"op": "build", "root": str(root), "cache": str(cache), "learn": False}
    update = {"op": "update", "paths": [str(root / "pkg" / "shapes.py")]}
    said = _serve([{**build, "semantic": {"model": None}}, build, update], lambda m: m["op"] == "update")
    assert [m["op"] for m in said] == ["build", "build", "embed", "update"], said
    assert said[2]["stopped"] == "off" and said[2]["embedded"] == 0 < said[2]["total"], said[2]
    assert not VectorStore(store_path(cache, default_source())).get(
        [semantic_module._key(t) for t in _symbol_texts(root)]
    )


def _symbol_texts(root: Path) -> list[str]:
    index = RepoIndex.build_or_load(root, None)
    texts = []
    for entry in index.files():
        lines = (root / entry.path).read_text().splitlines()
        texts.extend(symbol_text(sym, lines) for sym in entry.symbols)
    return texts


def test_a_save_after_the_queue_is_over_is_embedded_without_a_word(
    fixture_repo: Path, tmp_path: Path
) -> None:
    root, cache = fixture_repo.resolve(), tmp_path / "cache"
    read_fd, write_fd = os.pipe()
    said: list[dict[str, Any]] = []
    heard = threading.Condition()

    class Results:
        def write(self, text: str) -> None:
            with heard:
                said.append(json.loads(text))
                heard.notify_all()

        def flush(self) -> None:
            pass

    def send(task: dict[str, Any]) -> None:
        os.write(write_fd, (json.dumps(task) + "\n").encode())

    def wait_for(test: Any) -> None:
        with heard:
            assert heard.wait_for(lambda: any(map(test, said)), 300), said

    with os.fdopen(read_fd, "r") as tasks_file:
        thread = threading.Thread(target=index_process.serve, args=(tasks_file, Results()), daemon=True)
        thread.start()
        send(
            {
                "op": "build",
                "root": str(root),
                "cache": str(cache),
                "learn": False,
                "semantic": {"model": None},
            }
        )
        wait_for(lambda m: m["op"] == "embed" and m.get("stopped") == "done")
        shapes = root / "pkg" / "shapes.py"
        shapes.write_text(shapes.read_text() + "\n\ndef perimeter(r):\n    return 2 * 3.14159 * r\n")
        send({"op": "update", "paths": [str(shapes)]})
        wait_for(lambda m: m["op"] == "update")
        entry = RepoIndex.build_or_load(root, None).file("pkg/shapes.py")
        assert entry is not None
        new = next(sym for sym in entry.symbols if sym.name == "perimeter")
        key = semantic_module._key(symbol_text(new, shapes.read_text().splitlines()))
        store = VectorStore(store_path(cache, default_source()))
        for _ in range(600):
            if store.get([key]):
                break
            time.sleep(0.1)
        assert store.get([key]), "the saved file's new symbol was not embedded"
        os.close(write_fd)
        thread.join(60)
    assert not thread.is_alive()
    after = said[[m["op"] for m in said].index("update") :]
    assert [m["op"] for m in after] == ["update"]  # no bar, no report for a save's few symbols


def test_an_embedding_model_that_cannot_load_leaves_the_index_alone(
    fixture_repo: Path, tmp_path: Path
) -> None:
    root = fixture_repo.resolve()
    build = {"op": "build", "root": str(root), "cache": str(tmp_path / "c"), "learn": False,
             "semantic": {"model": str(tmp_path / "no-model")}}  # fmt: skip
    said = _serve(
        [build, {"op": "update", "paths": [str(root / "pkg" / "query.py")]}], lambda m: m["op"] == "update"
    )
    assert [m["op"] for m in said] == ["build", "embed", "update"]
    assert "not a sentence-transformers model folder" in said[1]["error"]


@pytest.fixture(autouse=True)
def _one_thread() -> Iterator[None]:
    """The indexer sets torch to one thread for its process; in the test's process, put it back."""
    import torch

    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)
