"""The prompts of public trained verifiers, so that one can serve as the ORM in the format it was
trained on (a manifest's `[roles.orm] prompt = "r2egym"` or `"swe-lego"`).

Both verifiers were trained on an agent's whole trajectory: a system prompt telling the model it is
a judge, then one user message holding the interaction log (the task, the agent's steps and their
observations) and the final patch, then the answer `<judgement>YES</judgement>` or
`<judgement>NO</judgement>`; the score is P(YES) / (P(YES) + P(NO)) of the token after
`<judgement>` (the manifest's `labels` and `prefix`). Formats, as read in the trainers' own code:
- `r2egym`: R2E-Gym's verifier data (`verifier_data_prep_condense.py`, `traj2verifier_data`), which
  DeepSWE-Verifier (a LoRA on Qwen3-14B) was trained on: the log opens with the judge's own system
  prompt in `[SYSTEM]` and the task as R2E-Gym's instance prompt in `[USER]`; steps are numbered.
- `swe-lego`: SWE-Lego's `tts/convert_trajectories_to_verifier.py` (SWE-Lego-Verifier-8B and -30B):
  the log holds the agent's own messages as `[SYSTEM]`/`[USER]`/`[ASSISTANT]` blocks.

The ORM judges the issue and the patch only (the design's rule: the same evidence for every
candidate, whatever path produced it), so the log here holds the task and no steps: a shorter input
than the verifiers saw in training, whose effect on their accuracy is not measured here.
"""

from __future__ import annotations

from swe_lsp.llm import Message
from swe_lsp.search.prompts.common import MAX_ISSUE_CHARS

FORMATS = ("r2egym", "swe-lego")

JUDGE_SYSTEM = (
    "You are an expert judge evaluating AI assistant interactions. Your task is to determine if the "
    "assistant successfully resolved the user's request.\n\n"
    "Key evaluation criteria:\n"
    "1. Did the assistant complete the main task requested by the user?\n"
    "2. Did the assistant handle all edge cases and requirements specified?\n"
    "3. Were there any errors or issues in the final solution?\n"
    "4. Did the assistant verify the solution works as intended?\n\n"
    'Respond only with "<judgement>YES</judgement>" or "<judgement>NO</judgement>".'
)
# R2E-Gym's task prompt around the problem statement (its `instance_prompt` default).
R2EGYM_TASK = (
    "You are a software engineer working on a repository. A user has submitted an issue, and you need "
    "to resolve it.\n\nRepository Issue:\n{issue}\n\nPlease analyze the issue and implement a solution."
)
QUESTION = (
    "Based on the above interaction, did the assistant successfully resolve the user's initial request? "
    "Respond with YES or NO."
)


def verifier_messages(form: str, issue: str, diff: str) -> tuple[Message, ...]:
    """The system and user messages verifier `form` scores a patch for `issue` with."""
    text = issue.strip()
    if len(text) > MAX_ISSUE_CHARS:
        text = text[:MAX_ISSUE_CHARS] + "\n[... issue cut ...]"
    patch = diff if diff.strip() else "No patch generated"
    if form == "r2egym":
        log = (
            "Please evaluate the following interaction between an AI assistant and a user:\n\n"
            "=== INTERACTION LOG ===\n\n"
            f"[SYSTEM]\n{JUDGE_SYSTEM}\n[/SYSTEM]\n\n"
            f"[USER]\n{R2EGYM_TASK.format(issue=text)}\n[/USER]"
            "\n\n=== END INTERACTION ==="
            "\n\n=== FINAL PATCH ==="
            f"\n\n[PATCH]\n{patch}\n[/PATCH]"
            "\n\n=== END FINAL PATCH ==="
            f"\n\n{QUESTION}"
        )
    elif form == "swe-lego":
        log = "\n".join(
            [
                "Please evaluate the following interaction between an AI assistant and a user:",
                "",
                "=== INTERACTION LOG ===",
                "",
                "[USER]",
                text,
                "[/USER]",
                "",
                "=== END INTERACTION ===",
                "",
                "=== FINAL PATCH ===",
                "",
                "[PATCH]",
                patch,
                "[/PATCH]",
                "",
                "=== END FINAL PATCH ===",
                "",
                QUESTION,
            ]
        )
    else:
        raise ValueError(f"unknown verifier prompt {form!r}; known: {', '.join(FORMATS)}")
    return (Message("system", JUDGE_SYSTEM), Message("user", log))
