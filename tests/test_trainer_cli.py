"""`swe-train` records what produced its outputs."""

from __future__ import annotations

import json
import re
import shlex
import subprocess
import sys
from pathlib import Path

from trainer.provenance import record


def test_versions_command_lists_the_tracked_packages() -> None:
    out = subprocess.run(
        [sys.executable, "-c", "from trainer.cli import main; raise SystemExit(main(['versions']))"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout)
    assert found["torch"] != "not installed" and "trl" in found and "vllm" in found


def test_record_appends_one_entry_per_step(tmp_path: Path) -> None:
    record(tmp_path, "sft", {"lr": 1e-4})
    path = record(tmp_path, "prm", {"lr": 2e-4})
    entries = json.loads(path.read_text())
    assert [e["step"] for e in entries] == ["sft", "prm"]
    assert entries[1]["settings"] == {"lr": 2e-4}
    assert entries[0]["versions"]["transformers"] != "not installed"


README = Path(__file__).resolve().parents[1] / "README.md"
SCALE = ("### Evaluating at scale with Ray", "## Models and backends")


def _documented_commands() -> list[list[str]]:
    """The `swe-train` and `accelerate launch` commands of the README's scale-out sections: the
    code blocks' lines (continuations joined) and the config table's cells."""
    text = README.read_text(encoding="utf-8")
    start = text.index(SCALE[0])
    section = text[start : text.index(SCALE[1], start)].replace("\\\n", " ")
    found = []
    for line in section.splitlines():
        cells = re.findall(r"`((?:swe-train|accelerate launch) [^`]+)`", line) if "|" in line else []
        stripped = line.strip()
        if stripped.startswith(("swe-train ", "accelerate launch ")) and line.startswith("    "):
            cells.append(stripped)
        found += [shlex.split(c, comments=True) for c in cells]
    return found


def test_the_documented_scale_out_and_config_commands_parse_with_the_real_arguments() -> None:
    """Every command the README gives for Ray runs and for each training config is one
    `swe-train` (or `accelerate launch`) accepts as written, and names config files that exist."""
    from accelerate.commands.launch import launch_command_parser

    from trainer.cli import build_parser

    commands = _documented_commands()
    configs = {p.name for p in (README.parent / "configs").iterdir()}
    used: set[str] = set()
    steps = []
    for argv in commands:
        if argv[:2] == ["accelerate", "launch"]:
            launch = launch_command_parser().parse_args(argv[2:])
            assert launch.module and launch.training_script == "trainer.cli", argv
            assert Path(launch.config_file).name in configs, argv
            used.add(Path(launch.config_file).name)
            argv = ["swe-train", *launch.training_script_args]
        args = build_parser().parse_args(argv[1:])
        steps.append(args.command)
        if getattr(args, "config", None) is not None:
            assert args.config.name in configs, argv
            used.add(args.config.name)
        if args.command in ("eval", "synth", "reject"):
            assert args.ray or args.ray_address, argv  # the section is about Ray runs
    assert {"eval", "synth", "reject", "sft"} <= set(steps)
    # One documented command per trainer config (the cluster file is `ray up`'s, not swe-train's).
    assert used == configs - {"ray-cluster.yaml"}
