"""`swe-train synth`: Dev-Search trajectories from a teacher model, several samples per instance.

For each collected instance, the codebase at its base commit is written out once, and the server's
own `resolve` runs on it `--samples` times (a different seed each time) with the teacher behind any
backend: in production a reasoning model served by vLLM through the OpenAI-compatible API
(`--backend openai --base-url ...`), in tests the embedded model in process. Every stage runs as the
server runs it (understanding, localization with tool calls, patches, reproduction scripts and
verification), so each trajectory holds think and answer per step. Verification is told the
instance's own tests: its FAIL_TO_PASS tests must pass and its PASS_TO_PASS tests keep passing,
with its test patch written next to each candidate in the sandbox only (`trainer.verifier`), in the
environment the SWE-bench harness's spec describes for a SWE-bench instance (`trainer.swebench_env`).

Output, per sample, `OUT/synth/<instance_id>/<k>/`: `trajectory.jsonl` (the `swe_lsp.search.records`
schema), `cost.json`, and `report.json` (state, error, candidates with diff, verified, score). A
sample whose `report.json` exists is not run again, so an interrupted run resumes.
"""

from __future__ import annotations

import argparse
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import asdict
from pathlib import Path
from typing import Any

from swe_lsp.llm import Backend
from swe_lsp.sandbox import Sandbox, open_sandbox
from swe_lsp.search import Issue, JobReport, ResolveRequest, resolve
from swe_lsp.search.verification import Verifier
from swe_lsp.settings import Settings
from trainer import provenance
from trainer.instances import Instance, read_instances
from trainer.repos import checkout_repo, file_at, instance_git_dir
from trainer.runs import patched_texts, pin_environment
from trainer.swebench_env import LOG_BYTES
from trainer.verifier import InstanceVerifier

STEP = "synth"
REPORT = "report.json"


def sample_dir(out: Path, instance_id: str, k: int) -> Path:
    """Where sample `k` of an instance is written."""
    return out / STEP / instance_id / str(k)


def _summary(report: JobReport) -> dict[str, Any]:
    return {
        "job_id": report.job_id,
        "state": report.state,
        "error": report.error,
        "cost": asdict(report.cost.total),
        "candidates": [
            {"rank": c.rank, "diff": c.diff, "verified": c.evidence.verified, "score": c.score}
            for c in report.candidates
        ],
    }


def synthesize(
    instances: Sequence[Instance],
    backend: Backend,
    settings: Settings,
    out: Path,
    samples: int,
    mirrors: Path | None = None,
    advance: Callable[[str], None] = lambda _m: None,
    no_sandbox: bool = False,
) -> dict[str, int]:
    """Run the samples not yet on disk; returns counts of samples run, skipped and failed.
    `no_sandbox` skips verification (no reproduction scripts are written then)."""
    counts = {"run": 0, "skipped": 0, "failed": 0}
    work = out / STEP / ".work"
    with ExitStack() as stack:
        sandbox: Sandbox | None = None
        for inst in instances:
            todo = [
                k for k in range(samples) if not (sample_dir(out, inst.instance_id, k) / REPORT).is_file()
            ]
            counts["skipped"] += samples - len(todo)
            if not todo:
                continue
            git_dir = instance_git_dir(inst, mirrors)
            tree = checkout_repo(git_dir, inst.base_commit, work / inst.instance_id)
            if sandbox is None and not no_sandbox:  # opened once, on the first sample to run
                sandbox = stack.enter_context(open_sandbox(settings.sandbox))
            tests = instance_test_files(inst, git_dir)
            for k in todo:
                advance(f"{inst.instance_id} sample {k}")
                seed = (settings.model.seed or 0) + k
                run_settings = settings.with_overrides({"model": {"seed": seed}})
                dest = sample_dir(out, inst.instance_id, k)
                job_id = f"{inst.instance_id}-s{k}"
                request = ResolveRequest(job_id, tree, Issue(inst.problem_statement), out_dir=dest)
                cancel = threading.Event()
                report = resolve(
                    request,
                    backend,
                    run_settings,
                    lambda _p: None,
                    cancel,
                    verifier_factory=instance_verifier(sandbox, inst, tests, settings, cancel, job_id),
                )
                counts["run"] += 1
                counts["failed"] += report.state != "done"
                (dest / REPORT).write_text(json.dumps(_summary(report), indent=2) + "\n", encoding="utf-8")
    return counts


