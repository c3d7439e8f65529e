"""`swe-train synth`: Dev-Search trajectories from a teacher model, several samples per instance.

For each collected instance, the codebase at its base commit is written out once, and the server's
own `resolve` runs on it `--samples` times (a different seed each time) with the teacher behind any
backend: in production a reasoning model served by vLLM through the OpenAI-compatible API
(`--backend openai --base-url ...`), in tests the embedded model in process. Every stage runs as the
server runs it (understanding, localization with tool calls, patches, reproduction scripts and
verification), so each trajectory holds think and answer per step. Verification is the server's
(the teacher's own reproduction script and the regression tests the server selects), in the
environment the SWE-bench harness's spec describes for a SWE-bench instance (`trainer.swebench_env`),
so every prompt, refinements included, is one the model can meet when served. The instance's
FAIL_TO_PASS and PASS_TO_PASS tests only label each candidate (`resolved`), run apart with the test
patch in the sandbox copy (`trainer.verifier`); they never appear in a prompt.

The teacher's turns get `trainer.teacher`'s budget (`--max-tokens` overrides it), and every
generation the engine stopped at that limit is counted: the summary reports the cut rate.

Output, per sample, `OUT/synth/<instance_id>/<k>/`: `trajectory.jsonl` (the `swe_lsp.search.records`
schema), `cost.json`, and `report.json` (state, error, candidates with diff, the server's `verified`,
the instance's tests' `resolved`, score; `generations` and `cut` at the token limit). A sample whose
`report.json` exists is not run again, so an interrupted run resumes. `--ray` runs one Ray task
per instance (`trainer.fanout`), each sample's files written here as its task comes back.
`OUT/synth/summary.json`: the `SynthSummary` of the last run, over every sample on disk.
"""

from __future__ import annotations

import argparse
import json
import threading
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from swe_lsp.llm import Backend, get_manifest
from swe_lsp.sandbox import Sandbox, open_sandbox
from swe_lsp.search import Issue, JobReport, ResolveRequest, Roles, resolve, roles_for
from swe_lsp.search.verification import Verifier
from swe_lsp.settings import Settings
from trainer import provenance
from trainer.instances import Instance, read_instances
from trainer.repos import checkout_repo, file_at, instance_git_dir
from trainer.runs import patched_texts, pin_environment
from trainer.swebench_env import LOG_BYTES
from trainer.teacher import CountingPolicy, CutCounter, teacher_max_tokens
from trainer.verifier import InstanceVerifier, TestLabel

STEP = "synth"
REPORT = "report.json"
SUMMARY = "summary.json"


@dataclass(frozen=True)
class SynthSummary:
    """What a synth run did (`run`, `skipped`, `failed` samples), and over every sample on disk
    that recorded them, the teacher's generations and how many were cut at the token limit
    (`max_tokens`, this run's); `resolved` samples have a candidate that passes the instance's
    tests (their label, not the search's verdict)."""

    run: int
    skipped: int
    failed: int
    max_tokens: int
    samples: int
    generations: int
    cut: int
    resolved: int

    @property
    def cut_rate(self) -> float | None:
        """The share of generations cut at the limit (None: nothing generated)."""
        return round(self.cut / self.generations, 4) if self.generations else None

    def to_json(self) -> dict[str, Any]:
        """The summary as one JSON-ready dict, the cut rate included."""
        return {**asdict(self), "cut_rate": self.cut_rate}

    def line(self) -> str:
        """The summary in one line for the terminal."""
        rate = f"{100 * self.cut_rate:.1f}%" if self.cut_rate is not None else "n/a"
        return (
            f"synth: {self.run} run, {self.skipped} already done, {self.failed} failed; "
            f"{self.cut} of {self.generations} generations cut at {self.max_tokens} tokens ({rate}); "
            f"{self.resolved} of {self.samples} samples resolved by a candidate"
        )


def sample_dir(out: Path, instance_id: str, k: int) -> Path:
    """Where sample `k` of an instance is written."""
    return out / STEP / instance_id / str(k)


