"""The small buggy git workspace the server and editor tests open (one definition for both)."""

from __future__ import annotations

import subprocess
from pathlib import Path

# `div` sits far enough below `add` that a candidate fixing both has two hunks (the editors' hunk
# pickers need that); it has no TODO, so the code actions on the file stay the ones on `mul`.
BUGGY = '''def add(a, b):
    """Add two numbers."""
    return a - b


def mul(a, b):
    # TODO: handle None arguments
    return a * b


def div(a, b):
    """Divide a by b."""
    return a / b
'''


def make_calc_workspace(root: Path) -> Path:
    """A git repository at `root` with the buggy `calc.py` (a TODO on line 7) and a test of it."""
    root.mkdir()
    (root / "calc.py").write_text(BUGGY)
    (root / "test_calc.py").write_text(
        "from calc import add\n\n\ndef test_add():\n    assert add(2, 3) == 5\n"
    )
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false", "-C", str(root)]
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run([*git, "add", "."], check=True)
    subprocess.run([*git, "commit", "-qm", "init"], check=True)
    return root
