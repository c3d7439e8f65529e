"""Shared test setup.

Model-loading tests are slow on CPU, so the prepared embedded model lives in a cache that survives
test runs (`.cache/test-models` in the checkout, or `SWE_LSP_TEST_CACHE`); everything else a test
writes goes to its own tmp_path. Torch threads are pinned: on two shared cores, torch's default
thread count collapses under load from other processes (see shared/notes/ml-stack.md).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from docker_support import require_docker
from engine_services import end_services

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="session")
def model_cache() -> Path:
    """A cache folder for prepared models that persists across test runs."""
    path = Path(os.environ.get("SWE_LSP_TEST_CACHE", REPO / ".cache" / "test-models"))
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(autouse=True)
def _isolated_user_dirs(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[None]:
    """Keep tests from reading or writing the real user's config, data, cache and runtime folders
    (prepared models come from `model_cache`, which tests pass explicitly). A shared engine a test
    started (an editor's default) is ended with the test; the runtime dir is short, for a socket
    path's ~100-byte limit."""
    home = tmp_path_factory.mktemp("xdg")
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / "config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / "data"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / "cache"))
    runtime = tempfile.mkdtemp(prefix="rt")
    monkeypatch.setenv("XDG_RUNTIME_DIR", runtime)
    for key in [k for k in os.environ if k.startswith("SWE_LSP_") and k != "SWE_LSP_TEST_CACHE"]:
        monkeypatch.delenv(key)
    yield
    if Path(runtime, "swe-lsp").exists():  # something asked for a shared engine
        end_services(runtime)
    shutil.rmtree(runtime, ignore_errors=True)


@pytest.fixture(autouse=True)
def _require_docker(request: pytest.FixtureRequest) -> None:
    """Docker-marked tests need an engine (see `require_docker`)."""
    if request.node.get_closest_marker("docker") is not None:
        require_docker()
