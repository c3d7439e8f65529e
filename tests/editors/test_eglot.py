"""Emacs with eglot (Debian's `emacs-nox` and `elpa-eglot`, which `.ci/run` installs): a third-party,
plain LSP client, in batch mode against the real `swe-lsp serve` running the stand-in engine
(`editors/emacs/swe-lsp-e2e.el` says what it checks). The stand-in engine keeps it quick and
deterministic; the real engine's paths are the server tests'."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from calc_workspace import make_calc_workspace

from swe_lsp.server.store import JobStore

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "editors" / "emacs" / "swe-lsp-e2e.el"
ELPA = Path("/usr/share/emacs/site-lisp/elpa")


def test_eglot_as_a_plain_client(tmp_path: Path) -> None:
    emacs = shutil.which("emacs")
    if emacs is None or not any(ELPA.glob("eglot-*")):
        message = "emacs and eglot are missing: apt-get install emacs-nox elpa-eglot (.ci/run does)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    workspace = make_calc_workspace(tmp_path / "ws").resolve()
    server = [sys.executable, "-m", "swe_lsp", "serve", "--engine", "stand_in_engine:resolve"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWE_LSP_")}
    env["PYTHONPATH"] = os.pathsep.join([str(REPO / "tests" / "server"), env.get("PYTHONPATH", "")])
    # A worker of the server's own: the script checks that eglot's shutdown ends it.
    env["SWE_LSP_MODEL__SHARED_ENGINE"] = "false"
    env.update(SWE_EGLOT_WS=str(workspace), SWE_EGLOT_SERVER=shlex.join(server), HOME=str(tmp_path))
    proc = subprocess.run(
        [emacs, "--batch", "-q", "-l", str(SCRIPT)],
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        cwd=workspace,
    )
    output = proc.stdout + proc.stderr
    assert proc.returncode == 0 and "PASSED" in proc.stdout, output[-6000:]
    # The declined edit is the user's feedback too (eglot answers it with an error).
    store = JobStore()
    try:
        actions = [f.action for f in store.feedback()]
    finally:
        store.close()
    assert actions == ["declined", "applied"], (actions, output[-3000:])
