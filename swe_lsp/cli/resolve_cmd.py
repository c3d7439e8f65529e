"""`swe-lsp resolve`: resolve an issue in a workspace from the command line, as the editor would.

It snapshots the workspace (never writing it), runs Dev-Search with the configured model and
sandbox, shows progress per stage, then prints the ranked diffs with their evidence: what ran, what
passed, the scores. `--json` prints the whole report for scripts instead.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import threading
import uuid
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

# Shared with `localize`: the same issue-reading rules for every command that takes an issue.
from swe_lsp.cli.common import (
    add_trust_flag,
    console,
    load_workspace_settings,
    positive_int,
    read_issue,
    stdout_to_stderr,
)

if TYPE_CHECKING:  # imported where used: `--help` must not load the search
    from swe_lsp.llm import Manifest
    from swe_lsp.search import JobReport, ResolveRequest
    from swe_lsp.settings import Settings


def register(subparsers: Any) -> None:
    """Add the `resolve` subcommand."""
    parser = subparsers.add_parser(
        "resolve",
        help="resolve an issue in a workspace: ranked, verified candidate patches",
        description="Resolve an issue with Dev-Search: localize, patch, verify in a sandbox, rank.",
    )
    parser.add_argument("--workspace", type=Path, default=Path.cwd(), help="workspace folder (default: .)")
    parser.add_argument("--issue", required=True, help="file with the issue text, or - for standard input")
    add_trust_flag(parser)
    parser.add_argument("--model", default=None, help="model manifest name (default: from settings)")
    parser.add_argument(
        "--backend", choices=["auto", "vllm", "transformers", "openai"], default=None, help="inference engine"
    )
    parser.add_argument("--budget", type=positive_int, default=None, help="samples per stage, n (default 4)")
    parser.add_argument(
        "--beam", type=positive_int, default=None, help="candidates kept per stage, k (default 2)"
    )
    parser.add_argument(
        "--strategy", choices=["devsearch", "exec", "orm_exec", "vote"], default=None, help="search strategy"
    )
    parser.add_argument(
        "--sandbox", choices=["auto", "docker", "bwrap", "local"], default=None, help="where patches run"
    )
    parser.add_argument("--max-tokens", type=positive_int, default=None, help="tokens per model answer")
    parser.add_argument("--rounds", type=positive_int, default=None, help="localization rounds (tool use)")
    parser.add_argument("--out", type=Path, default=None, help="folder for the trajectory and cost report")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument("--engine", default=None, help=argparse.SUPPRESS)  # the tests' stand-in engines
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Load settings and the model, run the job, print the report; exit 0 done, 1 failed."""
    from swe_lsp.llm import get_manifest
    from swe_lsp.search import Issue, ResolveRequest
    from swe_lsp.server.shared_engine import run_job, shared_engine_supported
    from swe_lsp.workspace import WorkspaceError

    workspace = args.workspace.resolve()
    if not workspace.is_dir():
        raise WorkspaceError(f"{args.workspace}: no such folder; pass the workspace with --workspace")
    issue = read_issue(args.issue)
    settings = load_workspace_settings(workspace, _overrides(args), args.trust).settings
    manifest = get_manifest(settings.model.name, settings.models_dirs)
    job_id = uuid.uuid4().hex[:12]
    request = ResolveRequest(
        job_id,
        workspace,
        Issue(issue),
        budget=args.budget,
        beam=args.beam,
        strategy=args.strategy,
        model=settings.model.name,
        sandbox=args.sandbox,
        out_dir=args.out,
    )
    cancel = threading.Event()
    with stdout_to_stderr() if args.json else contextlib.nullcontext(), _Display(quiet=False) as display:
        report = None
        if settings.model.shared_engine and shared_engine_supported():
            # The editors' engine, if it runs: its model is loaded once for every window and this.
            report = run_job(request, settings, display.update, display.stage_message, args.engine)
        if report is None:
            report = _run_here(request, settings, manifest, display, cancel)
    if args.json:
        print(json.dumps(_jsonable(asdict(report)), indent=2))
    else:
        _print_report(report)
    return 0 if report.state == "done" else 1


