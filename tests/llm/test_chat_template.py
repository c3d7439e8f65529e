"""The manifest's chat template renders exactly what the model's own tokenizer template renders, so
prompts mean the same to every backend and to the trainer."""

from __future__ import annotations

from pathlib import Path

import pytest

from swe_lsp.llm import ChatTemplate, Message, get_manifest, prepare


@pytest.fixture(scope="module")
def tokenizer(model_cache: Path):
    from transformers import AutoTokenizer

    prepared = prepare(get_manifest("smollm2-135m"), model_cache)
    return AutoTokenizer.from_pretrained(str(prepared.path))


@pytest.mark.parametrize("generation_prompt", [True, False])
def test_chatml_matches_the_tokenizer_template(tokenizer, generation_prompt: bool) -> None:
    messages = (
        Message("system", "You are a careful engineer."),
        Message("user", "Fix `mean([])`.\nIt raises ZeroDivisionError."),
        Message("assistant", "<think>empty input</think><answer>raise ValueError</answer>"),
        Message("user", "Now write the test."),
    )
    ours = ChatTemplate(get_manifest("smollm2-135m").template_text()).render(
        messages, add_generation_prompt=generation_prompt
    )
    theirs = tokenizer.apply_chat_template(
        [{"role": m.role, "content": m.content} for m in messages],
        tokenize=False,
        add_generation_prompt=generation_prompt,
    )
    assert ours == theirs


def test_text_prompts_pass_through_unchanged() -> None:
    template = ChatTemplate(get_manifest("smollm2-135m").template_text())
    assert template.render("raw <|im_start|> text") == "raw <|im_start|> text"


def test_templates_cannot_reach_python() -> None:
    import jinja2.exceptions

    template = ChatTemplate("{{ messages.__class__.__mro__[1].__subclasses__() }}")
    with pytest.raises(jinja2.exceptions.SecurityError):
        template.render((Message("user", "x"),))
