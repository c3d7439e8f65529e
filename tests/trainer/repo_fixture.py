"""A tiny git repository with two issues, each fixed by a merged pull request (a `--no-ff` merge
commit), and the `--git` list that `swe-train collect` reads."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

CORE = '''"""Small statistics helpers."""


def mean(values):
    """The arithmetic mean."""
    values = list(values)
    return sum(values) / len(values)


def clamp(value, low, high):
    """`value` limited to [low, high]."""
    return max(low, value)


class Counter:
    """Counts things."""

    def __init__(self):
        self.n = 0

    def add(self, k=1):
        self.n += k
        return self.n
'''
TESTS = """from pkg.core import Counter, mean


def test_mean():
    assert mean([1, 2, 3]) == 2


def test_counter():
    assert Counter().add(2) == 2
"""
ISSUES = {
    "mean-empty": "mean() of an empty list crashes with ZeroDivisionError instead of raising ValueError "
    "with a clear message. Calling `mean([])` should raise ValueError.",
    "clamp-high": "clamp() ignores its upper bound: clamp(10, 0, 5) returns 10, it should return 5. "
    "The high argument is never used.",
}
FIXES = {
    "mean-empty": (
        "    values = list(values)\n    return sum(values) / len(values)\n",
        '    values = list(values)\n    if not values:\n        raise ValueError("mean() of no data")\n'
        "    return sum(values) / len(values)\n",
        "\n\ndef test_mean_empty():\n    import pytest\n\n"
        "    with pytest.raises(ValueError):\n        mean([])\n",
    ),
    "clamp-high": (
        "    return max(low, value)\n",
        "    return min(high, max(low, value))\n",
        "\n\ndef test_clamp_high():\n    from pkg.core import clamp\n\n    assert clamp(10, 0, 5) == 5\n",
    ),
}
F2P = {
    "mean-empty": ["tests/test_core.py::test_mean_empty"],
    "clamp-high": ["tests/test_core.py::test_clamp_high"],
}


def _git(repo: Path, *args: str) -> str:
    env = [
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@t",
        "-c",
        "commit.gpgsign=false",
        "-c",
        "init.defaultBranch=main",
    ]
    done = subprocess.run(["git", *env, *args], cwd=repo, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def make_repo(root: Path) -> Path:
    """The repository and issue files under `root`; returns the `--git` list file."""
    repo = root / "repo"
    (repo / "pkg").mkdir(parents=True)
    (repo / "tests").mkdir()
    (repo / "pkg" / "__init__.py").write_text("")
    (repo / "pkg" / "core.py").write_text(CORE)
    (repo / "tests" / "test_core.py").write_text(TESTS)
    _git(repo, "init", "-q")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-q", "-m", "base")
    entries = []
    for name, (old, new, test) in FIXES.items():
        _git(repo, "checkout", "-q", "-b", name, "main")
        core = repo / "pkg" / "core.py"
        core.write_text(core.read_text().replace(old, new))
        tests = repo / "tests" / "test_core.py"
        tests.write_text(tests.read_text() + test)
        _git(repo, "commit", "-q", "-am", f"fix {name}")
        _git(repo, "checkout", "-q", "main")
        _git(repo, "merge", "-q", "--no-ff", "-m", f"Merge {name}", name)
        merge = _git(repo, "rev-parse", "HEAD")
        issue = root / f"{name}.md"
        issue.write_text(ISSUES[name])
        entries.append(
            {
                "git_dir": "repo",
                "commit": merge,
                "issue_file": issue.name,
                "instance_id": name,
                "FAIL_TO_PASS": F2P[name],
                "PASS_TO_PASS": ["tests/test_core.py::test_mean"],
            }
        )
    listing = root / "prs.jsonl"
    listing.write_text("".join(json.dumps(e) + "\n" for e in entries))
    return listing


# A reproduction script for the first issue (mean([]) must raise ValueError), and a wrong fix of it
# as a unified diff: shared by the rejection, verifier and evaluation tests.
REPRO_SCRIPT = """import sys
from pkg.core import mean
try:
    mean([])
except ValueError:
    print("ISSUE RESOLVED"); sys.exit(0)
except ZeroDivisionError:
    print("ISSUE REPRODUCED"); sys.exit(1)
"""
WRONG_DIFF = "--- a/pkg/core.py\n+++ b/pkg/core.py\n@@ -7 +7 @@\n"
WRONG_DIFF += "-    return sum(values) / len(values)\n+    return 0\n"
