"""Idle-time learning: after a folder's index is built, the indexer process trains the folder's file
ranker from its git history (`search.history_ranker`), with a progress bar while it goes through
the commits; debugInfo tells each folder's ranker. A folder without a git history keeps the
shipped prior, a failed training is shown once and costs neither the index nor the process."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path
from typing import Any

from calc_workspace import make_calc_workspace
from lsp_client import editor_session, server_env
from lsprotocol import types

from swe_lsp.workspace.learning import model_path
from swe_lsp.workspace.ranker import MIN_QUERIES

FINAL = {"workspace", "prior", "none", "failed", "skipped"}
TOPICS = ["parser", "lexer", "render", "cache", "network", "storage", "config", "scheduler", "metrics"]


def make_history_repo(root: Path, commits: int) -> Path:
    """A git repository with `commits` small fixes after a first commit, each changing one code file
    with a message that names what it fixed (each one a usable training query). Written with one
    `git fast-import`, so a few hundred commits take well under a second."""
    texts = {f"{n}.py": f'"""The {n} module."""\n\n\ndef {n}_step(v):\n    return v\n' for n in TOPICS}
    stream = []

    def commit(n: int, message: str, paths: list[str]) -> None:
        stream.append(f"commit refs/heads/main\ncommitter t <t@t> {1_700_000_000 + 60 * n} +0000\n")
        stream.append(f"data {len(message.encode())}\n{message}\n")
        for path in paths:
            stream.append(f"M 100644 inline {path}\ndata {len(texts[path].encode())}\n{texts[path]}\n")

    commit(0, "Add the first modules", list(texts))
    for i in range(commits):
        name = TOPICS[i % len(TOPICS)]
        texts[f"{name}.py"] += f"\n\ndef {name}_helper_{i}(value):\n    return value + {i}\n"
        commit(i + 1, f"Fix the {name} step for helper {i}", [f"{name}.py"])
    root.mkdir()
    git = ["git", "-C", str(root)]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "symbolic-ref", "HEAD", "refs/heads/main"], check=True)
    subprocess.run([*git, "fast-import", "--quiet"], input="".join(stream).encode(), check=True)
    subprocess.run([*git, "reset", "-q", "--hard", "main"], check=True)
    return root


async def _ranker(ed: Any, roots: list[Path]) -> dict[str, dict[str, Any]]:
    """debugInfo's rankers once every folder's has ended (bounded wait, then a failure)."""
    keys = [str(r.resolve()) for r in roots]
    for _ in range(600):
        ranker = (await ed.command("swe-lsp.debugInfo"))["server"]["index"]["ranker"]
        if all(ranker.get(k, {}).get("state") in FINAL for k in keys):
            return ranker
        await asyncio.sleep(0.1)
    raise AssertionError(f"training never ended: {ranker}")


def _learning_bars(ed: Any) -> dict[str, list[Any]]:
    reports = ed.client.progress_reports
    return {t: r for t, r in reports.items() if isinstance(t, str) and t.startswith("swe-lsp/learn:")}


async def _ended(ed: Any, bars: int) -> dict[str, list[Any]]:
    """The learning bars once `bars` of them have ended (bounded wait)."""
    for _ in range(600):
        found = _learning_bars(ed)
        ended = [r for r in found.values() if r and isinstance(r[-1], types.WorkDoneProgressEnd)]
        if len(ended) >= bars and len(ended) == len(found):
            return found
        await asyncio.sleep(0.1)
    raise AssertionError(f"the learning bars never ended: {_learning_bars(ed)}")


async def _saved_and_indexed(ed: Any, path: Path, files: int) -> None:
    """Save `path` and wait for the index to hold `files` files: the indexer process answers tasks
    in order, so whatever a build's training says has arrived by then."""
    ed.client.text_document_did_save(
        types.DidSaveTextDocumentParams(text_document=types.TextDocumentIdentifier(uri=path.as_uri()))
    )
    for _ in range(600):
        index = (await ed.command("swe-lsp.debugInfo"))["server"]["index"]
        if index["state"] == "ready" and index["files"] == files:
            return
        await asyncio.sleep(0.1)
    raise AssertionError(f"the index never reached {files} files: {index}")


