"""The shape of a model turn: `<think>...</think><answer>...</answer>`, as the paper's models write.

Only the answer of an earlier step is carried into later prompts (history pruning): the thinking of
step 1 is long, is already distilled into its answer, and would crowd out the context of step 5.
A model that writes no think block (an untrained base model) still works: its whole text, or the
text after a stray `</think>`, is the answer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from swe_lsp.llm import regex_not_starting

_THINK = re.compile(r"<think>(.*?)(?:</think>|$)", re.DOTALL)
_ANSWER = re.compile(r"<answer>(.*?)(?:</answer>|$)", re.DOTALL)
# The optional think block in a constrained answer: any text without `</think>` in it (regex engines
# for constrained decoding have no lazy matching to stop at the first `</think>`). Every `<` starts a
# segment that may not begin `</think>`, so reasoning can still quote code with `<` in it.
THINK_BODY = "[^<]*(<" + regex_not_starting(["/think>"], stop="<") + ")*"
THINK_PREFIX = r"(<think>" + THINK_BODY + r"</think>\s*)?"


@dataclass(frozen=True)
class Turn:
    """One model output split into its reasoning and its answer (both stripped)."""

    think: str
    answer: str


def split_turn(text: str) -> Turn:
    """`text` as think and answer; never raises.

    The answer is the first `<answer>` block (closed or cut off); without one, whatever follows the
    think block; without that either, the whole text.
    """
    think_match = _THINK.search(text)
    think = think_match.group(1).strip() if think_match else ""
    answer_match = _ANSWER.search(text)
    if answer_match is not None:
        return Turn(think, answer_match.group(1).strip())
    if "</think>" in text:
        return Turn(think, text.rsplit("</think>", 1)[1].strip())
    if think_match is not None:
        return Turn(think, "")  # thinking cut off before any answer
    return Turn("", text.strip())


def answer_turn(answer: str) -> str:
    """An earlier step's answer as it is replayed in a later prompt (its thinking pruned)."""
    return f"<answer>\n{answer}\n</answer>"


def constrained(answer_regex: str) -> str:
    """The regex for a whole turn whose answer must match `answer_regex`."""
    return THINK_PREFIX + r"<answer>\n?" + answer_regex + r"\n?</answer>"
