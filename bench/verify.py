"""Benchmark verifying one candidate patch in Docker against running the same steps bare.

    python bench/verify.py [--repeat 5] [--parallel 1,2,4] [--test-files 30]

One verification is what the search stage does per candidate: the reproduction script on the
original tree, the candidate's file written, the test suite, then the script again. "Docker" runs
it through `verify_candidate` in one container session (a warm container from the pool, the tree
copied in, three execs, removal in the background). "Bare" runs the same three commands as plain
subprocesses on a plain copy of the tree, in the same run, with Debian's python3 and pytest when
the host has them (the same builds as the base image, so the ratio measures the isolation rather
than two interpreters). The ratio docker/bare (target: at most 1.3) is the price of the isolation.
N candidates are then verified in parallel (threads, one container each, a pool of N), against N
bare verifications in parallel.

The workspace is generated: a pure-Python package with a bug and a pytest suite sized to take a
few seconds, like a small real project's. Results go to bench/results/verify.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from swe_lsp.sandbox.docker_engine import connect  # noqa: E402
from swe_lsp.sandbox.docker_sandbox import DockerSandbox  # noqa: E402
from swe_lsp.sandbox.runners import PytestRunner  # noqa: E402
from swe_lsp.sandbox.verify import REPRO_PATH, verify_candidate  # noqa: E402
from swe_lsp.search.verification import resolved  # noqa: E402
from swe_lsp.settings import SandboxSettings  # noqa: E402

# The whole suite, as the pytest runner runs it (per-test summary lines included).
PYTEST = PytestRunner().argv()

RESULTS = HERE / "results" / "verify.json"
TARGET_RATIO = 1.3
REPRO = "from benchpkg.mod0 import scale\nassert scale(3) == 6, scale(3)\n"
FIX = {"benchpkg/mod0.py": b"def scale(x):\n    return 2 * x\n"}


def make_workspace(root: Path, test_files: int) -> Path:
    """A package whose `scale` is wrong, with `test_files` files of 40 small tests each."""
    pkg = root / "benchpkg"
    (root / "tests").mkdir(parents=True)
    pkg.mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "mod0.py").write_text("def scale(x):\n    return 3 * x\n")
    for i in range(1, test_files + 1):
        (pkg / f"mod{i}.py").write_text(
            "def work(n):\n    return sum(k * k % 7 for k in range(n))\n\n"
            "def words(n):\n    return sorted(str(k)[::-1] for k in range(n))\n"
        )
        (root / "tests" / f"test_mod{i}.py").write_text(
            f"import pytest\nfrom benchpkg.mod{i} import work, words\n\n"
            "@pytest.mark.parametrize('n', range(40))\n"
            "def test_work(n):\n    assert work(n * 50) >= 0\n    assert len(words(n * 20)) == n * 20\n"
        )
    (root / "tests" / "test_scale.py").write_text(
        "from benchpkg.mod0 import scale\n\ndef test_scale():\n    assert scale(2) == 4\n"
    )
    (root / "pyproject.toml").write_text('[project]\nname = "benchpkg"\nversion = "0"\n')
    return root


def bare_python() -> str:
    """The host interpreter for the bare runs: Debian's (the same build and pytest as the base
    image's, so the ratio measures isolation, not two Pythons) when it has pytest, else this one."""
    system = "/usr/bin/python3"
    probe = subprocess.run([system, "-c", "import pytest"], capture_output=True, check=False)
    return system if Path(system).exists() and probe.returncode == 0 else sys.executable


def interpreter(python: str) -> str:
    code = "import sys, pytest; print(sys.version.split()[0], 'pytest', pytest.__version__)"
    return subprocess.run([python, "-c", code], capture_output=True, text=True, check=False).stdout.strip()


BARE_PYTHON = bare_python()


def bare_verify(tree: Path) -> dict[str, object]:
    """The same runs as `verify_candidate`, as plain subprocesses on a plain copy."""
    with tempfile.TemporaryDirectory(prefix="swe-lsp-bare-") as tmp:
        work = Path(tmp) / "workspace"
        shutil.copytree(tree, work)
        env = {
            **os.environ,
            "PYTHONPATH": str(work),
            "PYTHONDONTWRITEBYTECODE": "1",
            "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",  # the base image's pytest has no plugins either
        }
        (work / REPRO_PATH).parent.mkdir()
        (work / REPRO_PATH).write_text(REPRO)
        python = [BARE_PYTHON if part == "python3" else part for part in PYTEST]

        def run(argv: list[str]) -> int:
            return subprocess.run(argv, cwd=work, env=env, capture_output=True, check=False).returncode

        before = run([BARE_PYTHON, REPRO_PATH])
        for name, data in FIX.items():
            (work / name).write_bytes(data)
        tests = run(python)
        after = run([BARE_PYTHON, REPRO_PATH])
    return {"repro_before": before, "repro_after": after, "tests": tests}


