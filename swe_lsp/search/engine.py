"""`resolve`: one job from request to report. This is the layer that touches the outside world:
it snapshots the workspace, builds the index, opens the sandbox, runs the search, writes the
trajectory and the cost report, and turns every failure into a report state (never a traceback).
A failure after the candidates were generated is not a failed job: it is `done`, with the
candidates unverified and `error` saying why verification failed.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from swe_lsp.errors import SweLspError
from swe_lsp.llm import Backend, GenerationInterrupted, Manifest, get_manifest
from swe_lsp.search.context import JobContext, SearchConfig
from swe_lsp.search.controller import SearchResult, search
from swe_lsp.search.example import ExampleOutcome, ExampleRunner, issue_example
from swe_lsp.search.job import Cost, JobReport, Progress, ResolveRequest
from swe_lsp.search.ranking import STRATEGIES, to_candidates
from swe_lsp.search.records import why_no_candidate, write_trajectory
from swe_lsp.search.roles import BackendORM, BackendPolicy, backend_prm
from swe_lsp.search.runtime import Cancelled, Roles, Runtime
from swe_lsp.search.verification import SandboxVerifier, Verifier
from swe_lsp.settings import Settings

if TYPE_CHECKING:
    from swe_lsp.workspace import RepoIndex
    from swe_lsp.workspace.semantic import SemanticModel

log = logging.getLogger(__name__)
TRAJECTORY_FILE = "trajectory.jsonl"
COST_FILE = "cost.json"


def roles_for(backend: Backend, manifest: Manifest) -> Roles:
    """The policy, PRM (None without one) and ORM of a manifest, each served by its engine of
    `backend` (`Backend.for_role`)."""
    return Roles(
        BackendPolicy(backend, manifest), backend_prm(backend, manifest), BackendORM(backend, manifest)
    )


def job_dir(request: ResolveRequest, settings: Settings) -> Path:
    """Where a job's files go: the request's `out_dir`, else `<cache>/jobs/<job_id>`."""
    return request.out_dir or settings.cache_path() / "jobs" / request.job_id


# A job's note when `search.history_ranker` is on and no learned model can serve.
NO_LEARNED_RANKER = (
    "files ranked without the learned ranker (no model could be loaded: LightGBM does not import here, "
    "or the package's prior is missing; the log says which)"
)


def resolve(
    request: ResolveRequest,
    backend: Backend,
    settings: Settings,
    progress: Callable[[Progress], None],
    cancel: threading.Event,
    roles: Roles | None = None,
    verifier_factory: Callable[[Path], Verifier | None] | None = None,
) -> JobReport:
    """Run one job synchronously. `roles` and `verifier_factory` replace the backend's roles and the
    configured sandbox (tests, the trainer's evaluation); by default both come from `settings`."""
    try:
        manifest = get_manifest(request.model or settings.model.name, settings.models_dirs)
    except SweLspError as exc:
        return JobReport(request.job_id, "failed", error=str(exc))
    cfg = SearchConfig.from_settings(
        settings.search,
        request.budget,
        request.beam,
        request.strategy,
        limits=manifest.limits,
        context_length=manifest.context_length,
        profile=manifest.prompts,
    )
    if cfg.strategy not in STRATEGIES:
        return JobReport(
            request.job_id,
            "failed",
            error=f"unknown strategy {cfg.strategy!r}; choose one of {', '.join(STRATEGIES)}",
        )
    cfg = replace(cfg, seed=settings.model.seed)
    if roles is None:
        roles = roles_for(backend, manifest)
    rt = Runtime(request.job_id, roles, cancel, progress, cfg.token_ceiling)
    out = job_dir(request, settings)
    state, error, result, commit = "done", None, SearchResult(), None
    ctx: JobContext | None = None
    prepared: _Prepared | None = None
    searched = False
    try:
        with ExitStack() as stack:
            if isinstance(backend, Backend):  # (given roles may come without one)
                stack.enter_context(backend.interruptible(cancel))  # a cancel stops a generation
            prepared = _prepare(rt, request, settings, stack, cfg)
            commit = prepared.commit
            verifier = _verifier(rt, request, settings, prepared.index.root, cfg, stack, verifier_factory)
            example = ExampleOutcome()
            if settings.search.run_example and isinstance(verifier, ExampleRunner):
                example = issue_example(rt, request.issue.model_text(), prepared.index, verifier)
            with rt.in_stage("index", "ranking the code for the issue"):
                ctx = prepared.context(example)
            result = search(rt, ctx, cfg, verifier)
            searched = True
    except (Cancelled, GenerationInterrupted):
        state = "cancelled"
    except SweLspError as exc:
        state, error = "failed", str(exc)
    except Exception as exc:  # a backend or sandbox bug must not take the worker down
        # The traceback goes to the log only when debugging: the user gets the one-line error.
        log.error("job %s failed: %r", request.job_id, exc, exc_info=log.isEnabledFor(logging.DEBUG))
        state, error = "failed", f"{type(exc).__name__}: {exc}"
    if searched and state == "failed":  # closing the sandbox or the snapshot failed: keep the result
        state, error = "done", f"cleaning up after the search failed: {error}"
    if state == "done" and result.verification_error is not None:
        why = f"verification failed, the candidates are unverified: {result.verification_error}"
        error = f"{why}; {error}" if error else why
    cost = rt.cost()
    candidates = to_candidates(result.outcomes, cfg.strategy, cfg.budget) if state == "done" else ()
    trajectory = _persist(out, rt, cost, cfg, state, result)
    why = why_no_candidate(rt.recorder.records) if state == "done" and not candidates else ""
    rt.finish(f"{state}: {len(candidates)} candidate(s)" + (f" ({why})" if why else ""))
    ranked = ctx.notes if ctx is not None else prepared.notes if prepared is not None else ()
    notes = (*ranked, *((result.beam_rule,) if result.beam_rule else ()))
    return JobReport(request.job_id, state, candidates, cost, trajectory, commit, error, why, notes)  # type: ignore[arg-type]


@dataclass(frozen=True)
class _Prepared:
    """The job's indexed snapshot (`commit`: its base commit) and what ranks its code for the issue,
    before the ranking runs: it runs once, after the issue's example (whose calls it weighs) had its
    chance to run in the sandbox the verifier opens on `index.root`. `notes`: the ranking's so far."""

    index: RepoIndex
    commit: str | None
    notes: tuple[str, ...]
    context: Callable[[ExampleOutcome], JobContext]


def _prepare(
    rt: Runtime, request: ResolveRequest, settings: Settings, stack: ExitStack, cfg: SearchConfig
) -> _Prepared:
    from swe_lsp.workspace import RepoIndex, make_snapshot

    cache = settings.cache_path()
    with rt.in_stage("snapshot", f"snapshot of {request.workspace}"):
        rt.checkpoint()
        snapshot = stack.enter_context(make_snapshot(request.workspace, dict(request.buffers), cache))
    with rt.in_stage("index", "indexing the snapshot"):
        rt.checkpoint()
        key = str(Path(request.workspace).resolve())
        index = RepoIndex.build_or_load(snapshot.root, cache, key=key)
        learned, notes = None, []
        if settings.search.history_ranker:
            from swe_lsp.workspace.learning import reorder_for

            learned = reorder_for(cache, key)
            log.info("job %s: files ranked by the %s ranker", request.job_id, learned.name)
            if learned.files is None:  # the cause (LightGBM, the package's prior) is in the log
                notes.append(NO_LEARNED_RANKER)
        semantic, why_not = _semantic(settings)
        notes += [why_not] if why_not else []

        def embedding(done: int, total: int) -> None:  # symbols the idle time did not embed yet
            rt.checkpoint()
            rt.report(f"embedding the best symbols ({done}/{total})", done / total)

        issue, limits, given = request.issue.model_text(), cfg.limits, tuple(notes)

        def context(example: ExampleOutcome) -> JobContext:
            ranked = (*given, *example.notes)
            return JobContext(
                issue, index, limits, learned, semantic, ranked, embedding, example.called, example.files
            )

    return _Prepared(index, snapshot.base_commit, given, context)


def _semantic(settings: Settings) -> tuple[SemanticModel | None, str | None]:
    """The embedding model that re-ranks the best symbols, or None and, when it is on but cannot
    load, why (a note of the job's: it goes on with the hand-weighted order)."""
    from swe_lsp.workspace.semantic import configured_semantic

    return configured_semantic(
        settings.search.semantic_ranker, settings.search.embedding_model, settings.cache_path()
    )


def _verifier(
    rt: Runtime,
    request: ResolveRequest,
    settings: Settings,
    root: Path,
    cfg: SearchConfig,
    stack: ExitStack,
    factory: Callable[[Path], Verifier | None] | None,
) -> Verifier | None:
    """The sandbox-backed verifier on the snapshot at `root` (None for `vote`, which runs nothing);
    opened before the model is asked anything, so that a missing sandbox fails the job at once, not
    after minutes."""
    if cfg.strategy == "vote":
        return None
    if factory is not None:
        return factory(root)
    from swe_lsp.sandbox import open_sandbox

    sandbox_settings = settings.sandbox
    if request.sandbox:
        sandbox_settings = sandbox_settings.model_copy(update={"kind": request.sandbox})
    rt.checkpoint()
    sandbox = stack.enter_context(open_sandbox(sandbox_settings))
    if hasattr(sandbox, "on_build_line"):  # Docker builds the project's environment: show its steps
        sandbox.on_build_line = _build_progress(rt)
    sandbox.prepare(root)
    return SandboxVerifier(
        sandbox,
        root,
        sandbox_settings.test_command,
        sandbox_settings.timeout_s,
        rt.cancel,
        request.job_id,
    )


def _build_progress(rt: Runtime) -> Callable[[str], None]:
    """Report the environment build's steps (not every log line: pip and apt print thousands) as
    progress messages of whatever stage runs meanwhile; the build overlaps the model's work."""

    def on_line(line: str) -> None:
        if line.startswith(("environment step", "building the base image")):
            rt.report(f"sandbox: {line}", 0.0)

    return on_line


def _persist(
    out: Path, rt: Runtime, cost: Cost, cfg: SearchConfig, state: str, result: SearchResult
) -> Path | None:
    """Write the trajectory (JSONL) and the cost report (JSON); a write failure is logged, not fatal."""
    try:
        path = write_trajectory(out / TRAJECTORY_FILE, rt.recorder.records)
        report = {
            "job_id": rt.job_id,
            "state": state,
            "strategy": cfg.strategy,
            "budget": cfg.budget,
            "beam": cfg.beam,
            "stopped_early": result.stopped_early,
            "budget_exhausted": result.budget_exhausted,
            "candidates_per_stage": result.counts,
            "beam_rule": result.beam_rule,
            "reproduction": _reproduction_summary(result),
            "verification_error": result.verification_error,
            "stages": {name: asdict(c) for name, c in cost.stages.items()},
            "total": asdict(cost.total),
        }
        (out / COST_FILE).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        return path
    except OSError as exc:
        log.warning("could not write the job's files to %s: %s", out, exc)
        return None


def _reproduction_summary(result: SearchResult) -> dict[str, object] | None:
    """The issue's reproduction as the cost report states it (None when none was attempted)."""
    r = result.reproduction
    if r is None:
        return None
    return {
        "kept": r.script is not None,
        "outcome": r.outcome,
        "attempts": r.attempts,
        "exit_code": r.exit_code,
        "reason": r.reason,
        "sandbox_seconds": r.sandbox_seconds,
    }
