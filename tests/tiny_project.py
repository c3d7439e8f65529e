"""A tiny pytest project with one passing and one failing test, and a helper to write file trees;
shared by the environment-check tests of the CLI, the server and the sandbox."""

from __future__ import annotations

import textwrap
from pathlib import Path

TINY_PROJECT = {
    "pytest.ini": "[pytest]\n",
    "calc.py": "def add(a, b):\n    return a + b\n",
    "tests/test_calc.py": """\
        from calc import add

        def test_add():
            assert add(1, 2) == 3

        def test_wrong():
            assert add(1, 1) == 3
        """,
}


def write_files(root: Path, files: dict[str, str]) -> Path:
    """Write each relative path's (dedented) text under `root`; returns `root`."""
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text))
    return root
