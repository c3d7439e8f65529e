"""Latency of the language server while a job runs, and its time to ready.

Measures, against a real `swe-lsp serve` subprocess driven by pytest-lsp's client:
- spawn -> `initialize` answered, and spawn -> `initialized` sent (no model load before a job);
- p50/p99 of `textDocument/codeAction`, `swe-lsp/jobs` and `swe-lsp/candidates` (requests that are
  not hover) while a job runs in the engine worker, the worker busy on the CPU.

The running job is the real engine with the embedded model (`--engine real`), or by default the
tests' stand-in engine burning CPU in the worker (`[slow][block]`), which loads the machine the same
way without a model download. Targets: p99 <= 20 ms while a job runs; ready <= 1 s.

`--repo django/django` measures in a checkout of that SWE-bench repository (from the git mirrors
under `SWE_LSP_BENCH_MIRRORS`, at its newest instance's base commit) with an empty cache, so the
idle-time indexer builds its index cold while the job runs and the requests are answered; the
result says how long the cold build took and whether it was still building when the requests
ended.

    .venv/bin/python bench/lsp_latency.py [--n 300] [--engine stand-in|real] [--repo OWNER/NAME] [--out FILE]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lsprotocol import types
from pytest_lsp import LanguageClient, client_capabilities
from pytest_lsp.client import register_lsp_features

REPO = Path(__file__).resolve().parents[1]
STAND_IN_DIR = REPO / "tests" / "server"
DATA = REPO.parent / "shared" / "swebench" / "lite_dev.jsonl"


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _summary(ms: list[float]) -> dict[str, float]:
    return {
        "n": len(ms),
        "p50_ms": round(statistics.median(ms), 2),
        "p99_ms": round(_pct(ms, 0.99), 2),
        "max_ms": round(max(ms), 2),
    }


def _workspace(root: Path) -> None:
    root.mkdir(parents=True)
    (root / "calc.py").write_text("def add(a, b):\n    return a - b\n\n\n# TODO: mul\n")
    for i in range(200):  # something for the idle-time indexer to chew on
        (root / f"mod{i}.py").write_text(f"def f{i}(x):\n    return x + {i}\n" * 20)
    subprocess.run(["git", "init", "-q", str(root)], check=True)


def _checkout(repo: str, root: Path) -> None:
    """`repo` at its newest instance's base commit in `root`, with a calc.py for the code actions."""
    sys.path.insert(0, str(REPO))
    from trainer.repos import checkout_repo, find_mirror

    mirrors = os.environ.get("SWE_LSP_BENCH_MIRRORS")
    if not mirrors:
        sys.exit("set SWE_LSP_BENCH_MIRRORS to the folder of git mirrors (see bench/localize.py)")
    rows = [json.loads(line) for line in DATA.read_text().splitlines() if line.strip()]
    rows = sorted((r for r in rows if r["repo"] == repo), key=lambda r: r["created_at"])
    if not rows:
        sys.exit(f"no instance of {repo} in {DATA}")
    checkout_repo(find_mirror(repo, Path(mirrors)), rows[-1]["base_commit"], root)
    (root / "calc.py").write_text("def add(a, b):\n    return a - b\n\n\n# TODO: mul\n")


async def _index(client: LanguageClient) -> dict[str, object]:
    info = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="swe-lsp.debugInfo", arguments=[])
    )
    return info["server"]["index"]


