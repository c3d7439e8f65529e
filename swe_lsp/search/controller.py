"""Dev-Search: the staged search over understanding, localization, patching and verification.

`devsearch` spends n samples per stage, scores each stage's candidates with the PRM and keeps the
top k; the kept patches are scored by the ORM, verified best first, refined when they fail, and
the search stops early once a verified patch's ORM score clears the threshold. The comparison
strategies (the paper's Figure 5) spend the same n as n independent rollouts, without the PRM:
`exec` verifies them all and ranks by the verdict, `orm_exec` adds the ORM, `vote` runs nothing and
ranks by how many rollouts produced the same fix. Nothing here does I/O but through the runtime
(model calls) and the verifier (sandbox).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TypeVar

from swe_lsp.search.beam import allocate, top_k
from swe_lsp.search.context import JobContext, SearchConfig
from swe_lsp.search.localize import localize
from swe_lsp.search.model import FileSet, LocationSet, Outcome, PatchCandidate, Verification
from swe_lsp.search.patching import generate_patches, merge_duplicates
from swe_lsp.search.prompts import MAX_STEP_CHARS, render_locations
from swe_lsp.search.ranking import STRATEGIES, rank
from swe_lsp.search.runtime import BudgetExhausted, Runtime
from swe_lsp.search.understand import understand
from swe_lsp.search.verification import Verifier, refine, write_scripts

T = TypeVar("T", FileSet, LocationSet, PatchCandidate)


@dataclass
class SearchResult:
    """Where a search ended: the ranked outcomes, and whether it stopped early or ran out."""

    outcomes: list[Outcome] = field(default_factory=list)
    stopped_early: bool = False
    budget_exhausted: bool = False
    counts: dict[str, int] = field(default_factory=dict)


def search(rt: Runtime, ctx: JobContext, cfg: SearchConfig, verifier: Verifier | None) -> SearchResult:
    """Run the strategy `cfg.strategy`; `verifier` None means no verification (it is then skipped)."""
    if cfg.strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {cfg.strategy!r}")
    result = SearchResult()
    patches: list[PatchCandidate] = []
    try:
        patches = _generate(rt, ctx, cfg, result)
        result.outcomes = [Outcome(p, prm_scores=_prm_path(rt, p)) for p in patches]
        if cfg.strategy != "vote":
            _verify(rt, ctx, cfg, verifier, result)
    except BudgetExhausted:
        result.budget_exhausted = True
        if not result.outcomes:
            result.outcomes = [Outcome(p, prm_scores=_prm_path(rt, p)) for p in patches]
    with rt.in_stage("rank", "ranking"):
        result.outcomes = rank(result.outcomes, cfg.strategy)
    return result


def _generate(rt: Runtime, ctx: JobContext, cfg: SearchConfig, result: SearchResult) -> list[PatchCandidate]:
    beam = cfg.strategy == "devsearch"
    n, k = cfg.budget, cfg.beam
    with rt.in_stage("understand", f"choosing files ({n} samples)"):
        files = understand(rt, ctx, cfg, n)
        result.counts["understand"] = len(files)
        files = _select(rt, ctx, "understand", files, k, beam, lambda f: "\n".join(f.files))
    with rt.in_stage("localize", f"localizing the fault from {len(files)} file set(s)"):
        counts = allocate(n, len(files)) if beam else [1] * len(files)
        locations = localize(rt, ctx, cfg, files, counts)
        result.counts["localize"] = len(locations)
        locations = _select(
            rt, ctx, "localize", locations, k, beam, lambda s: render_locations(s.locations, ctx.lines)
        )
    with rt.in_stage("patch", f"writing patches for {len(locations)} location set(s)"):
        counts = allocate(n, len(locations)) if beam else [1] * len(locations)
        sampled = generate_patches(rt, ctx, cfg, locations, counts)
        patches = merge_duplicates(sampled)
        first = {p.key: p.id for p in patches}
        for p in sampled:
            if first[p.key] != p.id:
                rt.recorder.settle(p.id, "patch", outcome="merged", detail=f"the same fix as {first[p.key]}")
        result.counts["patch"] = len(patches)
        return _select(rt, ctx, "patch", patches, k, beam, lambda p: p.diff[:MAX_STEP_CHARS])


def _select(
    rt: Runtime, ctx: JobContext, stage: str, items: list[T], k: int, beam: bool, render: Callable[[T], str]
) -> list[T]:
    """With the beam: PRM-score `items` in one batch and keep the top k. Without: keep them all."""
    if not beam or not items:
        for item in items:
            rt.recorder.settle(item.id, stage, outcome="kept")
        return items
    scores = rt.prm(stage, ctx.issue, [render(i) for i in items])
    scored = [replace(i, prm=s) for i, s in zip(items, scores, strict=True)]
    kept, pruned = top_k(scored, k)
    for item in kept:
        rt.recorder.settle(item.id, stage, prm=item.prm, outcome="kept")
    for item in pruned:
        rt.recorder.settle(item.id, stage, prm=item.prm, outcome="pruned")
    return kept


def _prm_path(rt: Runtime, patch: PatchCandidate) -> dict[str, float]:
    """The PRM scores along a patch's path (its file set, location set, itself), for the evidence."""
    ids = {"patch": patch.id, "localize": patch.parent, "understand": patch.locations.parent}
    return {
        r.stage: r.prm
        for r in rt.recorder.records
        if r.prm is not None and ids.get(r.stage) == r.candidate_id
    }