def _summary(report: JobReport, labels: Mapping[str, TestLabel], counter: CutCounter) -> dict[str, Any]:
    resolved = {label.diff: label.resolved for label in labels.values()}  # a report's candidates carry no id
    return {
        "job_id": report.job_id,
        "state": report.state,
        "error": report.error,
        "cost": asdict(report.cost.total),
        "generations": counter.generations,
        "cut": counter.cut,
        "candidates": [
            {
                "rank": c.rank,
                "diff": c.diff,
                "verified": c.evidence.verified,
                "resolved": resolved.get(c.diff),
                "score": c.score,
            }
            for c in report.candidates
        ],
    }


def summarize(out: Path, counts: Mapping[str, int], max_tokens: int) -> SynthSummary:
    """This run's counts with the generations, cuts and resolved samples of every `report.json`
    under `out/synth` (a sample from before these were recorded is left out of them)."""
    samples = generations = cut = resolved = 0
    for path in sorted((out / STEP).glob(f"*/*/{REPORT}")):
        if path.parts[-3].startswith("."):  # the checkouts under .work are no samples
            continue
        data = json.loads(path.read_text(encoding="utf-8"))
        if "generations" not in data:
            continue
        samples += 1
        generations += int(data["generations"])
        cut += int(data["cut"])
        resolved += any(c.get("resolved") for c in data.get("candidates", ()))
    return SynthSummary(
        counts["run"], counts["skipped"], counts["failed"], max_tokens, samples, generations, cut, resolved
    )


def todo_samples(out: Path, inst: Instance, samples: int) -> list[int]:
    """The samples of `inst` with no `report.json` under `out` yet (the ones a run still owes)."""
    return [k for k in range(samples) if not (sample_dir(out, inst.instance_id, k) / REPORT).is_file()]


def synthesize_instance(
    inst: Instance,
    todo: Sequence[int],
    backend: Backend,
    settings: Settings,
    out: Path,
    max_tokens: int,
    sandbox: Sandbox | None,
    mirrors: Path | None = None,
    advance: Callable[[str], None] = lambda _m: None,
) -> int:
    """Run samples `todo` of one instance, each written to `sample_dir(out, ...)` with its
    `report.json` last; returns how many of them failed. The one function both the sequential
    loop and a Ray task (`trainer.fanout`) run per instance. `sandbox` None: nothing is verified."""
    manifest = get_manifest(settings.model.name, settings.models_dirs)
    served = roles_for(backend, manifest)
    git_dir = instance_git_dir(inst, mirrors)
    tree = checkout_repo(git_dir, inst.base_commit, out / STEP / ".work" / inst.instance_id)
    tests = instance_test_files(inst, git_dir)
    failed = 0
    for k in todo:
        advance(f"{inst.instance_id} sample {k}")
        seed = (settings.model.seed or 0) + k
        overrides = {"model": {"seed": seed}, "search": {"max_tokens": max_tokens}}
        run_settings = settings.with_overrides(overrides)
        dest = sample_dir(out, inst.instance_id, k)
        job_id = f"{inst.instance_id}-s{k}"
        request = ResolveRequest(job_id, tree, Issue(inst.problem_statement), out_dir=dest)
        cancel = threading.Event()
        counter = CutCounter()
        labels: dict[str, TestLabel] = {}
        report = resolve(
            request,
            backend,
            run_settings,
            lambda _p: None,
            cancel,
            roles=Roles(CountingPolicy(served.policy, counter), served.prm, served.orm),
            verifier_factory=instance_verifier(sandbox, inst, tests, settings, cancel, job_id, labels),
        )
        failed += report.state != "done"
        summary = _summary(report, labels, counter)
        (dest / REPORT).write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    return failed


def synth_max_tokens(settings: Settings) -> int:
    """The teacher's tokens per turn: `search.max_tokens` when set, else `teacher_max_tokens`."""
    manifest = get_manifest(settings.model.name, settings.models_dirs)
    return settings.search.max_tokens or teacher_max_tokens(manifest)


