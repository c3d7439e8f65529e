"""The learned ranker on repositories the tests make: the time split, training from a history,
incremental retraining, and the fallback to the shipped prior without a history."""

from __future__ import annotations

import json
import math
from pathlib import Path

import git
import pytest

from swe_lsp.workspace import RepoIndex, learning, retrieve
from swe_lsp.workspace.bm25 import BM25
from swe_lsp.workspace.history import Commit, History, load_history, read_history
from swe_lsp.workspace.learning import RETRAIN_AFTER, choose, model_path, reorder_for, train_workspace
from swe_lsp.workspace.rank_features import FEATURES, SYMBOL_FEATURES, HistoryPoint, features, pool
from swe_lsp.workspace.ranker import (
    MIN_QUERIES,
    Ranker,
    TrainingSet,
    symbol_training_set,
    train,
    training_set,
)
from swe_lsp.workspace.retrieval import SymbolCandidate, first_stage

TOPICS = {
    "shop/tax.py": ("vat", "rate", "rounding", "invoice"),
    "shop/cart.py": ("basket", "item", "quantity", "discount"),
    "shop/shipping.py": ("parcel", "courier", "weight", "tracking"),
    "shop/users.py": ("login", "password", "account", "session"),
}
ISSUE = "The VAT rounding on an invoice is off by one cent for small amounts."


def _commit(repo: git.Repo, root: Path, path: str, text: str, message: str) -> git.Commit:
    target = root / path
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(text)
    repo.index.add([path])
    return repo.index.commit(message)


def make_shop(root: Path, commits: int) -> git.Repo:
    """A git repository of four modules, each about its topic, and `commits` commits: each adds a
    function to one module, its message in that module's words."""
    repo = git.Repo.init(root)
    with repo.config_writer() as config:
        config.set_value("user", "name", "Test").set_value("user", "email", "test@example.com")
    bodies = {path: f'"""The shop\'s {" ".join(words)} logic."""\n' for path, words in TOPICS.items()}
    for path, body in bodies.items():
        _commit(repo, root, path, body, f"Add the {path} module")
    _commit(repo, root, "tests/test_shop.py", "def test_nothing():\n    pass\n", "Add a first test module")
    paths = list(TOPICS)
    for n in range(commits):
        path = paths[n % len(paths)]
        words = TOPICS[path]
        bodies[path] += f"\n\ndef step_{n}(value):\n    return value + {n}\n"
        _commit(repo, root, path, bodies[path], f"Fix {words[n % 4]} {words[(n + 1) % 4]} handling, case {n}")
    return repo


def test_bm25_limit_scores_as_if_later_documents_did_not_exist() -> None:
    docs = [{"vat": 2, "rate": 1}, {"basket": 3}, {"vat": 1, "invoice": 4}, {"vat": 5}]
    query = {"vat": 1.0, "invoice": 1.0}
    limited = BM25(docs).scores(query, limit=3)
    alone = BM25(docs[:3]).scores(query)
    assert limited[:3] == pytest.approx(alone)
    assert limited[3] == 0.0
    assert BM25(docs).scores(query) != pytest.approx(limited)  # the fourth document moves idf and length


def test_history_reads_files_functions_and_only_the_past(tmp_path: Path) -> None:
    repo = make_shop(tmp_path / "shop", 8)
    history = read_history(tmp_path / "shop")
    assert history is not None and history.head == repo.head.commit.hexsha
    assert len(history) == 13 and history.commits[0].message == "Add the shop/tax.py module"
    last = history.commits[-1]
    assert last.files == ("shop/users.py",) and "shop/users.py::step_7" in last.functions
    assert history.changes("shop/tax.py", before=5) == [0]


def test_a_commit_after_the_snapshot_never_influences_a_ranking(tmp_path: Path) -> None:
    root = tmp_path / "shop"
    repo = make_shop(root, 24)
    snapshot = repo.head.commit
    index = RepoIndex.build_or_load(root, None)
    history = read_history(root)
    assert history is not None
    model = train(training_set(index, history, repo), rounds=5, info={"name": "test"})
    before = retrieve(index, ISSUE, reorder=model.reorder(history))
    explained = model.explain(first_stage(index, ISSUE), history)

    # A later commit on another branch says the issue's words and changes the cart: once the
    # workspace is back at the snapshot, nothing of it may show.
    repo.create_head("later").checkout()
    _commit(repo, root, "shop/cart.py", (root / "shop/cart.py").read_text() + "\n# later\n", ISSUE)
    later = read_history(root)
    assert later is not None and "shop/cart.py" in later.commits[-1].files
    later_rows = model.explain(first_stage(index, ISSUE), later)
    assert later_rows != explained  # the later commit is seen when it is in the past...
    repo.git.checkout(snapshot.hexsha)
    again = read_history(root)
    assert again is not None and [c.sha for c in again.commits] == [c.sha for c in history.commits]
    assert model.explain(first_stage(index, ISSUE), again) == explained  # ...and never when it is not
    assert retrieve(index, ISSUE, reorder=model.reorder(again)) == before


