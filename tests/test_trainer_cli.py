"""`swe-train` records what produced its outputs."""

from __future__ import annotations

import json
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
