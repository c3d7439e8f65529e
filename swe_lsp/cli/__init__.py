"""The `swe-lsp` command line: one module per subcommand, each exposing `register(subparsers)`.

Errors a user can cause (`SweLspError`) are caught here, printed as one clear line, and turned into
exit status 2; nothing deeper prints them.
"""

from __future__ import annotations

import argparse
import importlib
import os
import signal
import sys
from collections.abc import Sequence

from swe_lsp import __version__
from swe_lsp.errors import SweLspError

# The subcommand modules, in the order `--help` lists them. Each is imported only to register its
# parser, so `swe-lsp --help` stays fast: heavy imports live inside the commands' run functions.
SUBCOMMANDS = (
    "swe_lsp.cli.models_cmd",
    "swe_lsp.cli.doctor_cmd",
    "swe_lsp.cli.generate_cmd",
    "swe_lsp.cli.localize_cmd",
    "swe_lsp.cli.sandbox_cmd",
    "swe_lsp.cli.resolve_cmd",
    "swe_lsp.cli.serve_cmd",
    "swe_lsp.cli.jobs_cmd",
    "swe_lsp.cli.engine_cmd",
)


def build_parser() -> argparse.ArgumentParser:
    """The full parser, with every subcommand that is present in this installation."""
    parser = argparse.ArgumentParser(
        prog="swe-lsp",
        description="Resolve issues in your workspace with a local model (language server and tools).",
    )
    parser.add_argument("--version", action="version", version=f"swe-lsp {__version__}")
    add_subcommands(parser.add_subparsers(dest="command", metavar="COMMAND", required=True), SUBCOMMANDS)
    return parser


def add_subcommands(sub: argparse._SubParsersAction, modules: Sequence[str]) -> None:
    """Register each module's subcommand; a module missing from this installation is left out."""
    for name in modules:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as exc:
            if exc.name == name:
                continue
            raise
        module.register(sub)


def run(parser: argparse.ArgumentParser, argv: Sequence[str] | None = None) -> int:
    """Parse `argv` and run the chosen command, turning user errors into one line and exit 2.
    Shared by `swe-lsp` and `swe-train`."""
    args = parser.parse_args(argv)
    try:
        code = int(args.run(args) or 0)
        if not sys.stdout.closed:  # (`serve` leaves it closed: the LSP stream ended)
            sys.stdout.flush()  # here, where a closed pipe is caught, rather than at exit
        return code
    except SweLspError as exc:
        print(f"{parser.prog}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{parser.prog}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`swe-lsp jobs list | head -1`): stop quietly, as `ls | head` does.
        # Python would flush stdout again at exit and print a second error, so point it at devnull.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 128 + signal.SIGPIPE


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `swe-lsp` console script."""
    return run(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