def test_a_training_query_sees_only_the_commits_before_it(tmp_path: Path) -> None:
    root = tmp_path / "shop"
    make_shop(root, 16)
    history = read_history(root)
    assert history is not None
    index = RepoIndex.build_or_load(root, None)
    at = 10
    commit = history.commits[at]
    stage = first_stage(index, commit.message)
    files = pool(stage)
    rows = features(stage, files, HistoryPoint(history, at, commit.time))
    cut = History(history.head, history.commits[: at + 1])
    assert features(stage, files, HistoryPoint(cut, at, commit.time)) == rows
    # With the whole history visible the commit's own message would count for its file.
    assert features(stage, files, HistoryPoint(history, None, commit.time)) != rows


def test_training_queries_see_the_changed_files_as_they_were_before(tmp_path: Path) -> None:
    root = tmp_path / "shop"
    repo = make_shop(root, 8)
    body = (root / "shop/tax.py").read_text() + "\n\ndef frobnicate_vat(value):\n    return value\n"
    _commit(repo, root, "shop/tax.py", body, "Add frobnicate_vat for the invoice totals")
    index = RepoIndex.build_or_load(root, None)
    history = read_history(root)
    assert history is not None
    data = training_set(index, history, repo)
    newest = data.queries.index(repo.head.commit.hexsha)
    start = sum(data.groups[:newest])
    rows = data.rows[start : start + data.groups[newest]]
    labels = data.labels[start : start + data.groups[newest]]
    defines = FEATURES.index("defines")
    positive = rows[labels.index(1)]
    assert positive[defines] == 0.0  # before the commit, tax.py did not define it
    assert (
        first_stage(index, "Add frobnicate_vat for the invoice totals").boosts["shop/tax.py"]["defines"] > 0
    )


def test_idle_training_decides_on_held_out_commits_then_goes_on_incrementally(tmp_path: Path) -> None:
    root, cache = tmp_path / "shop", tmp_path / "cache"
    repo = make_shop(root, MIN_QUERIES + 10)
    index = RepoIndex.build_or_load(root, cache, key=str(root))
    seen: list[tuple[int, int]] = []
    report = train_workspace(root, index, cache, str(root), progress=lambda n, m: seen.append((n, m)))
    assert report.queries >= MIN_QUERIES and report.new_queries == report.queries, report
    assert "mean reciprocal rank" in report.note
    assert seen and seen[-1][0] == seen[-1][1]
    info = json.loads(model_path(cache, str(root)).with_suffix(".json").read_text())
    assert info["features"] == list(FEATURES) and info["serves"] == report.model
    assert info["head"] == repo.head.commit.hexsha and info["validation"]["held_out"] >= MIN_QUERIES // 4
    assert model_path(cache, str(root)).exists() == (report.model == "workspace")
    learned = reorder_for(cache, str(root))
    reorder = learned.files
    assert learned.name == report.model and reorder is not None
    assert retrieve(index, ISSUE, reorder=reorder).files[0].path == "shop/tax.py"

    again = train_workspace(root, index, cache, str(root))
    assert again.new_queries == 0 and again.queries == report.queries and again.model == report.model

    for n in range(RETRAIN_AFTER + 5):
        path = list(TOPICS)[n % 4]
        text = (root / path).read_text() + f"\n\ndef later_{n}():\n    return {n}\n"
        _commit(repo, root, path, text, f"Fix {TOPICS[path][0]} {TOPICS[path][2]} again, case {n}")
    history = load_history(root, cache, str(root))
    assert history is not None and history.head == repo.head.commit.hexsha
    index = RepoIndex.build_or_load(root, cache, key=str(root))
    grown = train_workspace(root, index, cache, str(root))
    assert grown.new_queries > 0 and grown.queries > report.queries
    decided = json.loads(model_path(cache, str(root)).with_suffix(".json").read_text())
    assert decided["head"] == repo.head.commit.hexsha and decided["queries"] == grown.queries


