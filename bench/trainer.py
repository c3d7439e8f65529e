"""Benchmark the trainer on CPU: samples/s of SFT, PRM and DPO (ORM) steps on the embedded
SmolLM2-135M, and the wall time of the whole CPU pipeline test.

    python bench/trainer.py [--steps 2] [--threads 1] [--pipeline]
    python bench/trainer.py --data [--skip-smollm2]

Each step runs through `swe-train` with configs/cpu-tiny.toml on generated data shaped like the
real thing: SFT rows are the server's understanding prompt (about 600 tokens) with a short think
and answer; PRM rows its Yes/No prompt; DPO pairs a 10-line diff over another. Samples/s is trl's
`train_samples_per_second` (batch 1, so samples are optimizer steps), which counts model loading
out. `--pipeline` also times `pytest tests/trainer/test_pipeline.py` (collect -> synth -> reject ->
sft -> prm -> orm -> export -> scoring) as a subprocess. Results go to bench/results/trainer.json.

`--data` measures instead what issue 16's fixes change in the training data (the `data_faults`
entry of the same file; the rest is kept): on the trainer tests' two-issue repository, each
teacher's trajectories are synthesized by the trainer as committed (HEAD, extracted read-only with
`git archive` and imported in a subprocess ahead of the working tree's) and by the working tree's;
`reject` runs with the old logic on the old trajectories, with the new logic on the new ones, and
with the old logic on the new trajectories, so faults 2 and 3 are counted on the same trajectories.
Teachers: the scripted teacher of tests/trainer/teacher_double.py (its first patch is wrong, so
the search refines it; one of its localizations is the bare file) and the embedded SmolLM2-135M
with the pipeline test's settings (64 tokens per turn) and one refinement allowed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

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


# What the instance's hidden tests look like in a prompt: their names (the FAIL_TO_PASS ids' last
# part), the failure pytest prints for mean-empty's with a wrong fix, and the verifier's old notes.
HIDDEN_MARKERS = ("test_mean_empty", "test_clamp_high", "DID NOT RAISE", "FAIL_TO_PASS", "PASS_TO_PASS")
TEACHERS = {
    # teacher -> (instances, search settings)
    "scripted": (
        ["mean-empty"],
        {"budget": 2, "beam": 1, "max_localization_rounds": 1, "max_refinements": 1},
    ),
    "smollm2": (
        ["mean-empty", "clamp-high"],
        {"budget": 2, "beam": 1, "max_tokens": 64, "max_localization_rounds": 1, "max_refinements": 1},
    ),
}


def _worker(spec: dict[str, Any]) -> int:
    """One synth or reject run of the old (HEAD) or new (working tree) trainer, in this process."""
    if spec["code"] == "old":
        sys.path.insert(0, spec["old_dir"])
    import trainer

    where = Path(trainer.__file__).resolve().parent
    assert where == Path(spec["old_dir"] if spec["code"] == "old" else REPO).resolve() / "trainer", where
    from swe_lsp.sandbox.local_sandbox import LocalSandbox
    from swe_lsp.settings import SandboxSettings, load_settings
    from trainer.instances import read_instances
    from trainer.reject import reject
    from trainer.runs import Runner
    from trainer.synth import synthesize

    run = Path(spec["run"])
    wanted, search = TEACHERS[spec["teacher"]]
    instances = [i for i in read_instances(run / "collect" / "instances.jsonl") if i.instance_id in wanted]
    if spec["phase"] == "reject":
        with LocalSandbox(SandboxSettings(kind="local", timeout_s=60)) as box:
            reject(instances, run, Runner(box, 60))
        return 0
    model = {"name": "smollm2-135m", "backend": "transformers", "threads": 1, "device": "cpu"}
    overrides = {
        "cache_dir": str(run.parent.parent / "cache"),
        "model": model,
        "search": search,
        "sandbox": {"kind": "local", "timeout_s": 60},
    }
    settings = load_settings(None, overrides).settings
    if spec["teacher"] == "scripted":
        sys.path.insert(0, str(REPO / "tests" / "trainer"))
        from teacher_double import SCRIPTS, ScriptedTeacher, answer

        # Two localization samples: the fixed function, and the bare file a vague teacher writes.
        scripts = {
            **SCRIPTS,
            "localize": [answer("LOCATIONS\npkg/core.py::mean"), answer("LOCATIONS\npkg/core.py")],
        }
        done = synthesize(instances, ScriptedTeacher(scripts), settings, run, samples=1)
    else:
        from swe_lsp.llm import get_manifest, open_backend

        cache = Path(os.environ["SWE_LSP_CACHE_DIR"])
        with open_backend(get_manifest("smollm2-135m"), settings.model, cache) as backend:
            done = synthesize(instances, backend, settings, run, samples=1)
    summary = done.to_json() if hasattr(done, "to_json") else dict(done)
    (run / "synth" / "bench-summary.json").write_text(json.dumps(summary) + "\n")
    return 0


def _rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.is_file() else []


def _leaks(texts: list[str]) -> int:
    return sum(any(m in t for m in HIDDEN_MARKERS) for t in texts)


def _synth_counts(run: Path) -> dict[str, Any]:
    """Fault 1 and 4 in one run's trajectories: steps whose prompt shows the hidden tests, refine
    steps, the teacher's generations and cuts (recorded by the new synth only)."""
    steps = [r for p in sorted((run / "synth").glob("*/*/trajectory.jsonl")) for r in _rows(p)]
    leaking = [r for r in steps if _leaks([m["content"] for m in r["messages"]])]
    summary = json.loads((run / "synth" / "bench-summary.json").read_text())
    return {
        "steps": len(steps),
        "refine_steps": sum(r["stage"] == "refine" for r in steps),
        "steps_whose_prompt_shows_hidden_tests": len(leaking),
        "by_stage_of_those": {
            s: sum(r["stage"] == s for r in leaking) for s in sorted({r["stage"] for r in leaking})
        },
        "generations": summary.get("generations", "not counted"),
        "cut_at_token_limit": summary.get("cut", "not counted"),
        "cut_rate": summary.get("cut_rate", "not counted"),
        "max_tokens": summary.get("max_tokens", "the settings' (not recorded)"),
    }


