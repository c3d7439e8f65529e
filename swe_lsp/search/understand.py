"""Stage 1, repository understanding: n candidate file sets from the issue, the tree and the
retrieval hits, each constrained to existing files."""

from __future__ import annotations

from swe_lsp.llm import Constraint, GenerateRequest, SamplingConfig
from swe_lsp.search.context import JobContext, SearchConfig
from swe_lsp.search.model import FileSet
from swe_lsp.search.prompts import parse_file_answer, understand_messages, understand_regex
from swe_lsp.search.records import StepRecord, usage_share
from swe_lsp.search.runtime import Runtime
from swe_lsp.search.turns import split_turn

STAGE = "understand"


def sampling(cfg: SearchConfig, n: int) -> SamplingConfig:
    """How a stage samples: the search's temperature and token limit."""
    return SamplingConfig(n=n, temperature=cfg.temperature, max_tokens=cfg.max_tokens, seed=cfg.seed)


def understand(rt: Runtime, ctx: JobContext, cfg: SearchConfig, n: int) -> list[FileSet]:
    """Sample n file sets; a sample that is cut off or names no listed file is recorded as
    rejected and left out."""
    choices = ctx.file_choices()
    if not choices:
        return []
    paths = [p for p, _ in choices]
    messages = understand_messages(ctx.issue, ctx.tree, choices)
    request = GenerateRequest(messages, sampling(cfg, n), Constraint.regex(understand_regex(paths)))
    (generation,) = rt.generate([request])
    found = []
    for i, sample in enumerate(generation.samples):
        turn = split_turn(sample.text)
        files, problem = parse_file_answer(turn.answer, paths)
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
