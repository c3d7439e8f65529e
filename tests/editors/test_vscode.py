"""The VS Code extension's tests, run from pytest so that `make test` runs them:

- the type check and the unit tests (`node --test` on the compiled pure modules);
- the end-to-end test: code-server 4.100.3 with the .vsix installed, driven in Debian's chromium
  (`editors/vscode/test/e2e/run.mjs`), against the real server with the embedded model, on the
  calc workspace with a job seeded by `tests/seeded_jobs.py` (as the Neovim tests do): resolve,
  review and apply one hunk, cancel a running job, restart the server, show the server log.

The toolchain (node_modules, code-server, chromium) comes from
`editors/vscode/scripts/install-e2e.sh`. Without it these tests are skipped, saying what is
missing, except on CI (CI=true), where a missing toolchain is a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from engine_services import services

EXT = Path(__file__).resolve().parents[2] / "editors" / "vscode"
INSTALL = "editors/vscode/scripts/install-e2e.sh"


def _require(*paths: str, chromium: bool = False) -> None:
    missing = [] if shutil.which("node") and shutil.which("npm") else ["node and npm"]
    missing += [p for p in paths if not (EXT / p).exists()]
    if chromium and not shutil.which("chromium"):
        missing.append("chromium")
    if not missing:
        return
    message = f"the VS Code test toolchain is missing: {', '.join(missing)} (run {INSTALL})"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def _run(
    cmd: list[str], timeout: float, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, cwd=EXT, capture_output=True, text=True, timeout=timeout, env=env)
    assert proc.returncode == 0, (
        f"`{' '.join(cmd)}` in editors/vscode exited {proc.returncode}\n"
        f"--- stdout (tail)\n{proc.stdout[-8000:]}\n--- stderr (tail)\n{proc.stderr[-8000:]}"
    )
    return proc


def test_typecheck_lint_and_unit_tests() -> None:
    _require("node_modules/.package-lock.json")
    _run(["npm", "run", "-s", "typecheck"], 300)
    _run(["npm", "run", "-s", "lint"], 300)  # eslint, strict type-checked rules, no warnings
    proc = _run(["npm", "run", "-s", "test:unit"], 300)
    assert "# fail 0" in proc.stdout and "# pass " in proc.stdout, proc.stdout[-4000:]


@pytest.mark.slow
def test_end_to_end_in_code_server(model_cache: Path, tmp_path: Path) -> None:
    _require("node_modules/.package-lock.json", ".e2e/code-server/.swe-lsp-installed-4.100.3", chromium=True)
    from swe_lsp.llm import get_manifest, prepare

    prepare(get_manifest("smollm2-135m"), model_cache)  # the embedded model, once per cache
    _run(["npm", "run", "-s", "build"], 300)
    _run(["npm", "run", "-s", "package"], 300)
    artifacts = tmp_path / "artifacts"
    env = {
        **os.environ,
        "SWE_LSP_PYTHON": sys.executable,
        "SWE_LSP_CACHE_DIR": str(model_cache),
        "E2E_ARTIFACTS": str(artifacts),
    }
    proc = subprocess.run(
        ["node", "test/e2e/run.mjs"], cwd=EXT, capture_output=True, text=True, timeout=2400, env=env
    )
    assert proc.returncode == 0, (
        f"the VS Code end-to-end test failed (exit {proc.returncode}); screenshots and logs in {artifacts}\n"
        f"--- stdout (tail)\n{proc.stdout[-6000:]}\n--- stderr (tail)\n{proc.stderr[-10000:]}"
    )
    for name in ("progress", "review", "hunks", "final", "log"):
        assert (artifacts / f"{name}.png").stat().st_size > 10_000, (
            f"screenshot {name}.png is missing or blank"
        )
    # The job ran on the shared engine (the default), which outlives the editor until its idle
    # stop (conftest ends it with the test).
    assert services(os.environ["XDG_RUNTIME_DIR"]), "no shared engine ran the job"
