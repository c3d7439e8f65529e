"""Dev-Search: the staged search over understanding, localization, patching and verification.

`devsearch` spends n samples per stage, merges equal answers (the same files, the same locations,
the same fix), scores each stage's distinct candidates with the PRM and keeps the top k of file
and location sets; every distinct patch (or the `patch_keep` best by the PRM) is scored by the ORM,
the issue's reproduction script is written and validated once, the patches are verified in ORM
order against it, a failing one is refined into a new candidate (never replacing it), and the
search stops early once a verified patch's ORM score clears the threshold (which bounds the cost
of verifying them all). The comparison strategies (the paper's Figure 5) spend the same n as n
independent rollouts, without the PRM: `exec` verifies them all and ranks by the verdict,
`orm_exec` adds the ORM, `vote` runs nothing and ranks by how many rollouts produced the same fix.
Nothing here does I/O but through the runtime (model calls) and the verifier (sandbox).

A failure after generation (the sandbox, its environment image, the model backend during
verification or ORM scoring) does not lose the candidates: the search ends with them, those not
yet verified marked so with the reason, and `SearchResult.verification_error` says what failed.
A cancellation is not such a failure: it still unwinds as `Cancelled`.

Without a PRM (a manifest with `prm = "none"`, e.g. a strong policy and a public verifier as the
ORM) the beam keeps each stage's k candidates by vote: those the most of the stage's samples agreed
on (equal answers are merged, their samples counted), ties in sampling order. Not the ORM: it judges
a final patch against the issue, and a file set or a location list is no patch. Not the policy's
likelihood: it would cost a scoring call per candidate and favours short answers. Voting is the
paper's own selection without a reward model (the `vote` strategy) and costs nothing. The job's
report says so (`SearchResult.beam_rule`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import TypeVar

from swe_lsp.errors import SweLspError
from swe_lsp.search.beam import allocate, top_k
from swe_lsp.search.context import JobContext, SearchConfig
from swe_lsp.search.localize import localize
from swe_lsp.search.model import (
    FileSet,
    LocationSet,
    Outcome,
    PatchCandidate,
    Reproduction,
    Verification,
)
from swe_lsp.search.patching import generate_patches, merge_duplicates
from swe_lsp.search.prompts import MAX_STEP_CHARS, render_locations
from swe_lsp.search.ranking import STRATEGIES, rank
from swe_lsp.search.reproduction import validate_reproduction
from swe_lsp.search.runtime import BudgetExhausted, Cancelled, Runtime
from swe_lsp.search.understand import understand
from swe_lsp.search.verification import Verifier, refine

T = TypeVar("T", FileSet, LocationSet, PatchCandidate)
log = logging.getLogger(__name__)
# How much of a late failure's message goes into each candidate's notes (an image build's log tail
# can be long; the job's report keeps it whole).
MAX_REASON_CHARS = 2000
# How every note that says why a candidate has no verification begins.
UNVERIFIED = "not verified"
# What the report says when the beam ran without a PRM (see the module docstring).
BEAM_WITHOUT_PRM = "prm: none, beam kept by vote (the candidates the most samples agreed on)"


@dataclass
class SearchResult:
    """Where a search ended: the ranked outcomes, whether it stopped early or ran out, the issue's
    validated reproduction (None when none was attempted), and, when verification failed late,
    why (`verification_error`; the outcomes not verified by then carry it in their notes)."""

    outcomes: list[Outcome] = field(default_factory=list)
    stopped_early: bool = False
    budget_exhausted: bool = False
    counts: dict[str, int] = field(default_factory=dict)
    reproduction: Reproduction | None = None
    verification_error: str | None = None
    beam_rule: str | None = None


def search(rt: Runtime, ctx: JobContext, cfg: SearchConfig, verifier: Verifier | None) -> SearchResult:
    """Run the strategy `cfg.strategy`; `verifier` None means no verification (it is then skipped).

    Raises `Cancelled` on a cancel; any other failure before the candidates exist propagates, and
    one after returns them (see the module docstring)."""
    if cfg.strategy not in STRATEGIES:
        raise ValueError(f"unknown strategy {cfg.strategy!r}")
    result = SearchResult()
    patches: list[PatchCandidate] = []
    generated = False
    try:
        patches = _generate(rt, ctx, cfg, result)
        result.outcomes = [Outcome(p, prm_scores=_prm_path(rt, p)) for p in patches]
        generated = True
        if cfg.strategy != "vote":
            _verify(rt, ctx, cfg, verifier, result)
    except BudgetExhausted:
        result.budget_exhausted = True
        if not result.outcomes:
            result.outcomes = [Outcome(p, prm_scores=_prm_path(rt, p)) for p in patches]
        _mark_unverified(result, f"{UNVERIFIED}: the job's token budget ran out")
    except Cancelled:
        raise
    except Exception as exc:
        if rt.cancel.is_set():  # a sandbox torn down by the cancel may fail before it notices
            raise Cancelled() from exc
        if not generated:
            raise
        reason = late_failure(exc)
        log.warning(
            "job %s: verification failed, returning the candidates unverified: %s",
            rt.job_id,
            reason,
            exc_info=log.isEnabledFor(logging.DEBUG),
        )
        result.verification_error = reason
        _mark_unverified(result, f"{UNVERIFIED}: verification failed: {reason[:MAX_REASON_CHARS]}")
    with rt.in_stage("rank", "ranking"):
        result.outcomes = rank(result.outcomes, cfg.strategy)
    return result


def late_failure(exc: BaseException) -> str:
    """A failure's message as the report shows it: a project error's own message (it says what to
    do), anything else with its type (a backend's or the sandbox engine's bug)."""
    if isinstance(exc, SweLspError):
        return str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {exc}"


def _mark_unverified(result: SearchResult, note: str) -> None:
    """Give every outcome that has no verification, and no reason for that yet, `note` as one."""
    result.outcomes = [
        replace(o, notes=(*o.notes, note))
        if o.verification is None and not any(n.startswith(UNVERIFIED) for n in o.notes)
        else o
        for o in result.outcomes
    ]


def _generate(rt: Runtime, ctx: JobContext, cfg: SearchConfig, result: SearchResult) -> list[PatchCandidate]:
    beam = cfg.strategy == "devsearch"
    if beam and rt.roles.prm is None:
        result.beam_rule = BEAM_WITHOUT_PRM
    n, k = cfg.budget, cfg.beam
    votes: dict[str, int] = {}
    with rt.in_stage("understand", f"choosing files ({n} samples)"):
        files = understand(rt, ctx, cfg, n)
        if beam:  # independent rollouts (the other strategies) stay independent
            files = _merge(rt, "understand", files, lambda f: tuple(sorted(f.files)), votes)
        result.counts["understand"] = len(files)
        files = _select(rt, ctx, "understand", files, k, beam, lambda f: "\n".join(f.files), votes)
    with rt.in_stage("localize", f"localizing the fault from {len(files)} file set(s)"):
        counts = allocate(n, len(files)) if beam else [1] * len(files)
        locations = localize(rt, ctx, cfg, files, counts)
        if beam:
            locations = _merge(
                rt, "localize", locations, lambda s: tuple(sorted(set(s.locations), key=repr)), votes
            )
        result.counts["localize"] = len(locations)
        locations = _select(
            rt, ctx, "localize", locations, k, beam, lambda s: render_locations(s.locations, ctx.lines), votes
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
        keep = cfg.patch_keep or len(patches)
        votes.update({p.id: p.votes for p in patches})
        return _select(rt, ctx, "patch", patches, keep, beam, lambda p: p.diff[:MAX_STEP_CHARS], votes)


def _merge(
    rt: Runtime, stage: str, items: list[T], key: Callable[[T], object], votes: dict[str, int]
) -> list[T]:
    """One item per distinct answer (the same files, the same locations), the first kept, so that
    the top k of a stage are k different answers rather than copies of one. `votes` gets, for each
    kept item, how many of the stage's samples gave its answer."""
    firsts: dict[object, T] = {}
    for item in items:
        same = firsts.setdefault(key(item), item)
        votes[same.id] = votes.get(same.id, 0) + 1
        if same is not item:
            rt.recorder.settle(item.id, stage, outcome="merged", detail=f"the same answer as {same.id}")
    return list(firsts.values())