def _reject_counts(run: Path, served: Callable[[str, str], bool]) -> dict[str, Any]:
    """What one reject run wrote: SFT steps (and those whose prompt shows the hidden tests), PRM
    labels and positives by stage, ORM pairs, and the diffs among them that are not in the form the
    server's diff writer gives (`served(instance_id, diff)`)."""
    sft, labels, pairs = (_rows(run / "reject" / f"{n}.jsonl") for n in ("sft", "labels", "pairs"))
    patch_rows = [r for r in labels if r["stage"] == "patch"]
    return {
        "sft_steps": len(sft),
        "sft_steps_by_stage": _by_stage(sft),
        "sft_steps_whose_prompt_shows_hidden_tests": sum(
            _leaks([m["content"] for m in r["messages"]]) > 0 for r in sft
        ),
        "prm_labels": len(labels),
        "prm_labels_by_stage": _by_stage(labels),
        "prm_positive_by_stage": _by_stage([r for r in labels if r["label"]]),
        "prm_patch_steps_not_in_server_form": sum(
            not served(r["instance_id"], r["step"]) for r in patch_rows
        ),
        "orm_pairs": len(pairs),
        "orm_pairs_with_a_side_not_in_server_form": sum(
            not (served(p["instance_id"], p["chosen"]) and served(p["instance_id"], p["rejected"]))
            for p in pairs
        ),
    }


def _by_stage(rows: list[dict[str, Any]]) -> dict[str, int]:
    return {s: sum(r["stage"] == s for r in rows) for s in sorted({r["stage"] for r in rows})}


def _relabelled(before: Path, after: Path) -> dict[str, int]:
    """PRM labels of the same synth steps (instance, stage, candidate) whose label the new logic
    flipped, by stage and direction."""
    old = {
        (r["instance_id"], r["stage"], r["candidate_id"]): r["label"]
        for r in _rows(before / "reject" / "labels.jsonl")
    }
    new = {
        (r["instance_id"], r["stage"], r["candidate_id"]): r["label"]
        for r in _rows(after / "reject" / "labels.jsonl")
    }
    flips: dict[str, int] = {}
    for key in sorted(old.keys() & new.keys()):
        if old[key] != new[key]:
            name = f"{key[1]}_{'correct_to_incorrect' if old[key] else 'incorrect_to_correct'}"
            flips[name] = flips.get(name, 0) + 1
    flips["only_in_old"] = len(old.keys() - new.keys())
    flips["only_in_new"] = len(new.keys() - old.keys())
    return flips


