"""The shared engine services a test started (`swe_lsp.server.engine_service`), found by the runtime
dir in their command line, and ended when the test is over: the service outlives its windows by
design (for 10 minutes), a test must not."""

from __future__ import annotations

import contextlib
import os
import signal
import time
from pathlib import Path


def services(runtime_dir: str) -> list[int]:
    """Pids of engine services whose socket is under `runtime_dir`."""
    found = []
    for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
        try:
            words = cmdline.read_bytes().split(b"\0")
        except OSError:
            continue
        if b"swe_lsp.server.engine_service" in words and any(runtime_dir.encode() in w for w in words):
            found.append(int(cmdline.parent.name))
    return found


def end_services(runtime_dir: str, grace_s: float = 20.0) -> list[int]:
    """SIGTERM the services under `runtime_dir` (each unloads its model and ends its worker), then
    SIGKILL what is left after `grace_s`; the pids that were running."""
    pids = services(runtime_dir)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + grace_s
    while services(runtime_dir) and time.monotonic() < deadline:
        time.sleep(0.1)
    for pid in services(runtime_dir):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    return pids
