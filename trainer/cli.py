"""The `swe-train` command line. Each training step is a subcommand module exposing
`register(subparsers)`, like `swe-lsp`'s; steps land as the trainer issue proceeds."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from swe_lsp import __version__
from swe_lsp.cli import add_subcommands, run

STEPS: tuple[str, ...] = (
    "trainer.collect",
    "trainer.synth",
    "trainer.reject",
    "trainer.sft",
    "trainer.prm",
    "trainer.orm",
    "trainer.export",
    "trainer.evaluate",
)


def build_parser() -> argparse.ArgumentParser:
    """The parser with every step present in this installation."""
    parser = argparse.ArgumentParser(prog="swe-train", description="Train the policy, PRM and ORM adapters.")
    parser.add_argument("--version", action="version", version=f"swe-train {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    versions = sub.add_parser("versions", help="the package versions an output directory would record")
    versions.set_defaults(run=_versions)
    add_subcommands(sub, STEPS)
    return parser


def _versions(_args: argparse.Namespace) -> int:
    from trainer.provenance import versions

    print(json.dumps(versions(), indent=2))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the `swe-train` console script."""
    return run(build_parser(), argv)


if __name__ == "__main__":
    sys.exit(main())