def _select(
    rt: Runtime,
    ctx: JobContext,
    stage: str,
    items: list[T],
    k: int,
    beam: bool,
    render: Callable[[T], str],
    votes: dict[str, int],
) -> list[T]:
    """With the beam: PRM-score `items` in one batch and keep the top k; without a PRM, keep the k
    with the most votes (see the module docstring). Without the beam: keep them all."""
    if not beam or not items:
        for item in items:
            rt.recorder.settle(item.id, stage, outcome="kept")
        return items
    if rt.roles.prm is None:
        order = sorted(range(len(items)), key=lambda i: (-votes.get(items[i].id, 1), i))
        chosen = set(order[:k])
        for i in order:
            v = votes.get(items[i].id, 1)
            outcome = "kept" if i in chosen else "pruned"
            detail = f"{outcome} by vote: {v} sample(s)"
            rt.recorder.settle(items[i].id, stage, outcome=outcome, detail=detail)
        return [items[i] for i in order[:k]]
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
    """Verify the patches (best ORM first where the ORM is used) against the issue's validated
    reproduction, refining failures into new candidates, stopping early. `result.outcomes` is kept
    current throughout, so a failure part-way loses nothing already found."""
    use_orm = cfg.strategy in ("devsearch", "orm_exec")
    with rt.in_stage("verify", f"verifying {len(result.outcomes)} patch(es)"):
        outcomes = result.outcomes
        if use_orm:
            orm = rt.orm(ctx.issue, [o.patch.diff for o in outcomes])
            outcomes = [replace(o, orm=s) for o, s in zip(outcomes, orm, strict=True)]
            outcomes = sorted(outcomes, key=lambda o: -(o.orm or 0.0))
        result.outcomes = list(outcomes)
        if verifier is None or not outcomes:
            return
        # Written from the best candidate's locations: its prompt holds no patch, so one script
        # serves every candidate.
        reproduction = validate_reproduction(rt, ctx, cfg, verifier, outcomes[0].patch.locations)
        result.reproduction = reproduction
        for i, outcome in enumerate(outcomes):
            rt.report(f"verifying {outcome.patch.id}", i / max(len(outcomes), 1))
            produced = _verify_one(rt, ctx, cfg, verifier, outcome, reproduction, use_orm, result)
            if use_orm and any(_confident(o, cfg) for o in produced):
                result.stopped_early = True
                for skipped in outcomes[i + 1 :]:
                    rt.recorder.settle(skipped.patch.id, "patch", detail=f"{UNVERIFIED}: stopped early")
                _mark_unverified(result, f"{UNVERIFIED}: stopped early")
                break