async def test_a_git_history_trains_the_workspace_ranker_with_progress(tmp_path: Path) -> None:
    root = make_history_repo(tmp_path / "ws", MIN_QUERIES + 30)
    cache = tmp_path / "cache"
    async with editor_session(root, env=server_env(SWE_LSP_CACHE_DIR=str(cache))) as ed:
        ranker = (await _ranker(ed, [root]))[str(root.resolve())]
        # Which model serves is decided on the newest commits held out (learning.choose).
        assert ranker["state"] in ("workspace", "prior") and ranker["model"] == ranker["state"], ranker
        assert "mean reciprocal rank" in ranker["note"]
        assert ranker["queries"] >= MIN_QUERIES
        assert ranker["new_queries"] == ranker["queries"]
        assert ranker["seconds"] >= 0
        (_, bar), *others = (await _ended(ed, 1)).items()
        assert not others
        begin, *reports, end = bar
        assert isinstance(begin, types.WorkDoneProgressBegin)
        assert begin.title == f"Learning from the history of {root.name}"
        assert begin.cancellable is False
        assert reports and all(r.message.endswith(" commits") for r in reports), reports
        done, total = reports[-1].message.split()[0].split("/")
        assert int(done) <= int(total) and int(total) >= MIN_QUERIES
        if ranker["state"] == "workspace":
            assert end.message == f"the ranker learned from {ranker['queries']} commits"
        else:
            assert end.message == f"the shipped ranker serves: {ranker['note']}"
    assert model_path(cache, str(root.resolve())).is_file() == (ranker["state"] == "workspace")
    assert model_path(cache, str(root.resolve())).with_suffix(".json").is_file()

    # The next session has nothing new to learn: the saved model serves, no bar.
    async with editor_session(root, env=server_env(SWE_LSP_CACHE_DIR=str(cache))) as ed:
        again = (await _ranker(ed, [root]))[str(root.resolve())]
        assert again["state"] == ranker["state"] and again["new_queries"] == 0, again
        await _saved_and_indexed(ed, root / "parser.py", len(TOPICS))
        assert not _learning_bars(ed)


async def test_a_folder_without_git_history_keeps_the_prior(tmp_path: Path) -> None:
    root = tmp_path / "plain"
    root.mkdir()
    (root / "shapes.py").write_text("class Circle:\n    def area(self):\n        return 3.14\n")
    async with editor_session(root, env=server_env(SWE_LSP_CACHE_DIR=str(tmp_path / "cache"))) as ed:
        ranker = (await _ranker(ed, [root]))[str(root.resolve())]
        assert ranker["state"] == "prior", ranker
        assert ranker["note"] == "no git history"
        assert ranker["queries"] == 0 and ranker["new_queries"] == 0
        assert not _learning_bars(ed)  # nothing was learned: no bar


async def test_history_ranker_off_trains_nothing(workspace: Path, tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    async with editor_session(
        workspace,
        env=server_env(SWE_LSP_CACHE_DIR=str(cache)),
        init_options={"search": {"history_ranker": False}},
    ) as ed:
        files = len([p for p in workspace.iterdir() if p.is_file()])
        await _saved_and_indexed(ed, workspace / "calc.py", files)
        ranker = (await ed.command("swe-lsp.debugInfo"))["server"]["index"]["ranker"]
        assert ranker == {str(workspace.resolve()): {"state": "off"}}
        assert not _learning_bars(ed)
    assert not (cache / "ranker").exists()
    assert not (cache / "history").exists()


async def test_a_failed_training_is_shown_once_and_keeps_the_index(tmp_path: Path) -> None:
    """Training cannot store the history it read (the cache's history folder is a file), in two
    folders: both say so in debugInfo, the user is told once, and the index and its process go on."""
    roots = [make_calc_workspace(tmp_path / "a"), make_calc_workspace(tmp_path / "b")]
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "history").write_text("not a folder")
    env = server_env(SWE_LSP_CACHE_DIR=str(cache))
    async with editor_session(roots[0], env=env, folders=roots) as ed:
        ranker = await _ranker(ed, roots)
        for root in roots:
            mine = ranker[str(root.resolve())]
            assert mine["state"] == "failed" and mine["error"], mine
        before = (await ed.command("swe-lsp.debugInfo"))["server"]["index"]
        # The indexer still answers (a save is indexed) in the same process.
        (roots[1] / "extra.py").write_text("def extra():\n    return 1\n")
        await _saved_and_indexed(ed, roots[1] / "extra.py", before["files"] + 1)
        after = (await ed.command("swe-lsp.debugInfo"))["server"]["index"]
        assert after["pid"] == before["pid"] is not None
        shown = [m.message for m in ed.client.messages if "learning the ranker" in m.message]
        assert len(shown) == 1, shown


