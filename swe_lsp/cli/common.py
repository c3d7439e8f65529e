"""Pieces every subcommand shares: the settings flags, loading settings, and a progress bar."""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

from swe_lsp.errors import SweLspError
from swe_lsp.settings import LoadedSettings, load_settings

console = Console(stderr=True)


def add_settings_flags(parser: argparse.ArgumentParser, workspace: bool = True) -> None:
    """`--workspace` (whose swe-lsp.toml is read) and `--model`, common to model-using commands."""
    if workspace:
        parser.add_argument("--workspace", type=Path, default=None, help="workspace folder (default: none)")
    parser.add_argument("--model", default=None, help="model manifest name (default: from settings)")
    parser.add_argument(
        "--backend", choices=["auto", "vllm", "transformers", "openai"], default=None, help="inference engine"
    )
    parser.add_argument("--base-url", default=None, help="OpenAI-compatible server URL (openai backend)")
    if workspace:
        add_trust_flag(parser)


def add_trust_flag(parser: argparse.ArgumentParser) -> None:
    """`--trust`: take every key of the workspace's own swe-lsp.toml, for this run."""
    parser.add_argument(
        "--trust",
        action="store_true",
        help="trust the workspace folder: its swe-lsp.toml may also set the model server, the "
        "sandbox kind, the test command (default: only if under your trusted_folders)",
    )


def load_workspace_settings(
    workspace: Path | None, overrides: dict[str, Any] | None = None, trust: bool = False
) -> LoadedSettings:
    """`load_settings`, saying on stderr which keys of an untrusted workspace's file were left out."""
    loaded = load_settings(workspace, overrides, trusted=trust)
    for message in loaded.ignored:
        console.print(f"[yellow]warning:[/] {message}", highlight=False)
    return loaded


def settings_from_args(args: argparse.Namespace) -> LoadedSettings:
    """Settings from every source, with the command-line flags on top."""
    model = {
        key: value
        for key, value in (("name", args.model), ("backend", args.backend), ("base_url", args.base_url))
        if value is not None
    }
    overrides = {"model": model} if model else None
    return load_workspace_settings(getattr(args, "workspace", None), overrides, getattr(args, "trust", False))


def _bar(amount: TextColumn) -> Progress:
    """The command line's progress bar, on stderr: what, the bar, `amount`, the step, the time."""
    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        amount,
        TextColumn("{task.fields[step]}"),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


@contextlib.contextmanager
def progress_bar(description: str) -> Iterator[Callable[[str, float], None]]:
    """A rich progress bar driven by `(message, fraction)` callbacks, the shape every long step uses."""
    with _bar(TextColumn("{task.percentage:>3.0f}%")) as bar:
        task = bar.add_task(description, total=1.0, step="")

        def update(message: str, fraction: float) -> None:
            bar.update(task, completed=fraction, step=message)

        yield update


@contextlib.contextmanager
def counting_bar(description: str, total: int) -> Iterator[Callable[[str], None]]:
    """A rich progress bar of `total` steps; each call advances it one step and names the step
    done (the trainer's per-instance steps)."""
    with _bar(TextColumn("{task.completed}/{task.total}")) as bar:
        task = bar.add_task(description, total=total, step="")

        def advance(message: str) -> None:
            bar.update(task, advance=1, step=message)

        yield advance


def read_issue(source: str) -> str:
    """The issue text from a file, or from standard input when `source` is "-"."""
    try:
        text = (
            sys.stdin.read() if source == "-" else Path(source).read_text(encoding="utf-8", errors="replace")
        )
    except OSError as exc:
        raise SweLspError(f"cannot read the issue from {source}: {exc.strerror}") from exc
    if not text.strip():
        raise SweLspError(f"the issue in {source} is empty; write the issue text into it")
    return text


def positive_int(value: str) -> int:
    """An argparse type: a whole number of at least 1."""
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return number


@contextlib.contextmanager
def stdout_to_stderr() -> Iterator[None]:
    """While the body runs, file descriptor 1 is stderr's, so that nothing an engine prints lands in
    machine-readable output: vLLM logs to stdout, and its engine and worker processes inherit the
    descriptor (a Python-level redirect would not reach them). The real stdout is back afterwards,
    for the one JSON document."""
    sys.stdout.flush()
    saved = os.dup(1)
    try:
        os.dup2(2, 1)
        yield
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
