"""Benchmark the trainer on CPU: samples/s of SFT, PRM and DPO (ORM) steps on the embedded
SmolLM2-135M, and the wall time of the whole CPU pipeline test.

    python bench/trainer.py [--steps 2] [--threads 1] [--pipeline]

Each step runs through `swe-train` with configs/cpu-tiny.toml on generated data shaped like the
real thing: SFT rows are the server's understanding prompt (about 600 tokens) with a short think
and answer; PRM rows its Yes/No prompt; DPO pairs a 10-line diff over another. Samples/s is trl's
`train_samples_per_second` (batch 1, so samples are optimizer steps), which counts model loading
out. `--pipeline` also times `pytest tests/trainer/test_pipeline.py` (collect -> synth -> reject ->
sft -> prm -> orm -> export -> scoring) as a subprocess. Results go to bench/results/trainer.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("SWE_LSP_CACHE_DIR", str(REPO / ".cache" / "test-models"))

ISSUE = "mean() of an empty list crashes with ZeroDivisionError instead of raising ValueError."


def _diff(body: str) -> str:
    lines = "".join(f"+    {body} {i}\n" for i in range(10))
    return f"--- a/pkg/core.py\n+++ b/pkg/core.py\n@@ -1 +1,11 @@\n x = 1\n{lines}"


def make_data(run: Path, rows: int) -> None:
    """reject/ outputs shaped like real ones."""
    from swe_lsp.search.prompts import understand_messages

    tree = "\n".join(f"pkg/module_{i}.py" for i in range(40))
    messages = understand_messages(ISSUE, tree, [(f"pkg/module_{i}.py", "bm25") for i in range(30)], 5)
    folder = run / "reject"
    folder.mkdir(parents=True, exist_ok=True)
    sft = {
        "instance_id": "b",
        "stage": "understand",
        "candidate_id": "u0",
        "round": 0,
        "messages": [{"role": m.role, "content": m.content} for m in messages],
        "think": "The mean function divides by the length. " * 8,
        "answer": '["pkg/module_3.py"]',
    }
    labels = [
        {
            "instance_id": "b",
            "stage": "understand",
            "candidate_id": f"u{i}",
            "issue": ISSUE,
            "step": f"pkg/module_{i}.py",
            "label": bool(i % 2),
            "reason": "",
            "source": "synth",
        }
        for i in range(rows)
    ]
    pair = {
        "instance_id": "b",
        "issue": ISSUE,
        "chosen": _diff("raise ValueError"),
        "rejected": _diff("return 0"),
        "source": "reject",
    }
    for name, data in (("sft", [sft] * rows), ("labels", labels), ("pairs", [pair] * rows)):
        (folder / f"{name}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in data))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2, help="optimizer steps per trainer")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--pipeline", action="store_true", help="also time the pipeline test")
    args = parser.parse_args()
    from trainer.cli import main as swe_train
    from trainer.provenance import versions

    results: dict[str, object] = {
        "what": "samples/s of 2-step trainer runs on SmolLM2-135M (fp32, CPU, LoRA r=8, batch 1)",
        "machine": {
            "platform": platform.platform(),
            "cpus": os.cpu_count(),
            "threads": args.threads,
            # Two shared cores: other engineers' jobs inflate wall times; read numbers with this.
            "load_average_1m_at_start": os.getloadavg()[0],
        },
        "versions": versions(),
    }
    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run"
        make_data(run, rows=max(8, args.steps * 2))
        common = [
            "--out",
            str(run),
            "--config",
            str(REPO / "configs" / "cpu-tiny.toml"),
            "--max-steps",
            str(args.steps),
            "--threads",
            str(args.threads),
        ]
        steps = {}
        for step in ("sft", "prm", "orm"):
            extra = ["--base", "smollm2-135m"] if step == "sft" else []
            start = time.monotonic()
            assert swe_train([step, *common, *extra]) == 0
            wall = time.monotonic() - start
            metrics = json.loads((run / step / "report.json").read_text())["metrics"]
            steps[step if step != "orm" else "dpo"] = {
                "samples_per_s": round(metrics["train_samples_per_second"], 3),
                "train_runtime_s": round(metrics["train_runtime"], 2),
                "wall_s_with_loading": round(wall, 2),
            }
        results["steps"] = steps
    if args.pipeline:
        start = time.monotonic()
        done = subprocess.run(
            [sys.executable, "-m", "pytest", "-q", "tests/trainer/test_pipeline.py"],
            cwd=REPO,
            capture_output=True,
            text=True,
        )
        results["pipeline_test"] = {
            "wall_s": round(time.monotonic() - start, 1),
            "passed": done.returncode == 0,
        }
    out = HERE / "results" / "trainer.json"
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
