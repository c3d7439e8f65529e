"""Training examples in the server's own text: prompts rendered with the manifest's chat template,
exactly as a backend renders them, then tokenized once here (trl trains on what we give it).

- SFT (`sft_example`): the prompt of a step, its earlier assistant turns pruned to their answers
  (history pruning, as the paper and the server do), and a completion of the step's think and
  answer plus the end-of-turn token; the loss covers the completion only.
- PRM (`prm_example`): the PRM prompt the server builds (`swe_lsp.search.prompts.prm_messages`)
  and one label token, "Yes" or "No": the token `p_yes` reads after that prompt.
- ORM (`orm_pair`): DPO's `prompt` / `chosen` / `rejected`, the prompt being the ORM adapter's
  prompt (`orm_messages(issue)`, rendered with the generation prompt) and the completions the raw
  diffs, which is the continuation `logprob` scores.

Tokenized examples are dicts `{"input_ids": list[int], "completion_mask": list[int]}`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from swe_lsp.llm import ChatTemplate, Message
from swe_lsp.llm.backend import NO, YES
from swe_lsp.search.prompts import orm_messages, prm_messages
from swe_lsp.search.turns import answer_turn, split_turn


def prune_history(messages: Sequence[Message]) -> tuple[Message, ...]:
    """The messages with every assistant turn cut to its answer (its thinking dropped). Idempotent:
    the server's prompts are already pruned, teacher data from elsewhere may not be."""
    return tuple(
        Message("assistant", answer_turn(split_turn(m.content).answer)) if m.role == "assistant" else m
        for m in messages
    )


def completion_text(think: str, answer: str) -> str:
    """A step's target: its reasoning, then its answer, in the turn format the server parses."""
    head = f"<think>\n{think.strip()}\n</think>\n" if think.strip() else ""
    return f"{head}{answer_turn(answer.strip())}"


def tokenize_pair(tokenizer: Any, prompt: str, completion: str) -> dict[str, list[int]]:
    """Prompt and completion tokenized apart (the prompt exactly as a backend encodes it: no
    special tokens added), concatenated, with the mask of the completion's tokens."""
    prompt_ids = list(tokenizer.encode(prompt, add_special_tokens=False))
    completion_ids = list(tokenizer.encode(completion, add_special_tokens=False))
    return {
        "input_ids": prompt_ids + completion_ids,
        "completion_mask": [0] * len(prompt_ids) + [1] * len(completion_ids),
    }


def sft_example(
    template: ChatTemplate, tokenizer: Any, messages: Sequence[Message], think: str, answer: str
) -> dict[str, list[int]]:
    """One step as an SFT example: pruned prompt, then think + answer + end of turn."""
    prompt = template.render(prune_history(messages))
    return tokenize_pair(tokenizer, prompt, completion_text(think, answer) + tokenizer.eos_token)


def prm_example(
    template: ChatTemplate, tokenizer: Any, stage: str, issue: str, step: str, label: bool
) -> dict[str, list[int]]:
    """One PRM example: the server's PRM prompt and the label token (nothing after it)."""
    return tokenize_pair(tokenizer, template.render(prm_messages(stage, issue, step)), YES if label else NO)


def orm_pair(template: ChatTemplate, issue: str, chosen: str, rejected: str) -> dict[str, str]:
    """One DPO row in trl's standard (non-conversational) preference format."""
    return {"prompt": template.render(orm_messages(issue)), "chosen": chosen, "rejected": rejected}


def fits(example: dict[str, list[int]], max_length: int) -> bool:
    """Whether an example fits `max_length` tokens (longer ones are dropped, not cut: a cut prompt
    is not a prompt the server ever sends)."""
    return len(example["input_ids"]) <= max_length