def measure_data(skip_smollm2: bool) -> dict[str, Any]:
    """Issue 16's before/after data counts (see the module docstring)."""
    from trainer.cli import main as swe_train
    from trainer.gold import served_diff
    from trainer.instances import read_instances
    from trainer.repos import file_at, git_dir_of

    sys.path.insert(0, str(REPO / "tests" / "trainer"))
    from repo_fixture import make_repo

    out: dict[str, Any] = {
        "what": "training data counts before (HEAD's trainer) and after (issue 16) on the trainer tests' "
        "two-issue repository",
        "how": __doc__.split("`--data`", 1)[1].strip(),
        "hidden_markers": list(HIDDEN_MARKERS),
        "head": subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True
        ).stdout.strip(),
    }
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        old_dir = root / "old"
        old_dir.mkdir()
        archive = subprocess.run(
            ["git", "archive", "HEAD", "trainer"], cwd=REPO, capture_output=True, check=True
        )
        subprocess.run(["tar", "-x", "-C", str(old_dir)], input=archive.stdout, check=True)
        collected = root / "collected"
        assert swe_train(["collect", "--git", str(make_repo(root / "data")), "--out", str(collected)]) == 0
        instances = {i.instance_id: i for i in read_instances(collected / "collect" / "instances.jsonl")}

        def served(instance_id: str, diff: str) -> bool:
            inst = instances[instance_id]
            git_dir = git_dir_of(Path(inst.git_dir or ""))
            return served_diff(diff, lambda p: file_at(git_dir, inst.base_commit, p)) == diff

        for teacher in TEACHERS:
            if teacher == "smollm2" and skip_smollm2:
                continue
            runs = {v: root / teacher / v for v in ("old", "new", "old_logic_on_new_trajectories")}
            for run in runs.values():
                shutil.copytree(collected / "collect", run / "collect")
            start = time.monotonic()
            for code in ("old", "new"):
                _spawn(
                    {
                        "code": code,
                        "old_dir": str(old_dir),
                        "teacher": teacher,
                        "run": str(runs[code]),
                        "phase": "synth",
                    }
                )
            shutil.copytree(runs["new"] / "synth", runs["old_logic_on_new_trajectories"] / "synth")
            for code, run in (
                ("old", runs["old"]),
                ("new", runs["new"]),
                ("old", runs["old_logic_on_new_trajectories"]),
            ):
                _spawn(
                    {
                        "code": code,
                        "old_dir": str(old_dir),
                        "teacher": teacher,
                        "run": str(run),
                        "phase": "reject",
                    }
                )
            cross = runs["old_logic_on_new_trajectories"]
            out[teacher] = {
                "instances": TEACHERS[teacher][0],
                "search": TEACHERS[teacher][1],
                "fault1_hidden_tests_in_prompts": {
                    "before": {
                        **_synth_counts(runs["old"]),
                        "sft": _reject_counts(runs["old"], served)[
                            "sft_steps_whose_prompt_shows_hidden_tests"
                        ],
                    },
                    "after": {
                        **_synth_counts(runs["new"]),
                        "sft": _reject_counts(runs["new"], served)[
                            "sft_steps_whose_prompt_shows_hidden_tests"
                        ],
                    },
                },
                "faults2_3_same_trajectories": {
                    "before_old_logic": _reject_counts(cross, served),
                    "after_new_logic": _reject_counts(runs["new"], served),
                    "labels_flipped": _relabelled(cross, runs["new"]),
                },
                "old_pipeline_end_to_end": _reject_counts(runs["old"], served),
                "wall_s": round(time.monotonic() - start, 1),
            }
    return out


def _spawn(spec: dict[str, Any]) -> None:
    """Run `_worker(spec)` in a fresh interpreter (the old trainer must not meet the new one)."""
    done = subprocess.run(
        [sys.executable, str(Path(__file__).resolve()), "--data-worker", json.dumps(spec)],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{spec}: exit {done.returncode}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=2, help="optimizer steps per trainer")
    parser.add_argument("--threads", type=int, default=1, help="torch threads")
    parser.add_argument("--pipeline", action="store_true", help="also time the pipeline test")
    parser.add_argument("--data", action="store_true", help="issue 16's before/after data counts only")
    parser.add_argument("--skip-smollm2", action="store_true", help="with --data: the scripted teacher only")
    parser.add_argument("--data-worker", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.data_worker:
        return _worker(json.loads(args.data_worker))
    out = HERE / "results" / "trainer.json"
    if args.data:
        results = json.loads(out.read_text()) if out.is_file() else {}
        results["data_faults"] = measure_data(args.skip_smollm2)
        out.write_text(json.dumps(results, indent=2) + "\n")
        print(json.dumps(results["data_faults"], indent=2))
        return 0
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
    if out.is_file() and "data_faults" in (previous := json.loads(out.read_text())):
        results["data_faults"] = previous["data_faults"]  # measured apart (`--data`)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