def _verify(
    rt: Runtime, ctx: JobContext, cfg: SearchConfig, verifier: Verifier | None, result: SearchResult
) -> None:
    """Verify the patches (best ORM first where the ORM is used), refining failures, stopping early."""
    use_orm = cfg.strategy in ("devsearch", "orm_exec")
    with rt.in_stage("verify", f"verifying {len(result.outcomes)} patch(es)"):
        outcomes = result.outcomes
        if use_orm:
            orm = rt.orm(ctx.issue, [o.patch.diff for o in outcomes])
            outcomes = [replace(o, orm=s) for o, s in zip(outcomes, orm, strict=True)]
            outcomes = sorted(outcomes, key=lambda o: -(o.orm or 0.0))
        result.outcomes = outcomes
        if verifier is None:
            return
        scripts = write_scripts(rt, ctx, cfg, [o.patch for o in outcomes])
        for i, outcome in enumerate(outcomes):
            rt.report(f"verifying {outcome.patch.id}", i / max(len(outcomes), 1))
            final = _verify_one(rt, ctx, cfg, verifier, outcome, scripts.get(outcome.patch.id), use_orm)
            result.outcomes[i] = final
            v = final.verification
            if use_orm and v is not None and v.verified and (final.orm or 0.0) >= cfg.early_stop_score:
                result.stopped_early = True
                for skipped in outcomes[i + 1 :]:
                    rt.recorder.settle(skipped.patch.id, "patch", detail="not verified: stopped early")
                break


def _verify_one(
    rt: Runtime,
    ctx: JobContext,
    cfg: SearchConfig,
    verifier: Verifier,
    outcome: Outcome,
    script: str | None,
    use_orm: bool,
) -> Outcome:
    patch = outcome.patch
    verification = _run(rt, verifier, patch, script, "patch")
    for attempt in range(1, cfg.max_refinements + 1):
        if verification.verified:
            break
        refined = refine(rt, ctx, cfg, patch, verification, attempt)
        if refined is None:
            break
        refined = replace(refined, votes=patch.votes, prm=patch.prm)
        orm = rt.orm(ctx.issue, [refined.diff])[0] if use_orm else None
        verification = _run(rt, verifier, refined, script, "refine")
        patch, outcome = refined, replace(outcome, orm=orm)
    return replace(outcome, patch=patch, verification=verification)


def _run(
    rt: Runtime, verifier: Verifier, patch: PatchCandidate, script: str | None, stage: str
) -> Verification:
    """Verify one patch, charge the sandbox time, and record the verdict on its step."""
    rt.checkpoint()
    verification = verifier.verify(patch, script)
    rt.charge_sandbox(verification.sandbox_seconds)
    outcome = "verified" if verification.verified else "failed"
    rt.recorder.settle(patch.id, stage, outcome=outcome, detail="; ".join(verification.notes))
    rt.checkpoint()
    return verification
