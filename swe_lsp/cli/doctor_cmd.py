"""`swe-lsp doctor`: versions, GPU, Docker, prepared models, settings in effect."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from swe_lsp.cli.common import add_trust_flag


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("doctor", help="print what a bug report needs (versions, GPU, Docker, models)")
    parser.add_argument("--workspace", type=Path, default=None, help="read this workspace's swe-lsp.toml")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    add_trust_flag(parser)
    parser.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    from swe_lsp.doctor import collect
    from swe_lsp.settings import load_settings

    report = collect(load_settings(args.workspace, trusted=args.trust))
    print(json.dumps(report.as_dict(), indent=2) if args.json else report.as_text())
    return 0
