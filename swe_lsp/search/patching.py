"""Stage 3, patch generation: from each kept location set, candidate patches as search/replace edit
blocks, applied to the snapshot's texts (never to disk). Unless `constrain_patches` is off, decoding
is constrained so that SEARCH quotes the shown code exactly (`patch_regex`). A candidate whose blocks
do not apply is sent the feedback and tries again, at most `max_refinements` times; only
`applicable` patches go on.
Equal fixes (the same up to formatting; the AST for Python) are merged, their votes added.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import replace

from swe_lsp.llm import Constraint, GenerateRequest, Message, Usage
from swe_lsp.patch import ApplyResult, apply_model_output, dedup_key, parse_edit_blocks, parse_tagged_edits
from swe_lsp.search.context import JobContext, SearchConfig
from swe_lsp.search.model import LocationSet, PatchCandidate
from swe_lsp.search.prompts import code_context, patch_messages, patch_regex, retry_message, synifer
from swe_lsp.search.prompts.common import issue_block
from swe_lsp.search.prompts.patch import PatchForm
from swe_lsp.search.records import StepRecord, usage_share
from swe_lsp.search.runtime import Runtime
from swe_lsp.search.turns import split_turn

STAGE = "patch"
log = logging.getLogger(__name__)


def generate_patches(
    rt: Runtime, ctx: JobContext, cfg: SearchConfig, parents: Sequence[LocationSet], counts: Sequence[int]
) -> list[PatchCandidate]:
    """`counts[i]` patch attempts from `parents[i]`; the applicable ones, in order (not merged)."""
    pending: list[tuple[str, LocationSet, tuple[Message, ...], int]] = []  # (cid, parent, messages, n)
    constraints: dict[str, Constraint | None] = {}  # per parent: its SEARCH text may quote its code
    for parent, count in zip(parents, counts, strict=True):
        form, context, gathered = fit_prompt(ctx, cfg, parent)
        write = synifer.patch_messages if cfg.profile == synifer.PROFILE else patch_messages
        messages = write(ctx.issue, parent.locations, context, gathered)
        pending.append((parent.id, parent, messages, count))
        regex = patch_regex(parent.locations, ctx.lines, form) if cfg.constrained_patches else None
        constraints[parent.id] = Constraint.regex(regex) if regex else None
    found: list[PatchCandidate] = []
    for attempt in range(cfg.max_refinements + 1):
        if not pending:
            break
        requests = [
            GenerateRequest(msgs, cfg.sampling(n, STAGE), constraints[parent.id])
            for _, parent, msgs, n in pending
        ]
        generations = rt.generate(requests)
        retry = []
        for (cid, parent, msgs, _), generation in zip(pending, generations, strict=True):
            for j, sample in enumerate(generation.samples):
                this = f"{cid}.p{j}" if attempt == 0 else cid
                usage = usage_share(generation.usage, len(generation.samples))
                candidate, feedback, answer = _read(
                    rt, ctx, cfg, this, parent, msgs, sample.text, attempt, usage
                )
                if candidate is not None:
                    found.append(candidate)
                elif feedback and attempt < cfg.max_refinements:
                    retry.append((this, parent, retry_message(msgs, answer, feedback), 1))
        pending = retry
        rt.report(
            f"patch attempt {attempt + 1}: {len(found)} applicable", (attempt + 1) / (cfg.max_refinements + 1)
        )
    return found


# Characters of a patch prompt that are neither code nor gathered context: the system message, the
# instructions and the format example, the location list (about 2k characters).
PROMPT_FRAME_CHARS = 3000
# The fewest code lines per file the prompt shrinks to before it gives up fitting the context.
MIN_SHOWN_LINES = 40


def fit_prompt(ctx: JobContext, cfg: SearchConfig, parent: LocationSet) -> tuple[PatchForm, str, str]:
    """The patch form, the code shown and the gathered context of `parent`'s prompt, sized so that
    prompt + the patch turn's output fit the model's context: the gathered context takes at most a
    third of the room and is clipped first; the code is shown with fewer lines per file (halving,
    down to MIN_SHOWN_LINES) until it fits. The constraint is built from the same form, so the model
    may quote exactly what it is shown."""
    room = cfg.prompt_chars("patch") - PROMPT_FRAME_CHARS - len(issue_block(ctx.issue))
    gathered = parent.gathered if cfg.limits.gathered_context else ""
    if len(gathered) > room // 3:
        gathered = gathered[: room // 3] + "\n[... cut to fit the context ...]"
    form = PatchForm.from_limits(cfg.limits)
    context = code_context(parent.locations, ctx.lines, form.shown_lines, form.import_header)
    while len(context) + len(gathered) > room and form.shown_lines > MIN_SHOWN_LINES:
        form = PatchForm.from_limits(cfg.limits, max(MIN_SHOWN_LINES, form.shown_lines // 2))
        context = code_context(parent.locations, ctx.lines, form.shown_lines, form.import_header)
    if len(context) + len(gathered) > room:  # many located files: the engine may reject the prompt
        log.warning(
            "patch prompt for %s exceeds the model's context even at %d lines per file (%d characters "
            "of code for %d of room); the engine may refuse it",
            parent.id,
            form.shown_lines,
            len(context) + len(gathered),
            room,
        )
    return form, context, gathered


def patch_from_answer(
    ctx: JobContext,
    cid: str,
    parent: LocationSet,
    messages: tuple[Message, ...],
    answer: str,
    profile: str = "swe-lsp",
) -> tuple[PatchCandidate | None, ApplyResult]:
    """Apply an answer's edits (in `profile`'s form) to the snapshot's texts: a candidate when
    applicable."""
    parse = parse_tagged_edits if profile == synifer.PROFILE else parse_edit_blocks
    result = apply_model_output(answer, ctx.root, parse)
    if not result.ok or result.patch is None:
        return None, result
    key = dedup_key(result.new_texts, result.original_texts)
    changed = {p: result.original_texts.get(p) for p in result.new_texts}
    return PatchCandidate(
        cid,
        parent.id,
        result.patch.diff,
        result.patch.files,
        changed,
        dict(result.new_texts),
        key,
        parent,
        messages,
        answer,
    ), result


def _read(
    rt: Runtime,
    ctx: JobContext,
    cfg: SearchConfig,
    cid: str,
    parent: LocationSet,
    messages: tuple[Message, ...],
    text: str,
    attempt: int,
    usage: Usage,
) -> tuple[PatchCandidate | None, str, str]:
    turn = split_turn(text)
    candidate, result = patch_from_answer(ctx, cid, parent, messages, turn.answer, cfg.profile)
    outcome = "sampled" if candidate else str(result.status)
    parsed = candidate.diff if candidate else None
    rt.recorder.add(
        StepRecord(
            rt.job_id,
            STAGE,
            cid,
            parent.id,
            messages,
            turn.think,
            turn.answer,
            parsed,
            outcome=outcome,
            detail=result.feedback_text[:2000],
            usage=usage,
            round=attempt,
        )
    )
    return candidate, result.feedback_text, turn.answer


def merge_duplicates(candidates: Sequence[PatchCandidate]) -> list[PatchCandidate]:
    """One candidate per distinct fix, the first sampled kept, with the votes of its copies."""
    merged: dict[str, PatchCandidate] = {}
    for c in candidates:
        first = merged.get(c.key)
        if first is None:
            merged[c.key] = c
        else:
            merged[c.key] = replace(first, votes=first.votes + c.votes)
    return list(merged.values())