def instance_test_files(inst: Instance, git_dir: Path) -> dict[str, str | None]:
    """The files of the instance's test patch as it leaves them ({} when it has none)."""
    return patched_texts(inst.test_patch, lambda path: file_at(git_dir, inst.base_commit, path)) or {}


def instance_verifier(
    sandbox: Sandbox | None,
    inst: Instance,
    tests: Mapping[str, str | None],
    settings: Settings,
    cancel: threading.Event,
    job_id: str,
) -> Callable[[Path], Verifier | None]:
    """The verifier factory `resolve` calls with the job's snapshot: an `InstanceVerifier` on the
    instance's tests, or none without a sandbox (nothing is verified then). The snapshot runs in
    the environment of the harness's spec where the sandbox takes one (`pin_environment`)."""

    def make(root: Path) -> Verifier | None:
        if sandbox is None:
            return None
        pin_environment(sandbox, inst, root)
        return InstanceVerifier(sandbox, root, inst, tests, settings.sandbox.timeout_s, cancel, job_id)

    return make


def register(subparsers: Any) -> None:
    """Add the `synth` subcommand."""
    p = subparsers.add_parser("synth", help="Dev-Search trajectories from a teacher model (step 2)")
    p.add_argument("--out", type=Path, required=True, help="the run folder (reads collect/instances.jsonl)")
    p.add_argument("--model", required=True, help="the teacher's manifest name")
    p.add_argument("--backend", choices=["auto", "vllm", "transformers", "openai"], default="openai")
    p.add_argument("--base-url", default=None, help="the teacher's OpenAI-compatible endpoint")
    p.add_argument("--samples", type=int, default=4, help="trajectories per instance")
    p.add_argument("--budget", type=int, default=None, help="samples per stage, n")
    p.add_argument("--beam", type=int, default=None, help="kept per stage, k")
    p.add_argument("--max-tokens", type=int, default=None, help="tokens per answer")
    p.add_argument("--temperature", type=float, default=None, help="sampling temperature")
    p.add_argument("--sandbox", choices=["auto", "docker", "bwrap", "local", "none"], default="auto")
    p.add_argument("--mirrors", type=Path, default=None, help="folder of git mirrors (SWE-bench instances)")
    p.add_argument("--limit", type=int, default=None, help="only the first N instances")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Open the teacher, run the samples with a progress bar, record versions and sampling."""
    from rich.progress import Progress

    from swe_lsp.llm import get_manifest, open_backend
    from swe_lsp.settings import load_settings

    search = {
        k: v
        for k, v in (
            ("budget", args.budget),
            ("beam", args.beam),
            ("max_tokens", args.max_tokens),
            ("temperature", args.temperature),
        )
        if v is not None
    }
    model = {
        "name": args.model,
        "backend": args.backend,
        **({"base_url": args.base_url} if args.base_url else {}),
    }
    # The instance's tests are graded per test from their whole log (`trainer.verifier`).
    sandbox = {} if args.sandbox == "none" else {"kind": args.sandbox, "max_output_bytes": LOG_BYTES}
    settings = load_settings(None, {"model": model, "search": search, "sandbox": sandbox}).settings
    instances = read_instances(args.out / "collect" / "instances.jsonl")[: args.limit]
    manifest = get_manifest(args.model, settings.models_dirs)
    provenance.record(
        args.out,
        STEP,
        {
            "teacher": args.model,
            "backend": args.backend,
            "samples": args.samples,
            "search": settings.search.model_dump(),
            "sandbox": args.sandbox,
            "seed": settings.model.seed,
        },
    )
    with open_backend(manifest, settings.model, settings.cache_path()) as backend, Progress() as bar:
        task = bar.add_task("synth", total=len(instances) * args.samples)

        def advance(message: str) -> None:
            bar.update(task, advance=1, description=message)

        counts = synthesize(
            instances,
            backend,
            settings,
            args.out,
            args.samples,
            args.mirrors,
            advance,
            args.sandbox == "none",
        )
    print(f"synth: {counts['run']} run, {counts['skipped']} already done, {counts['failed']} failed")
    return 0
