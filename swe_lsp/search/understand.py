"""Stage 1, repository understanding: n candidate file sets from the issue, the tree and the
retrieval hits, each constrained to existing files."""

from __future__ import annotations

import json

from swe_lsp.llm import Constraint, GenerateRequest
from swe_lsp.search.context import JobContext, SearchConfig
from swe_lsp.search.model import FileSet
from swe_lsp.search.prompts import parse_file_answer, synifer, understand_messages, understand_regex
from swe_lsp.search.records import StepRecord, usage_share
from swe_lsp.search.runtime import Runtime
from swe_lsp.search.turns import split_turn

STAGE = "understand"


def understand(rt: Runtime, ctx: JobContext, cfg: SearchConfig, n: int) -> list[FileSet]:
    """Sample n file sets; a sample that is cut off or names no listed file is recorded as
    rejected and left out."""
    choices = ctx.file_choices()
    if not choices:
        return []
    paths = [p for p, _ in choices]
    if cfg.profile == synifer.PROFILE:
        most = min(cfg.limits.max_files, synifer.MAX_FILES)
        python = [p for p in paths if p.endswith(".py")] or paths
        room = cfg.prompt_chars(STAGE) - len(ctx.issue) - synifer.FRAME_CHARS
        messages = synifer.understand_messages(ctx.issue, python, room)
        constraint = None
    else:
        most = cfg.limits.max_files
        listed = choices[: cfg.limits.files_listed]
        messages = understand_messages(ctx.issue, ctx.tree, listed, most, any_file=len(listed) < len(choices))
        constraint = Constraint.regex(understand_regex(paths, most))
    (generation,) = rt.generate([GenerateRequest(messages, cfg.sampling(n, STAGE), constraint)])
    found = []
    for i, sample in enumerate(generation.samples):
        turn = split_turn(sample.text)
        named = synifer.files_answer(turn.answer) if cfg.profile == synifer.PROFILE else None
        answer = json.dumps(named) if named is not None else turn.answer
        files, problem = parse_file_answer(answer, paths, most)
        cid = f"u{i}"
        outcome, detail = ("sampled", "") if files else ("rejected", problem)
        if files and not sample.valid:
            detail = "constraint not satisfied (cut off?); parsed leniently"
        rt.recorder.add(
            StepRecord(
                rt.job_id,
                STAGE,
                cid,
                None,
                messages,
                turn.think,
                turn.answer,
                list(files),
                outcome=outcome,
                detail=detail,
                usage=usage_share(generation.usage, len(generation.samples)),
            )
        )
        if files:
            found.append(FileSet(cid, files, turn.answer))
    return found