def test_a_full_model_keeps_up_with_new_commits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Once TRAIN_QUERIES are known, new commits still come in (newest first) and push the oldest
    queries out, and enough of them train the model again: it never freezes on its first commits."""
    monkeypatch.setattr(learning, "TRAIN_QUERIES", MIN_QUERIES + 4)
    root, cache = tmp_path / "shop", tmp_path / "cache"
    repo = make_shop(root, MIN_QUERIES + 10)
    index = RepoIndex.build_or_load(root, cache, key=str(root))
    first = train_workspace(root, index, cache, str(root))
    assert first.queries == MIN_QUERIES + 4, first
    oldest_kept = _rows(cache, root).queries
    for n in range(RETRAIN_AFTER + 2):
        path = list(TOPICS)[n % 4]
        text = (root / path).read_text() + f"\n\ndef later_{n}():\n    return {n}\n"
        _commit(repo, root, path, text, f"Fix {TOPICS[path][1]} {TOPICS[path][3]} later, case {n}")
    index = RepoIndex.build_or_load(root, cache, key=str(root))
    later = train_workspace(root, index, cache, str(root))
    assert later.new_queries == RETRAIN_AFTER + 2 and later.queries == MIN_QUERIES + 4, later
    rows = _rows(cache, root)
    newest = {c.hexsha for c in repo.iter_commits(max_count=RETRAIN_AFTER + 2)}
    assert newest <= set(rows.queries) and len(set(oldest_kept) - set(rows.queries)) == RETRAIN_AFTER + 2
    decided = json.loads(model_path(cache, str(root)).with_suffix(".json").read_text())
    assert decided["head"] == repo.head.commit.hexsha

    again = train_workspace(root, index, cache, str(root))
    assert again.new_queries == 0 and _rows(cache, root).queries == rows.queries


def _rows(cache: Path, root: Path) -> TrainingSet:
    return learning._read_rows(learning._rows_path(cache, str(root)))


def _synthetic(groups: int, informative: str) -> TrainingSet:
    """Queries of five rows, one positive each: `informative` (a feature) marks the positive, and
    the first stage's score points at a wrong row."""
    data = TrainingSet()
    for g in range(groups):
        rows, labels = [], []
        for r in range(5):
            row = [0.0] * len(FEATURES)
            row[FEATURES.index("first_score")] = 1.0 if r == (g + 1) % 5 else 0.1 * r
            row[FEATURES.index(informative)] = 1.0 if r == g % 5 else 0.0
            rows.append(row)
            labels.append(1 if r == g % 5 else 0)
        data.add(f"c{g}", rows, labels)
    return data


def test_the_workspace_model_serves_only_when_it_beats_what_it_replaces_on_newer_commits() -> None:
    data = _synthetic(80, "hist_top")
    model, validation = choose(data, None, lambda sha: int(sha[1:]))
    assert model is not None and validation["held_out"] == 20
    assert validation["mrr_workspace"] > validation["mrr_prior"]
    assert model.mrr(data) > data.first_stage_mrr()
    # When the first stage already ranks every positive first, nothing can beat it: no model.
    perfect = TrainingSet()
    for rows, labels in data.by_group():
        for row, label in zip(rows, labels, strict=True):
            row[FEATURES.index("first_score")] = float(label)
        perfect.add("q", rows, labels)
    model, validation = choose(perfect, None, lambda sha: 0)
    assert model is None and validation["mrr_prior"] == 1.0


def test_a_workspace_without_history_falls_back_to_the_prior(tmp_path: Path, fixture_repo: Path) -> None:
    cache = tmp_path / "cache"
    index = RepoIndex.build_or_load(fixture_repo, cache, key=str(fixture_repo))
    report = train_workspace(fixture_repo, index, cache, str(fixture_repo))
    assert report.model == "prior" and report.note == "no git history"
    assert not model_path(cache, str(fixture_repo)).exists()
    prior = Ranker.prior()
    assert prior is not None and prior.info["name"] == "prior"
    learned = reorder_for(cache, str(fixture_repo))
    reorder = learned.files
    assert learned.name == "prior" and reorder is not None
    found = retrieve(
        index, "QuerySet.filter raises ValueError: Cannot filter a sliced query set", reorder=reorder
    )
    assert found.files[0].path == "pkg/query.py"
    assert "learned rank" in found.files[0].reasons