def docker_verify(sandbox: DockerSandbox, tree: Path) -> dict[str, object]:
    """One candidate through the real sandbox."""
    runs = verify_candidate(sandbox, tree, FIX, REPRO, PYTEST, job_id="bench-verify")
    assert runs.repro_before and runs.repro_after and runs.tests
    return {
        "repro_before": runs.repro_before.exit_code,
        "repro_after": runs.repro_after.exit_code,
        "tests": runs.tests.exit_code,
        # The search's reading of the script (one home for the verdict), and the suite's exit.
        "verified": resolved(runs.repro_after) and runs.tests.ok,
    }


def timed(fn, *args):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    value = fn(*args)
    return time.perf_counter() - start, value


def parallel(n: int, fn, *args) -> float:  # type: ignore[no-untyped-def]
    """Wall time of `n` concurrent calls of fn(*args)."""
    start = time.perf_counter()
    with ThreadPoolExecutor(n) as pool:
        for future in [pool.submit(fn, *args) for _ in range(n)]:
            future.result()
    return time.perf_counter() - start


def machine(client) -> dict[str, object]:  # type: ignore[no-untyped-def]
    info = client.info()
    return {
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1024**3, 1),
        "python": platform.python_version(),
        "docker": client.version().get("Version"),
        "storage_driver": info.get("Driver"),
        "cgroup": info.get("CgroupVersion"),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
        "bare_python": f"{BARE_PYTHON} ({interpreter(BARE_PYTHON)})",
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--parallel", default="1,2,4")
    parser.add_argument("--test-files", type=int, default=30)
    args = parser.parse_args()

    client = connect()
    settings = SandboxSettings()
    sandbox = DockerSandbox(settings, client)
    with tempfile.TemporaryDirectory(prefix="swe-lsp-bench-") as tmp:
        tree = make_workspace(Path(tmp) / "repo", args.test_files)
        outcome = {"docker": docker_verify(sandbox, tree), "bare": bare_verify(tree)}  # warm-up
        print("outcomes:", outcome, flush=True)
        docker_s, bare_s, session_s = [], [], []
        for _ in range(args.repeat):  # interleaved, so drift on a shared machine hits both alike
            docker_s.append(timed(docker_verify, sandbox, tree)[0])
            bare_s.append(timed(bare_verify, tree)[0])
            session_s.append(timed(lambda: sandbox.session(tree).close())[0])
        single = {
            "docker_s": round(statistics.median(docker_s), 3),
            "bare_s": round(statistics.median(bare_s), 3),
            "session_open_close_s": round(statistics.median(session_s), 3),
            "docker_runs_s": [round(x, 3) for x in docker_s],
            "bare_runs_s": [round(x, 3) for x in bare_s],
        }
        single["ratio"] = round(single["docker_s"] / single["bare_s"], 3)
        print("single:", single, flush=True)
        sandbox.close()
        rows = []
        for n in (int(x) for x in args.parallel.split(",")):
            with DockerSandbox(settings, client, warm=n) as pooled:  # the search stage sizes it to its beam
                parallel(n, docker_verify, pooled, tree)  # fills the pool, as a running server has it
                d = parallel(n, docker_verify, pooled, tree)
            b = parallel(n, bare_verify, tree)
            rows.append(
                {
                    "candidates": n,
                    "docker_wall_s": round(d, 3),
                    "bare_wall_s": round(b, 3),
                    "ratio": round(d / b, 3),
                    "docker_per_candidate_s": round(d / n, 3),
                }
            )
            print("parallel:", rows[-1], flush=True)
    result = {
        "what": "verify one candidate (repro before, write fix, repro after, full test suite)",
        "workspace": f"generated: {args.test_files * 40 + 1} pytest tests in {args.test_files + 1} files",
        "settings": {"memory": settings.memory, "cpus": settings.cpus, "pids": settings.pids},
        "machine": machine(client),
        "outcomes": outcome,
        "single": single,
        "target_ratio": TARGET_RATIO,
        "meets_target": single["ratio"] <= TARGET_RATIO,
        "parallel": rows,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {RESULTS}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
