"""DPO on exactly the token sequences the server's ORM scores.

The ORM's reward at serving time is beta * (log pi_orm(diff | prompt) - log pi_base(diff | prompt)),
each term a backend's `logprob`: the rendered ORM prompt and the diff tokenized apart (no special
tokens added) and concatenated, the diff's tokens summed, nothing after them (`swe_lsp.llm.backend`,
`TransformersBackend.logprob`, `VLLMBackend.logprob`; `BackendORM` in `swe_lsp.search.roles`).
DPO trains that same log-ratio, so it must see the same sequences. trl 1.16's `DPOTrainer` does not:
for a non-conversational dataset it appends the EOS token to every chosen and rejected completion,
and it tokenizes prompt and completion together, cutting where they diverge. A trained ORM would
then have learnt a reward that includes log P(EOS | diff), which the server never computes.

trl has no option for either (its `_prepare_dataset` is the one place a row becomes ids; there is no
`skip_prepare_dataset` for DPO), so `ServedDPOTrainer` overrides that method, and only that one:
each row's `prompt`, `chosen` and `rejected` become `prompt_ids`, `chosen_ids` and `rejected_ids`
as the server tokenizes them, which trl's collator then concatenates unchanged. The rest of trl's
DPO (loss, reference model, LoRA, precomputed reference log-probs) is untouched.
"""

from __future__ import annotations

from typing import Any

from trl import DPOTrainer


def served_ids(tokenizer: Any, text: str) -> list[int]:
    """`text` tokenized as every backend does: rendered prompts carry their own special tokens, so
    none are added; the empty string is no tokens."""
    return list(tokenizer.encode(text, add_special_tokens=False)) if text else []


def preference_ids(row: dict[str, str], tokenizer: Any) -> dict[str, list[int]]:
    """One DPO row as the ids the server scores: the prompt, and each completion on its own."""
    return {
        "prompt_ids": served_ids(tokenizer, row["prompt"]),
        "chosen_ids": served_ids(tokenizer, row["chosen"]),
        "rejected_ids": served_ids(tokenizer, row["rejected"]),
    }


class ServedDPOTrainer(DPOTrainer):
    """trl's `DPOTrainer` with the server's tokenization (see the module docstring)."""

    def _prepare_dataset(self, dataset: Any, processing_class: Any, args: Any, dataset_name: str) -> Any:
        tokenizer = getattr(processing_class, "tokenizer", processing_class)
        dataset = dataset.map(
            preference_ids, fn_kwargs={"tokenizer": tokenizer}, desc=f"Tokenizing {dataset_name}"
        )
        if args.max_length is not None and args.truncation_mode == "keep_start":
            # As trl does: a prompt that fills max_length leaves no completion token to learn from.
            dataset = dataset.filter(lambda row: len(row["prompt_ids"]) < args.max_length)
        return dataset