def synthesize(
    instances: Sequence[Instance],
    backend: Backend,
    settings: Settings,
    out: Path,
    samples: int,
    mirrors: Path | None = None,
    advance: Callable[[str], None] = lambda _m: None,
    no_sandbox: bool = False,
) -> SynthSummary:
    """Run the samples not yet on disk; returns the summary (`summarize`). `no_sandbox` skips
    verification (no reproduction scripts are written then). The teacher's turns get
    `teacher_max_tokens` unless the settings set `search.max_tokens`."""
    counts = {"run": 0, "skipped": 0, "failed": 0}
    max_tokens = synth_max_tokens(settings)
    with ExitStack() as stack:
        sandbox: Sandbox | None = None
        for inst in instances:
            todo = todo_samples(out, inst, samples)
            counts["skipped"] += samples - len(todo)
            if not todo:
                continue
            if sandbox is None and not no_sandbox:  # opened once, on the first sample to run
                sandbox = stack.enter_context(open_sandbox(settings.sandbox))
            counts["failed"] += synthesize_instance(
                inst, todo, backend, settings, out, max_tokens, sandbox, mirrors, advance
            )
            counts["run"] += len(todo)
    return summarize(out, counts, max_tokens)


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
    labels: dict[str, TestLabel] | None = None,
) -> Callable[[Path], Verifier | None]:
    """The verifier factory `resolve` calls with the job's snapshot: an `InstanceVerifier` (the
    server's verification, the instance's tests as labels, which land in `labels`), or none without
    a sandbox (nothing is verified then). The snapshot runs in the environment of the harness's
    spec where the sandbox takes one (`pin_environment`)."""

    def make(root: Path) -> Verifier | None:
        if sandbox is None:
            return None
        pin_environment(sandbox, inst, root)
        return InstanceVerifier(
            sandbox,
            root,
            inst,
            tests,
            settings.sandbox.timeout_s,
            cancel,
            job_id,
            settings.sandbox.test_command,
            labels,
        )

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
    p.add_argument(
        "--max-tokens",
        type=int,
        default=None,
        help="tokens per turn, thinking included (default: trainer.teacher's, 16k on a 32k-context teacher)",
    )
    p.add_argument("--temperature", type=float, default=None, help="sampling temperature")
    p.add_argument("--sandbox", choices=["auto", "docker", "bwrap", "local", "none"], default="auto")
    p.add_argument("--mirrors", type=Path, default=None, help="folder of git mirrors (SWE-bench instances)")
    p.add_argument("--limit", type=int, default=None, help="only the first N instances")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    from trainer.fanout import add_ray_arguments

    add_ray_arguments(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Open the teacher, run the samples with a progress bar (here, or as Ray tasks with
    `--ray`/`--ray-address`: `trainer.fanout`), record versions and sampling."""
    from swe_lsp.cli.common import counting_bar
    from swe_lsp.llm import open_backend
    from swe_lsp.settings import load_settings
    from trainer.fanout import ray_model, ray_options, ray_provenance
    from trainer.ray_steps import synthesize_on_ray

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
    options = ray_options(args)
    model = ray_model(options, manifest, settings)
    provenance.record(
        args.out,
        STEP,
        {
            "teacher": args.model,
            "backend": args.backend,
            "samples": args.samples,
            "max_tokens": settings.search.max_tokens or teacher_max_tokens(manifest),
            "search": settings.search.model_dump(),
            "sandbox": args.sandbox,
            "seed": settings.model.seed,
            **ray_provenance(options),
        },
    )
    if options is not None and model is not None:
        with counting_bar("synth", len(instances)) as advance:
            summary = synthesize_on_ray(
                instances,
                model,
                settings,
                args.out,
                args.samples,
                options,
                args.mirrors,
                advance,
                args.sandbox == "none",
            )
        return _report(args, summary)
    with (
        open_backend(manifest, settings.model, settings.cache_path()) as backend,
        counting_bar("synth", len(instances) * args.samples) as advance,
    ):
        summary = synthesize(
            instances,
            backend,
            settings,
            args.out,
            args.samples,
            args.mirrors,
            advance,
            args.sandbox == "none",
        )
    return _report(args, summary)


def _report(args: argparse.Namespace, summary: SynthSummary) -> int:
    """Write `summary.json` and print the summary."""
    (args.out / STEP / SUMMARY).write_text(json.dumps(summary.to_json(), indent=2) + "\n", encoding="utf-8")
    print(json.dumps(summary.to_json(), indent=2) if args.json else summary.line())
    return 0