async def run(n: int, engine: str, repo: str | None) -> dict[str, object]:
    tmp = Path(tempfile.mkdtemp(prefix="swe-lsp-bench-"))
    root = tmp / "ws"
    if repo:
        _checkout(repo, root)
    else:
        _workspace(root)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SWE_LSP_")}
    env.update(XDG_DATA_HOME=str(tmp / "data"), XDG_CONFIG_HOME=str(tmp / "config"))
    env["PYTHONPATH"] = str(STAND_IN_DIR)
    env["SWE_LSP_MODEL__SHARED_ENGINE"] = "false"  # the server's own worker: nothing outlives the run
    cmd = [sys.executable, "-m", "swe_lsp", "serve"]
    init_options = None
    if engine == "stand-in":
        env["SWE_LSP_CACHE_DIR"] = str(tmp / "cache")  # cold: nothing indexed yet
        cmd += ["--engine", "stand_in_engine:resolve"]
        issue = "bench [slow] [block]"
    else:
        env["SWE_LSP_CACHE_DIR"] = str(REPO / ".cache" / "test-models")
        init_options = {"model": {"backend": "transformers"}, "search": {"budget": 2, "beam": 1}}
        issue = "add(2, 3) returns -1 instead of 5"

    client = LanguageClient()
    register_lsp_features(client)
    t0 = time.perf_counter()
    await client.start_io(*cmd, env=env)
    await client.initialize_session(
        types.InitializeParams(
            capabilities=client_capabilities("visual-studio-code"),
            root_uri=root.as_uri(),
            initialization_options=init_options,
        )
    )
    ready_s = time.perf_counter() - t0
    uri = (root / "calc.py").as_uri()
    client.text_document_did_open(
        types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(
                uri=uri, language_id="python", version=1, text=(root / "calc.py").read_text()
            )
        )
    )
    started = await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="swe-lsp.resolveIssue", arguments=[{"issue": issue}])
    )
    job_id = started["jobId"] if isinstance(started, dict) else started.jobId
    await asyncio.sleep(3.0)  # let the worker start and get busy
    index_before = await _index(client)

    action = types.CodeActionParams(
        text_document=types.TextDocumentIdentifier(uri=uri),
        range=types.Range(start=types.Position(4, 2), end=types.Position(4, 2)),
        context=types.CodeActionContext(diagnostics=[]),
    )
    timings: dict[str, list[float]] = {"codeAction": [], "swe-lsp/jobs": [], "swe-lsp/candidates": []}
    for _ in range(n):
        for name in timings:
            t = time.perf_counter()
            if name == "codeAction":
                await client.text_document_code_action_async(action)
            elif name == "swe-lsp/jobs":
                await client.protocol.send_request_async("swe-lsp/jobs", {})
            else:
                await client.protocol.send_request_async("swe-lsp/candidates", {"jobId": job_id})
            timings[name].append((time.perf_counter() - t) * 1000)
    jobs = await client.protocol.send_request_async("swe-lsp/jobs", {})
    state = jobs.jobs[0].state
    index_after = await _index(client)
    while (index := await _index(client))["state"] == "building":
        await asyncio.sleep(0.2)
    index_s = time.perf_counter() - t0
    await client.workspace_execute_command_async(
        types.ExecuteCommandParams(command="swe-lsp.cancel", arguments=[{"jobId": job_id}])
    )
    await client.shutdown_session()
    await client.stop()
    return {
        "engine": engine,
        "workspace": repo or "200 generated modules",
        "job_state_during_measurement": state,
        "index": {
            "state_when_requests_began": index_before["state"],
            "state_when_requests_ended": index_after["state"],
            "files": index["files"],
            "final_state": index["state"],
            "cold_build_done_s_after_spawn": round(index_s, 1),
        },
        "ready_s": round(ready_s, 3),
        "requests": {name: _summary(ms) for name, ms in timings.items()},
        "targets": {"p99_ms": 20, "ready_s": 1.0},
        "machine": f"{platform.machine()}, {os.cpu_count()} cores (shared)",
        "python": platform.python_version(),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--n", type=int, default=300, help="requests of each kind")
    parser.add_argument("--engine", choices=["stand-in", "real"], default="stand-in")
    parser.add_argument("--repo", help="measure in a checkout of this SWE-bench repository, indexing it cold")
    parser.add_argument("--out", type=Path, default=REPO / "bench" / "results" / "lsp_latency.json")
    args = parser.parse_args()
    result = asyncio.run(run(args.n, args.engine, args.repo))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