def _confident(o: Outcome, cfg: SearchConfig) -> bool:
    """Verified, with an ORM score at the early-stop threshold."""
    return o.verification is not None and o.verification.verified and (o.orm or 0.0) >= cfg.early_stop_score


def _verify_one(
    rt: Runtime,
    ctx: JobContext,
    cfg: SearchConfig,
    verifier: Verifier,
    outcome: Outcome,
    reproduction: Reproduction,
    use_orm: bool,
    result: SearchResult,
) -> list[Outcome]:
    """Verify `outcome`'s patch; while it (or its latest refinement) fails, refine it into a new
    candidate with its own id, ORM score and verification, placed after it in `result.outcomes`.
    The original keeps its score and verdict. Returns the outcomes verified here, in order."""
    patch = outcome.patch
    verification = _run(rt, verifier, patch, reproduction, "patch")
    produced = [replace(outcome, verification=verification)]
    _put(result, produced[-1], after=None)
    for attempt in range(1, cfg.max_refinements + 1):
        if verification.verified:
            break
        refined = refine(rt, ctx, cfg, patch, verification, attempt)
        if refined is None:
            break
        same = next((o.patch.id for o in result.outcomes if o.patch.key == refined.key), None)
        if same is not None:  # the same fix as a candidate already there: nothing new to verify
            rt.recorder.settle(refined.id, "refine", outcome="merged", detail=f"the same fix as {same}")
            break
        note = f"a refinement of {patch.id} after its failed verification"
        new = Outcome(refined, prm_scores=_prm_path(rt, refined), notes=(note,))
        _put(result, new, after=patch.id)  # listed at once: a later failure keeps it, unverified
        if use_orm:
            new = replace(new, orm=rt.orm(ctx.issue, [refined.diff])[0])
            _put(result, new, after=None)
        verification = _run(rt, verifier, refined, reproduction, "refine")
        new = replace(new, verification=verification)
        _put(result, new, after=None)
        produced.append(new)
        patch = refined
    return produced


def _put(result: SearchResult, outcome: Outcome, after: str | None) -> None:
    """Replace the outcome of the same patch in `result.outcomes`, or insert it after `after`'s."""
    ids = [o.patch.id for o in result.outcomes]
    if outcome.patch.id in ids:
        result.outcomes[ids.index(outcome.patch.id)] = outcome
    else:
        at = ids.index(after) + 1 if after in ids else len(ids)
        result.outcomes.insert(at, outcome)


def _run(
    rt: Runtime, verifier: Verifier, patch: PatchCandidate, reproduction: Reproduction, stage: str
) -> Verification:
    """Verify one patch, charge the sandbox time, and record the verdict on its step."""
    rt.checkpoint()
    verification = verifier.verify(patch, reproduction)
    rt.charge_sandbox(verification.sandbox_seconds)
    outcome = "verified" if verification.verified else "failed"
    rt.recorder.settle(patch.id, stage, outcome=outcome, detail="; ".join(verification.notes))
    rt.checkpoint()
    return verification