def _serve_with_a_commit(
    root: Path, cache: Path, monkeypatch: Any, learn_after: bool
) -> list[dict[str, Any]]:
    """`index_process.serve` on: a learning build, an update (same HEAD), a build again with
    `learn_after`, a commit, an update (HEAD moved); what it said."""
    import io
    import json

    from swe_lsp.server import index_process

    monkeypatch.setattr(index_process, "HEAD_CHECK_S", 0.0)

    def tasks() -> Any:
        build = {"op": "build", "root": str(root), "cache": str(cache), "learn": True}
        yield json.dumps(build) + "\n"
        yield json.dumps({"op": "update", "paths": [str(root / "parser.py")]}) + "\n"  # same HEAD
        yield json.dumps({**build, "learn": learn_after}) + "\n"
        (root / "parser.py").write_text((root / "parser.py").read_text() + "\n\ndef later():\n    return 1\n")
        subprocess.run(["git", "-C", str(root), "commit", "-qam", "Fix the parser later"], check=True,
                       env={**server_env(), "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
                            "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"})  # fmt: skip
        yield json.dumps({"op": "update", "paths": [str(root / "parser.py")]}) + "\n"

    out = io.StringIO()
    index_process.serve(tasks(), out)  # type: ignore[arg-type]
    said = [json.loads(line) for line in out.getvalue().splitlines()]
    assert [m["op"] for m in said if m["op"] != "train"] == ["build", "update", "build", "update"]
    return said


def test_the_indexer_learns_again_when_head_moves(tmp_path: Path, monkeypatch: Any) -> None:
    """`index_process.serve` trains a learning folder after its build, and again when an update
    finds HEAD moved (a pull or a commit), but not on an update with the same HEAD."""
    root = make_history_repo(tmp_path / "repo", MIN_QUERIES + 20)
    said = _serve_with_a_commit(root, tmp_path / "cache", monkeypatch, learn_after=True)
    ends = [m for m in said if m["op"] == "train" and "done" not in m]
    assert len(ends) == 3 and "error" not in ends[-1], said
    assert ends[1]["new_queries"] == 0, ends  # built again: nothing new to learn
    ends = [ends[0], ends[2]]
    assert ends[0]["new_queries"] >= MIN_QUERIES and ends[1]["new_queries"] == 1, ends
    # The last training came after the second update, not the first.
    assert said.index(ends[1]) > [i for i, m in enumerate(said) if m["op"] == "update"][-1]


def test_a_folder_built_again_with_learning_off_does_not_learn_again(
    tmp_path: Path, monkeypatch: Any
) -> None:
    """`search.history_ranker` turned off (the folder built again without `learn`): a later HEAD
    move retrains nothing."""
    root = make_history_repo(tmp_path / "repo", MIN_QUERIES + 20)
    said = _serve_with_a_commit(root, tmp_path / "cache", monkeypatch, learn_after=False)
    ends = [m for m in said if m["op"] == "train" and "done" not in m]
    assert len(ends) == 1 and said.index(ends[0]) < [m["op"] for m in said].index("update"), said
