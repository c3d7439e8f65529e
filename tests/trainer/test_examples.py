"""Training examples: history pruning checked token by token, and the PRM's label token."""

from __future__ import annotations

from pathlib import Path

from swe_lsp.llm import ChatTemplate, Message
from swe_lsp.llm.manifest import BUILTIN_DIR
from swe_lsp.search.prompts import prm_messages
from swe_lsp.search.turns import split_turn
from trainer.examples import orm_pair, prm_example, prune_history, sft_example

TEMPLATE = ChatTemplate((BUILTIN_DIR / "templates" / "chatml.jinja").read_text())


def _tokenizer(tiny_model: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(str(tiny_model))


def test_history_pruning_token_by_token(tiny_model: Path) -> None:
    tok = _tokenizer(tiny_model)
    earlier = '<think>SECRET reasoning of round one</think>\n<answer>\nsearch_class("Box")\n</answer>'
    messages = (
        Message("system", "sys"),
        Message("user", "Find the fault."),
        Message("assistant", earlier),
        Message("user", 'Result of search_class("Box"):\nclass Box: ...\n\n1 turn(s) left.'),
    )
    example = sft_example(TEMPLATE, tok, messages, "now I know", "LOCATIONS\npkg/core.py::Box")
    ids, mask = example["input_ids"], example["completion_mask"]

    pruned = (*messages[:2], Message("assistant", '<answer>\nsearch_class("Box")\n</answer>'), messages[3])
    expected_prompt = tok.encode(TEMPLATE.render(pruned), add_special_tokens=False)
    n = len(expected_prompt)
    assert ids[:n] == expected_prompt  # the prompt, token for token, as the server encodes it
    assert mask == [0] * n + [1] * (len(ids) - n)  # loss on the completion only
    completion = tok.decode(ids[n:])
    assert completion == (
        "<think>\nnow I know\n</think>\n<answer>\nLOCATIONS\npkg/core.py::Box\n</answer>" + tok.eos_token
    )
    assert ids[-1] == tok.eos_token_id
    assert "SECRET" not in tok.decode(ids)  # the earlier step's thinking is gone
    assert 'search_class("Box")' in tok.decode(ids[:n])  # its answer stays
    turn = split_turn(completion.removesuffix(tok.eos_token))
    assert (turn.think, turn.answer) == ("now I know", "LOCATIONS\npkg/core.py::Box")


def test_pruning_is_idempotent_on_the_servers_own_prompts() -> None:
    messages = (Message("user", "q"), Message("assistant", "<answer>\nx\n</answer>"), Message("user", "r"))
    assert prune_history(messages) == messages
    assert prune_history(prune_history((Message("assistant", "<think>t</think>y"),))) == (
        Message("assistant", "<answer>\ny\n</answer>"),
    )


def test_prm_example_is_the_servers_prompt_then_one_label_token(tiny_model: Path) -> None:
    tok = _tokenizer(tiny_model)
    yes = prm_example(TEMPLATE, tok, "understand", "the issue", "pkg/core.py", True)
    no = prm_example(TEMPLATE, tok, "understand", "the issue", "pkg/core.py", False)
    prompt = tok.encode(TEMPLATE.render(prm_messages("understand", "the issue", "pkg/core.py")))
    assert yes["input_ids"][:-1] == no["input_ids"][:-1] == prompt
    assert tok.decode(yes["input_ids"][-1:]) == "Yes" and tok.decode(no["input_ids"][-1:]) == "No"
    assert yes["completion_mask"] == [0] * len(prompt) + [1]


def test_orm_pair_prompt_is_the_issue_only() -> None:
    row = orm_pair(TEMPLATE, "the issue", "+good\n", "+bad\n")
    assert row["prompt"].endswith("<|im_start|>assistant\n") and "the issue" in row["prompt"]
    assert "+good" not in row["prompt"] and row["chosen"] == "+good\n"
