"""`swe-lsp sandbox env [PATH]` and `swe-lsp sandbox test [PATH] [TEST ...]`: what the sandbox
makes of a project, and its tests run there, so a user learns before a job whether candidates can
be verified in it.

`env` reads files only (and asks Docker whether the image is cached). `test` builds or reuses the
environment, with a progress bar and the build's log lines on stderr, then shows each test's
status and the counts; `--json` prints exactly one JSON document on stdout (the shape the editors'
`swe-lsp.checkEnvironment` returns). Exit status of `test`: 0 when the tests pass, 1 when a test
fails or errors or the run does not finish, 3 when the environment does not build.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from swe_lsp.cli.common import add_trust_flag, load_workspace_settings

BUILD_FAILED = 3
# Without a terminal (CI logs), only the lines that start a phase are printed.
_PHASES = ("environment", "building the base image", "running the tests")
_STATUS_STYLE = {"passed": "green", "failed": "red", "error": "red", "skipped": "yellow", "xfail": "yellow"}


def add_commands(sub: Any) -> None:
    """Add `env` and `test` to `swe-lsp sandbox`."""
    env = sub.add_parser(
        "env", help="Show what the sandbox makes of a project (Python, dependencies, runner)."
    )
    _common(env)
    env.set_defaults(run=_env)

    test = sub.add_parser(
        "test",
        help="Build or reuse a project's environment and run its tests there, per test.",
        description="Exit status: 0 the tests pass, 1 a test fails or the run does not finish, "
        f"{BUILD_FAILED} the environment does not build.",
    )
    _common(test)
    test.add_argument("tests", nargs="*", metavar="TEST", help="Test ids to run (default: all of them).")
    test.add_argument(
        "--timeout", type=float, default=None, help="Seconds the tests may run (sandbox.timeout_s)."
    )
    test.set_defaults(run=_test)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "path", nargs="?", default=Path("."), type=Path, help="Workspace folder (default: .)."
    )
    parser.add_argument("--python", default=None, help="Python version to use, e.g. 3.9 (sandbox.python).")
    parser.add_argument(
        "--test-command", default=None, help="Run the tests with this (sandbox.test_command)."
    )
    parser.add_argument("--json", action="store_true", help="One JSON document on stdout.")
    add_trust_flag(parser)


def _settings(args: argparse.Namespace) -> Any:
    from swe_lsp.errors import SweLspError

    tree = args.path.resolve()
    if not tree.is_dir():
        raise SweLspError(f"{args.path} is not a folder; give the workspace's folder")
    overrides = {
        key: value
        for key, value in (
            ("python", args.python),
            ("test_command", args.test_command),
            ("timeout_s", getattr(args, "timeout", None)),
        )
        if value is not None
    }
    loaded = load_workspace_settings(tree, {"sandbox": overrides} if overrides else None, args.trust)
    return tree, loaded.settings.sandbox


def _env(args: argparse.Namespace) -> int:
    from swe_lsp.sandbox.env_check import describe_environment

    tree, settings = _settings(args)
    description = describe_environment(tree, settings)
    if args.json:
        print(json.dumps(description.to_json(), indent=2))
    else:
        print("\n".join(description.lines()))
    return 0


def _test(args: argparse.Namespace) -> int:
    from swe_lsp.cli.common import console
    from swe_lsp.sandbox.env_check import check_environment

    tree, settings = _settings(args)
    with _bar(console) as on_line:
        check = check_environment(tree, settings, args.tests, on_line)
    if check.build_error is not None:
        # Not markup: pip's log has "[end of output]" and the like.
        console.print(
            check.build_error.message, style="bold red", markup=False, highlight=False, soft_wrap=True
        )
    if args.json:
        print(json.dumps(check.to_json(), indent=2))
    else:
        _show(check)
    if check.build_error is not None:
        return BUILD_FAILED
    return 0 if check.ok else 1


@contextmanager
def _bar(console: Any) -> Iterator[Callable[[str], None]]:
    """A bar on stderr that shows the latest build or test line; without a terminal, the phase
    lines only (a pip install writes thousands)."""
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    from swe_lsp.sandbox.env_check import TESTS_LINE, phase_fraction

    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.fields[line]}", markup=False),
        console=console,
        transient=True,
    ) as bar:
        task = bar.add_task("environment", total=1.0, line="")

        def on_line(line: str) -> None:
            fraction = phase_fraction(line)
            if fraction is not None:
                description = "tests" if line.startswith(TESTS_LINE) else "environment"
                bar.update(task, description=description, completed=fraction)
            if not console.is_terminal and line.startswith(_PHASES):
                console.print(line[:200], markup=False, highlight=False, soft_wrap=True)
            bar.update(task, line=line.strip()[:100])

        yield on_line
        bar.update(task, completed=1.0)


def _show(check: Any) -> None:
    """The environment in brief, each test's status in a table, then the counts."""
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    # Wide without a terminal: a pipe or a CI log gets whole test ids, never folded at 80 columns.
    out = Console(highlight=False, soft_wrap=True)
    if not out.is_terminal:
        out = Console(highlight=False, soft_wrap=True, width=400)
    description = check.description
    out.print(f"python:   {description.plan.python.describe()}", markup=False)
    out.print(f"runner:   {description.runner.name} ({description.runner.reason})", markup=False)
    out.print(f"sandbox:  {check.sandbox}", markup=False)
    if check.image:
        what = "built" if check.built else "reused"
        out.print(f"image:    {check.image} ({what}, {check.build_s:.0f} s)", markup=False)
    tests = check.tests
    if tests is None:
        out.print(check.summary(), markup=False)
        return
    out.print(f"command:  {' '.join(tests.command)}", markup=False)
    if tests.statuses:
        table = Table("test", "status", box=None, pad_edge=False)
        for test, status in tests.statuses.items():
            table.add_row(Text(test), Text(status, style=_STATUS_STYLE.get(status, "")))
        out.print(table)
    if not tests.parsed or not tests.ok:
        out.print("last lines of the output:", markup=False)
        out.print(tests.output_tail, markup=False)
    out.print(f"[bold]{tests.summary()}[/]")
