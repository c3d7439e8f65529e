"""`swe-lsp localize`: ranked files and symbols for an issue (retrieval only, no model yet).

It runs on a snapshot of the workspace, as a job does, so it sees unsaved-to-git work and skips
ignored files; the index is cached under the workspace's key, so a second run starts warm. Files are
ordered by the learned ranker as a job's are (the workspace's model when the server trained one in
idle time, else the shipped prior; `search.history_ranker = false` keeps the first stage's order),
with the git history read (once, then incrementally) for its features; `--explain` prints each
candidate's score and features. The best symbols are re-ranked by their similarity to the issue
under the local embedding model, as a job's are (`search.semantic_ranker`). `--run-example` first
runs the issue's example in the configured sandbox, as a job does before its search, waiting for the
sandbox's environment if it is not built yet (a job does not wait).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from swe_lsp.cli.common import load_workspace_settings, positive_int, progress_bar, read_issue

if TYPE_CHECKING:
    from swe_lsp.search.example import ExampleOutcome


def register(subparsers: Any) -> None:
    """Add the `localize` subcommand."""
    parser = subparsers.add_parser(
        "localize",
        help="rank the files and symbols an issue is likely about",
        description="Rank the files and symbols of a workspace for an issue (retrieval only).",
    )
    parser.add_argument("--workspace", type=Path, default=Path.cwd(), help="workspace folder (default: .)")
    parser.add_argument("--issue", required=True, help="file with the issue text, or - for standard input")
    parser.add_argument("--top", type=positive_int, default=10, help="how many files (default 10)")
    parser.add_argument("--symbols", type=positive_int, default=None, help="symbols (default 2 x top)")
    parser.add_argument(
        "--json",
        action="store_true",
        help='print {"files", "symbols": [{"file", "name"}], "ranker", "semantic", "notes"} only',
    )
    parser.add_argument(
        "--explain", action="store_true", help="also show the learned ranker's score and features per file"
    )
    parser.add_argument(
        "--run-example",
        action="store_true",
        help="run the issue's example in the configured sandbox first; the functions it calls rank higher",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Snapshot, index, retrieve, print."""
    from swe_lsp.workspace import RepoIndex, WorkspaceError, make_snapshot, retrieve
    from swe_lsp.workspace.retrieval import first_stage
    from swe_lsp.workspace.semantic import configured_semantic

    issue = read_issue(args.issue)
    workspace = args.workspace.resolve()
    if not workspace.is_dir():
        raise WorkspaceError(f"{args.workspace}: no such folder; pass the workspace with --workspace")
    settings = load_workspace_settings(workspace).settings
    cache_dir = settings.cache_path()
    ranker, history, explained = None, None, None
    example_notes: list[str] = []
    # On a repository seen for the first time this takes a while (django: the history and the index
    # a few seconds each, the embedding model's load and its 200 best symbols half a minute on a CPU).
    with progress_bar("localize") as update:
        if settings.search.history_ranker:
            from swe_lsp.workspace.history import load_history
            from swe_lsp.workspace.learning import ranker_for

            update("reading the git history", 0.05)
            history = load_history(workspace, cache_dir, key=str(workspace))
            ranker = ranker_for(cache_dir, str(workspace))
        update("loading the embedding model", 0.2)
        semantic, why_not = configured_semantic(
            settings.search.semantic_ranker, settings.search.embedding_model, cache_dir
        )
        with make_snapshot(workspace, {}, cache_dir) as snapshot:
            update("indexing", 0.3)
            index = RepoIndex.build_or_load(snapshot.root, cache_dir, key=str(workspace))
            reorder = ranker.reorder(history) if ranker is not None else None
            update("ranking", 0.5)

            def embedded(done: int, total: int) -> None:
                update(f"embedding symbols ({done}/{total})", 0.5 + 0.5 * done / total)

            executed: frozenset[tuple[str, str]] = frozenset()
            showing: frozenset[str] = frozenset()
            if args.run_example:  # the sandbox's modules are imported only then (about 0.7 s)
                update("running the issue's example in the sandbox", 0.4)
                example = _run_example(settings, snapshot.root, index, issue, update)
                executed, showing = example.called, example.files
                example_notes.extend(example.notes)
            symbols = args.symbols or 2 * args.top
            found = retrieve(
                index, issue, args.top, symbols, reorder, semantic=semantic, on_embed=embedded,
                executed=executed, showing=showing,
            )  # fmt: skip
            if args.explain and ranker is not None:
                explained = ranker.explain(first_stage(index, issue), history)[: args.top]
        update("done", 1.0)
    which = _ranker_name(ranker, history)
    if args.json:
        out: dict[str, Any] = {
            **found.to_json(),
            "ranker": which,
            "semantic": semantic.source.name if semantic is not None else None,
            "notes": [n for n in (why_not, *found.notes, *example_notes) if n],
        }
        if explained is not None:
            out["explain"] = [{"file": f, "score": round(s, 4), "features": v} for f, s, v in explained]
        print(json.dumps(out))
        return 0
    print(f"Ranked by: {which}")
    print(f"Symbols also ranked by: {_semantic_name(settings, semantic, why_not, found.notes)}")
    for note in example_notes:
        print(f"Example: {note}")
    if explained is not None:
        print("Learned ranker (score: features):")
        for path, score, values in explained:
            shown = ", ".join(f"{k}={v:.3g}" for k, v in values.items() if v)
            print(f"  {score:+.3f} {path}: {shown}")
    print("Files:")
    for n, hit in enumerate(found.files, 1):
        print(f"{n:>3}. {hit.path}  ({hit.score:.3f}: {', '.join(hit.reasons)})")
    print("Symbols:")
    for n, sym in enumerate(found.symbols, 1):
        why = ", ".join(sym.reasons)
        print(f"{n:>3}. {sym.file}:{sym.start}-{sym.end} {sym.name} [{sym.kind}]  ({sym.score:.3f}: {why})")
    return 0


