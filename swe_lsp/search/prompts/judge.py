"""The reward models' prompts: the PRM judges one stage's answer, the ORM one final patch.

With a trained adapter the same prompt is sent with `adapter="prm"` (scored as P(Yes)); the ORM
adapter scores the diff as a continuation of `orm_messages` (the implicit DPO reward). Without
adapters the base model is asked the question as a Yes/No judge.
"""

from __future__ import annotations

from swe_lsp.llm import Message
from swe_lsp.search.prompts.common import issue_block

_QUESTIONS = {
    "understand": "Are these the files that must be read to resolve the issue?",
    "localize": "Are these the locations in the code where the issue must be fixed?",
    "patch": "Does this patch fix the issue correctly without breaking anything else?",
}
JUDGE_SYSTEM = "You are a strict reviewer. Answer with Yes or No only."


def prm_messages(stage: str, issue: str, step: str) -> tuple[Message, ...]:
    """The process reward prompt for one candidate of `stage` (its answer, rendered as `step`)."""
    question = _QUESTIONS.get(stage, "Is this step correct for resolving the issue?")
    user = f"{issue_block(issue)}\n\nProposed {stage} step:\n{step}\n\n{question} Answer Yes or No."
    return (Message("system", JUDGE_SYSTEM), Message("user", user))


def orm_messages(issue: str, diff: str | None = None) -> tuple[Message, ...]:
    """The outcome reward prompt: the issue and, for the judge, the patch (issue and patch only).
    For the adapter the diff is left out here: it is the continuation being scored."""
    if diff is None:
        user = f"{issue_block(issue)}\n\nWrite a patch (unified diff) that resolves the issue."
        return (Message("user", user),)
    user = (
        f"{issue_block(issue)}\n\nPatch:\n```diff\n{diff}\n```\n\n"
        "Does this patch resolve the issue? Answer Yes or No."
    )
    return (Message("system", JUDGE_SYSTEM), Message("user", user))