def test_a_few_commits_keep_the_prior(tmp_path: Path) -> None:
    root, cache = tmp_path / "shop", tmp_path / "cache"
    make_shop(root, 12)
    index = RepoIndex.build_or_load(root, cache, key=str(root))
    report = train_workspace(root, index, cache, str(root))
    assert report.model == "prior" and report.queries < MIN_QUERIES
    assert f"fewer than {MIN_QUERIES}" in report.note
    assert reorder_for(cache, str(root)).name == "prior"


def test_a_broken_model_or_history_cache_keeps_serving(tmp_path: Path, fixture_repo: Path) -> None:
    """A truncated workspace model falls back to the prior, an unreadable history cache to no
    history, and a ranker whose features fail keeps the first stage's order: a job never fails on
    ranking."""
    root, cache = tmp_path / "shop", tmp_path / "cache"
    make_shop(root, 6)
    assert load_history(root, cache, str(root)) is not None
    path = model_path(cache, str(root))
    path.parent.mkdir(parents=True)
    path.write_text("tree\nnot a model")
    path.with_suffix(".json").write_text(json.dumps({"features": list(FEATURES), "serves": "workspace"}))
    history_file = next((cache / "history").iterdir())
    history_file.write_bytes(b"\x1f\x8b not gzip")
    learned = reorder_for(cache, str(root))
    reorder = learned.files
    assert learned.name == "prior" and reorder is not None
    index = RepoIndex.build_or_load(root, None)
    assert retrieve(index, ISSUE, reorder=reorder).files[0].path == "shop/tax.py"

    prior = Ranker.prior()
    assert prior is not None
    broken = History("x", (Commit("y", 0, "m", ("shop/tax.py",), ()),))
    broken.commits = None  # type: ignore[assignment]  # features over it raise
    plain = retrieve(index, ISSUE)
    kept = retrieve(index, ISSUE, reorder=prior.reorder(broken))
    assert [h.path for h in kept.files] == [h.path for h in plain.files]


def test_symbol_training_labels_the_functions_a_commit_changed_as_they_were(tmp_path: Path) -> None:
    root = tmp_path / "calc"
    repo = git.Repo.init(root)
    with repo.config_writer() as config:
        config.set_value("user", "name", "Test").set_value("user", "email", "test@example.com")
    bodies = {"alpha": "v + 1", "beta": "v * 2", "gamma": "v - 3"}

    def module() -> str:
        return "\n\n".join(
            f'def {n}(value):\n    """The {n} step."""\n    return {b}\n' for n, b in bodies.items()
        )

    _commit(repo, root, "calc/steps.py", module(), "Add the alpha beta gamma steps")
    for n in range(6):
        name = ("alpha", "beta", "gamma")[n % 3]
        bodies[name] = f"v + {n}"
        _commit(repo, root, "calc/steps.py", module(), f"Fix the {name} step rounding, case {n}")
    history = read_history(root)
    assert history is not None
    assert history.commits[-1].functions == ("calc/steps.py::gamma",)
    [(path, line, count)] = history.commits[-1].lines
    gamma = next(sym for sym in RepoIndex.build_or_load(root, None).file(path).symbols if sym.name == "gamma")  # type: ignore[union-attr]
    assert path == "calc/steps.py" and count == 1 and gamma.start <= line <= gamma.end
    index = RepoIndex.build_or_load(root, None)
    data = symbol_training_set(index, history, repo)
    assert data.queries[0] == history.commits[-1].sha and len(data.groups) == 6
    rows, labels = next(data.by_group())
    assert all(len(row) == len(SYMBOL_FEATURES) for row in rows) and sum(labels) == 1
    changes = SYMBOL_FEATURES.index("sym_changes")
    # Before the newest commit gamma was added, then changed (case 2): two, never the newest itself.
    assert rows[labels.index(1)][changes] == pytest.approx(math.log1p(2))


def test_a_symbol_order_replaces_the_hand_weights_and_an_empty_one_keeps_them(fixture_repo: Path) -> None:
    index = RepoIndex.build_or_load(fixture_repo, None)
    issue = "QuerySet.filter raises ValueError: Cannot filter a sliced query set"
    hand = retrieve(index, issue)
    assert hand.symbols[0].name == "QuerySet.filter"

    def exclude_first(_: object, candidates: list[SymbolCandidate]) -> list[float]:
        return [1.0 if c.symbol.name == "QuerySet.exclude" else 0.0 for c in candidates]

    learned = retrieve(index, issue, reorder_symbols=exclude_first)
    assert learned.symbols[0].name == "QuerySet.exclude" and "learned rank" in learned.symbols[0].reasons
    assert retrieve(index, issue, reorder_symbols=lambda _, __: []).symbols == hand.symbols
