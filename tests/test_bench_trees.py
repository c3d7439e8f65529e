"""The benchmarks' checked-out trees are kept to one process (bench/localize.py `materialize`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parent.parent / "bench"

HOLDER = (
    "import fcntl, sys\n"
    "held = open(sys.argv[1], 'w')\n"
    "fcntl.flock(held, fcntl.LOCK_EX)\n"
    "print('held', flush=True)\n"
    "sys.stdin.read()\n"
)


def test_a_tree_another_benchmark_process_holds_is_refused(tmp_path: Path) -> None:
    sys.path.insert(0, str(BENCH))
    try:
        import localize
    finally:
        sys.path.remove(str(BENCH))
    dest = tmp_path / "rank-django+django"
    other = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(tmp_path / f"{dest.name}.lock")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert other.stdout is not None and other.stdout.readline().strip() == "held"
        with pytest.raises(RuntimeError, match="in use by another benchmark process"):
            localize._hold(dest)
    finally:
        other.communicate("")
    localize._hold(dest)  # free once the other process is gone; this process may take it again
    localize._hold(dest)
    localize._HELD.pop(dest).close()