def _run_here(
    request: ResolveRequest,
    settings: Settings,
    manifest: Manifest,
    display: _Display,
    cancel: threading.Event,
) -> JobReport:
    """The job in this process, with a backend of its own."""
    from swe_lsp.llm import open_backend
    from swe_lsp.search import resolve

    display.stage_message("snapshot", f"loading {manifest.name}")
    with open_backend(manifest, settings.model, settings.cache_path()) as backend:
        try:
            return resolve(request, backend, settings, display.update, cancel)
        except KeyboardInterrupt:
            cancel.set()
            raise


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    model = {k: v for k, v in (("name", args.model), ("backend", args.backend)) if v is not None}
    search = {
        k: v
        for k, v in (
            ("budget", args.budget),
            ("beam", args.beam),
            ("strategy", args.strategy),
            ("max_tokens", args.max_tokens),
            ("max_localization_rounds", args.rounds),
        )
        if v is not None
    }
    sandbox = {"kind": args.sandbox} if args.sandbox else {}
    return {k: v for k, v in (("model", model), ("search", search), ("sandbox", sandbox)) if v}


class _Display:
    """A rich progress bar with one line per stage: the stage name, its message, the overall bar."""

    def __init__(self, quiet: bool) -> None:
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

        self._bar = Progress(
            TextColumn("[bold]{task.fields[stage]:<10}"),
            BarColumn(),
            TextColumn("{task.percentage:>3.0f}%"),
            TextColumn("{task.fields[step]}"),
            TimeElapsedColumn(),
            console=console,
            disable=quiet,
        )
        self._task = self._bar.add_task("resolve", total=1.0, stage="", step="")
        self._last_stage = ""

    def __enter__(self) -> _Display:
        self._bar.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        self._bar.__exit__(None, None, None)

    def stage_message(self, stage: str, message: str) -> None:
        self._bar.update(self._task, stage=stage, step=message)

    def update(self, progress: Any) -> None:
        if progress.stage != self._last_stage and self._last_stage:
            self._bar.console.log(f"[green]✓[/] {self._last_stage}")
        self._last_stage = progress.stage
        self._bar.update(self._task, completed=progress.fraction, stage=progress.stage, step=progress.message)


def _print_report(report: Any) -> None:
    from rich.panel import Panel
    from rich.syntax import Syntax
    from rich.table import Table

    out = console.__class__()  # stdout
    total = report.cost.total
    out.print(
        f"[bold]{report.state}[/]: {len(report.candidates)} candidate(s); "
        f"{total.prompt_tokens} tokens in, {total.completion_tokens} out, {total.model_calls} model calls, "
        f"{total.sandbox_seconds:.1f} s in the sandbox, {report.cost.wall_seconds:.1f} s in all"
    )
    if total.uncounted_calls:
        out.print(
            f"[yellow]note:[/] the model server reported no token usage for {total.uncounted_calls} "
            "call(s): the token counts above are missing those"
        )
    if report.error:
        out.print(f"[red]error:[/] {report.error}")
    if report.why_none:
        out.print(f"[yellow]why no candidate:[/] {report.why_none}")
    for note in report.notes:  # how the search ran differently from the method (e.g. no PRM)
        out.print(f"[yellow]note:[/] {note}")
    costs = Table("stage", "tokens in", "tokens out", "calls", "sandbox s", "wall s", title="cost")
    for name, c in report.cost.stages.items():
        costs.add_row(
            name,
            str(c.prompt_tokens),
            str(c.completion_tokens),
            str(c.model_calls),
            f"{c.sandbox_seconds:.1f}",
            f"{c.wall_seconds:.1f}",
        )
    out.print(costs)
    for c in report.candidates:
        e = c.evidence
        lines = [
            f"verified: {'yes' if e.verified else 'no'}   score: {c.score:.3f}   votes: {e.votes}",
            f"reproduced on the original tree: {_yn(e.reproduced)}; script exit before/after: "
            f"{e.repro_before_exit}/{e.repro_after_exit}",
            f"tests: {e.tests_command or 'none selected'} -> exit {e.tests_exit}",
            "PRM: "
            + (", ".join(f"{k} {v:.2f}" for k, v in e.prm_scores.items()) or "-")
            + (f"   ORM: {e.orm_score:.3f}" if e.orm_score is not None else ""),
        ]
        lines += [f"note: {n}" for n in e.notes]
        out.print(Panel("\n".join(lines), title=f"#{c.rank} {c.summary}", expand=False))
        out.print(Syntax(c.diff, "diff", theme="ansi_dark"))
    if report.trajectory_path:
        out.print(f"trajectory: {report.trajectory_path}")


def _yn(value: bool | None) -> str:
    return "n/a" if value is None else "yes" if value else "no"


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    return value
