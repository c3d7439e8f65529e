"""`swe-lsp sandbox`: build the offline base image, show what can verify patches here, sweep leftovers
(`env` and `test`, a project's environment and its tests, are in `sandbox_env_cmd`).

Each subcommand reports in plain lines so it also reads well in CI logs; `build-base` shows a
progress line because debootstrap runs for about a minute.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from pathlib import Path
from typing import Any

from swe_lsp.cli import sandbox_env_cmd
from swe_lsp.cli.common import add_trust_flag, load_workspace_settings


def register(subparsers: Any) -> None:
    """Add `sandbox build-base | status | sweep | detect | env | test` to the CLI."""
    parser = subparsers.add_parser("sandbox", help="The sandbox that verifies candidate patches.")
    sub = parser.add_subparsers(dest="sandbox_command", metavar="ACTION", required=True)

    build = sub.add_parser("build-base", help="Build the offline base image (debootstrap + docker import).")
    build.add_argument("--tag", default=None, help="Image tag (default: swe-lsp-base:SUITE).")
    build.add_argument(
        "--suite", default="bookworm", help="Debian release: bullseye (3.9), bookworm (3.11), trixie (3.13)."
    )
    build.add_argument("--mirror", default=None, help="Debian mirror (default: the one apt uses here).")
    build.add_argument("--force", action="store_true", help="Rebuild even if the image exists.")
    build.set_defaults(run=_build_base)

    status = sub.add_parser("status", help="Engine reachable, base image present, bwrap usable.")
    status.set_defaults(run=_status)

    sweep = sub.add_parser("sweep", help="Remove swe-lsp containers left behind by crashed processes.")
    sweep.add_argument("--all", action="store_true", help="Remove every swe-lsp container, even live ones.")
    sweep.set_defaults(run=_sweep)

    detect = sub.add_parser("detect", help="Show the test command detected for a workspace.")
    detect.add_argument("path", nargs="?", default=".", type=Path, help="Workspace folder (default: .).")
    add_trust_flag(detect)
    detect.set_defaults(run=_detect)

    sandbox_env_cmd.add_commands(sub)  # env, test


def _build_base(args: argparse.Namespace) -> int:
    import time

    from rich.console import Console

    from swe_lsp.sandbox.base_image import (
        BaseImageRecipe,
        base_image_present,
        build_base_image,
    )
    from swe_lsp.sandbox.docker_engine import connect

    console = Console(stderr=True)
    tag = args.tag or f"swe-lsp-base:{args.suite}"  # the name environments look for
    client = connect()
    if base_image_present(client, tag) and not args.force:
        console.print(f"{tag} is already built (use --force to rebuild)")
        return 0
    recipe = BaseImageRecipe(suite=args.suite, mirror=args.mirror)
    start = time.monotonic()
    with console.status(f"building {tag}", spinner="dots") as status:
        image_id = build_base_image(client, tag, recipe, _progress(console, status, tag))
    console.print(f"built {tag} ({image_id[:19]}) in {time.monotonic() - start:.0f} s")
    return 0


def _progress(console: Any, status: Any, tag: str) -> Callable[[str], None]:
    """Show debootstrap's lines on the spinner; without a terminal (CI logs), one line per phase."""
    last_phase = ""

    def on_line(line: str) -> None:
        nonlocal last_phase
        if console.is_terminal:
            status.update(f"building {tag}: {line[:100]}")
            return
        phase = line.split()[1] if line.startswith("I: ") and len(line.split()) > 1 else line
        if phase != last_phase:
            last_phase = phase
            console.print(f"building {tag}: {line[:100]}")

    return on_line


def _status(args: argparse.Namespace) -> int:
    from swe_lsp.sandbox.base_image import DEFAULT_BASE_IMAGE, base_image_present
    from swe_lsp.sandbox.bwrap_sandbox import bwrap_problem
    from swe_lsp.sandbox.docker_engine import connect
    from swe_lsp.sandbox.errors import SandboxUnavailableError

    settings = load_workspace_settings(Path.cwd()).settings.sandbox
    image = settings.image or DEFAULT_BASE_IMAGE
    print(f"sandbox.kind:   {settings.kind}")
    try:
        client = connect(timeout_s=10)
    except SandboxUnavailableError as exc:
        print(f"docker engine:  unreachable: {exc}")
    else:
        version = client.version().get("Version", "?")
        present = base_image_present(client, image)
        print(f"docker engine:  reachable (Docker {version})")
        print(f"base image:     {image}: {'present' if present else 'missing (swe-lsp sandbox build-base)'}")
    problem = bwrap_problem()
    print(f"bwrap:          {'usable' if problem is None else problem}")
    return 0


def _sweep(args: argparse.Namespace) -> int:
    from swe_lsp.sandbox.docker_engine import connect, sweep

    removed = sweep(connect(), everything=args.all)
    print(f"removed {len(removed)} container(s)" + (f": {', '.join(removed)}" if removed else ""))
    return 0


def _detect(args: argparse.Namespace) -> int:
    import shlex

    from swe_lsp.sandbox.runners import detect_runner

    tree = args.path.resolve()
    configured = load_workspace_settings(tree, trust=args.trust).settings.sandbox.test_command
    runner = detect_runner(tree, configured)
    print(shlex.join(runner.argv()) if runner.found else "(none)")
    print(f"  runner:  {runner.name}")
    print(f"  because: {runner.reason}")
    return 0 if runner.found else 1
