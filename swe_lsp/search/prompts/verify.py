"""Patch verification: the reproduction script the model writes (once per issue), the turn that
asks again when its run on the original tree did not reproduce the issue, and the refinement prompt.

The script prints `ISSUE REPRODUCED` and exits 1 while the issue is present, prints `ISSUE RESOLVED`
and exits 0 once it is fixed; it must reproduce on the original tree and not on the patched one.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Sequence

from swe_lsp.llm import Message
from swe_lsp.search.prompts.common import SYSTEM, issue_block
from swe_lsp.search.turns import answer_turn

REPRODUCED = "ISSUE REPRODUCED"
RESOLVED = "ISSUE RESOLVED"
_FENCED = re.compile(r"```[ \t]*(?:python|py)?[ \t]*\n(.*?)(?:```|$)", re.DOTALL | re.IGNORECASE)
MAX_LOG_CHARS = 3000


def repro_messages(issue: str, context: str) -> tuple[Message, ...]:
    """The prompt for a reproduction script: the issue and the code at the fault's locations."""
    user = (
        f"{issue_block(issue)}\n\nRelevant code:\n{context}\n\n"
        "Write a standalone Python script, run from the repository root, that checks whether the issue "
        f"is present. When it is, the script prints `{REPRODUCED}` and exits with status 1 "
        f"(`sys.exit(1)`); when it is fixed, it prints `{RESOLVED}` and exits with status 0. "
        f"If the issue is an exception, catch it and print `{REPRODUCED}`: an uncaught error counts as "
        "a broken script, not as a reproduction. Answer with the script in one ```python block."
    )
    return (Message("system", SYSTEM), Message("user", user))


# What the retry turn tells the model about the previous attempt, per outcome (see
# `swe_lsp.search.reproduction.classify` for the rule that picks the outcome).
_RETRY_WHY = {
    "not_reproduced": (
        f"it exited with status 0 without printing `{REPRODUCED}`, so it did not show the issue. "
        "Exercise the exact behaviour the issue describes."
    ),
    "crashed": (
        f"it crashed for another reason: it failed without printing `{REPRODUCED}` (an error of the "
        "script itself, such as a name or import that does not exist, or an uncaught exception), or "
        "what it printed contradicts its exit status. Use only names that exist in the repository, "
        f"catch the error the issue describes, then print `{REPRODUCED}` and exit with status 1."
    ),
    "timed_out": "it did not finish within the time limit. Keep it small and fast; do not wait on input.",
    "rejected": "the answer held no usable script, so nothing ran (the output below says why).",
}


def repro_retry_message(
    messages: Sequence[Message], answer: str, outcome: str, log: str
) -> tuple[Message, ...]:
    """The conversation after a reproduction attempt that did not reproduce the issue on the
    original repository: its answer, what went wrong (`outcome`) and its run's output tail."""
    log = log if len(log) <= MAX_LOG_CHARS else "[...]\n" + log[-MAX_LOG_CHARS:]
    why = _RETRY_WHY.get(outcome, f"it ended as {outcome}.")
    reply = (
        "Your reproduction script did not reproduce the issue on the original repository, where the "
        f"issue is present: {why}\n"
        f"Output:\n```\n{log.strip() or '(none)'}\n```\n"
        "Write the whole corrected script in one ```python block."
    )
    return (*messages, Message("assistant", answer_turn(answer)), Message("user", reply))


def parse_script(answer: str) -> tuple[str | None, str]:
    """The script in an answer (the first fenced block, else the whole answer) if it is valid
    Python that prints a verdict; otherwise None and why. Never raises."""
    match = _FENCED.search(answer)
    script = (match.group(1) if match else answer).strip()
    if not script:
        return None, "the answer holds no script"
    try:
        ast.parse(script)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as exc:
        return None, f"the script is not valid Python: {exc}"
    if REPRODUCED not in script and RESOLVED not in script and "sys.exit" not in script:
        return None, f"the script neither prints {REPRODUCED} / {RESOLVED} nor sets an exit status"
    return script + "\n", ""


def refine_message(messages: Sequence[Message], answer: str, log: str) -> tuple[Message, ...]:
    """The conversation after a patch that failed verification: its answer and the failure log."""
    log = log if len(log) <= MAX_LOG_CHARS else "[...]\n" + log[-MAX_LOG_CHARS:]
    reply = (
        f"The patch applied but failed verification:\n```\n{log}\n```\n"
        "Write the corrected edits for the whole fix, in the same form, against the original files."
    )
    return (*messages, Message("assistant", answer_turn(answer)), Message("user", reply))