def _run_example(settings: Any, tree: Path, index: Any, issue: str, update: Any) -> ExampleOutcome:
    """What the issue's example calls in the configured sandbox (its environment built first if need
    be, with the build's steps as progress), and how it went; a sandbox that cannot open is a note
    (the ranking goes on without the example), as a failed run is."""
    from swe_lsp.errors import SweLspError
    from swe_lsp.sandbox import open_sandbox, run_program
    from swe_lsp.search.example import ExampleOutcome, example_calls
    from swe_lsp.workspace.example_run import example_statements, workspace_commands

    statements = example_statements(issue, workspace_commands(index))
    if not statements:
        return ExampleOutcome(
            notes=("the issue has no example to run (no >>> lines, code blocks, inline calls or commands)",)
        )
    try:
        opened = open_sandbox(settings.sandbox)
    except SweLspError as exc:
        return ExampleOutcome(notes=(f"the issue's example did not run: {exc}",))
    with opened as sandbox:
        if hasattr(sandbox, "on_build_line"):  # Docker builds the workspace's environment once
            sandbox.on_build_line = lambda line: update(f"sandbox: {line}"[:80], 0.4)
        return example_calls(
            index, statements, lambda files, argv, t: run_program(sandbox, tree, files, argv, t)
        )


def _semantic_name(settings: Any, semantic: Any, why_not: str | None, notes: tuple[str, ...]) -> str:
    """What else ordered the symbols, in words (and why nothing, when nothing did)."""
    if not settings.search.semantic_ranker:
        return "nothing else (search.semantic_ranker is off)"
    failed = why_not or next(iter(notes), None)
    if semantic is None or failed:
        return f"nothing else ({failed})"
    return f"similarity to the issue under {semantic.source.name}"


def _ranker_name(ranker: Any, history: Any) -> str:
    """What ordered the files, in words."""
    if ranker is None:
        return "the first stage (no learned ranker)"
    name = ranker.info.get("name", "model")
    trained = f"{name} model trained on {ranker.info.get('queries', '?')} commit messages"
    return trained + (f", history of {len(history)} commits" if history else ", no git history")
