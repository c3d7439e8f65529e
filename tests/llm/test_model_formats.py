"""Each built-in manifest's prompt rendering and output parsing, on outputs in its model family's
format (tests/llm/fixtures/outputs/: hand-written in each family's format, not captured from the
models, whose weights are not on this machine)."""

from __future__ import annotations

from pathlib import Path

import pytest

from swe_lsp.llm import ChatTemplate, Message, get_manifest
from swe_lsp.search.prompts import parse_file_answer
from swe_lsp.search.prompts.verifier import JUDGE_SYSTEM, verifier_messages
from swe_lsp.search.turns import split_turn

OUTPUTS = Path(__file__).parent / "fixtures" / "outputs"
# Which recorded output each policy's family writes an understanding answer in.
POLICY_OUTPUT = {
    "qwen3-coder-30b-a3b-instruct": "qwen3-coder-understand.txt",
    "qwen3-coder-30b-a3b+swe-lego-verifier-8b": "qwen3-coder-understand.txt",
    "qwen3-coder-30b-a3b+deepswe-verifier": "qwen3-coder-understand.txt",
    # Qwen3.5/3.6's thinking turn: `<think>\n...\n</think>\n\n`, then the answer.
    "qwen3.6-27b": "qwen3.6-thinking-understand.txt",
    "qwen3.6-27b+swe-lego-verifier-8b": "qwen3.6-thinking-understand.txt",
}
# Qwen3.5/3.6's chat template opens an assistant turn with thinking off as `<think>\n\n</think>\n\n`
# (`enable_thinking` false); its judges answer after that, so the next token is the verdict.
QWEN35_THINKING_OFF = "<think>\n\n</think>\n\n"


def chatml(messages: list[tuple[str, str]]) -> str:
    """ChatML as SWE-Lego's verifier inference writes it by hand for Qwen models (its
    `_manual_format`): each turn `<|im_start|>role\\ncontent<|im_end|>`, joined by newlines, then the
    assistant's turn opened."""
    return "\n".join(f"<|im_start|>{r}\n{c}<|im_end|>" for r, c in messages) + "\n<|im_start|>assistant\n"


@pytest.mark.parametrize("name", sorted(POLICY_OUTPUT))
def test_policy_prompt_renders_as_qwen_chatml(name: str) -> None:
    manifest = get_manifest(name)
    messages = (Message("system", "You are a senior engineer."), Message("user", "Fix mean([])."))
    rendered = ChatTemplate(manifest.template_text()).render(messages)
    assert rendered == chatml([("system", "You are a senior engineer."), ("user", "Fix mean([]).")])


@pytest.mark.parametrize("name", sorted(POLICY_OUTPUT))
def test_policy_output_parses(name: str) -> None:
    turn = split_turn((OUTPUTS / POLICY_OUTPUT[name]).read_text())
    assert "ZeroDivisionError" in turn.think
    files, problems = parse_file_answer(turn.answer, {"statsmini/core.py", "statsmini/spread.py"}, 5)
    assert files == ("statsmini/core.py",) and not problems


def test_qwen36_judges_answer_after_the_thinking_off_opening() -> None:
    manifest = get_manifest("qwen3.6-27b")
    system, user = Message("system", JUDGE_SYSTEM), Message("user", "Is this step right?")
    for role in ("prm", "orm"):
        spec = manifest.role(role)
        assert (spec.kind, spec.prefix, spec.labels) == ("judge", QWEN35_THINKING_OFF, ("Yes", "No"))
        rendered = ChatTemplate(manifest.template_text()).render((system, user)) + spec.prefix
        assert rendered == chatml([("system", JUDGE_SYSTEM), ("user", "Is this step right?")]) + (
            "<think>\n\n</think>\n\n"
        )


def test_qwen36_thinking_turn_keeps_its_reasoning_apart() -> None:
    turn = split_turn((OUTPUTS / "qwen3.6-thinking-understand.txt").read_text())
    assert turn.think.startswith("The user reports that `mean([])` raises ZeroDivisionError.")
    assert "</think>" not in turn.answer and turn.answer == '["statsmini/core.py"]'


def test_qwen3_thinking_output_parses() -> None:
    # Qwen3's own reasoning form (the verifiers' base family): `<think>` ... `</think>`, blank line.
    turn = split_turn((OUTPUTS / "qwen3-thinking-understand.txt").read_text())
    assert turn.think.startswith("Okay, let me look at the traceback.")
    assert turn.answer == '["statsmini/core.py"]'


@pytest.mark.parametrize(
    ("name", "form"),
    [
        ("qwen3-coder-30b-a3b+swe-lego-verifier-8b", "swe-lego"),
        ("qwen3-coder-30b-a3b+deepswe-verifier", "r2egym"),
        ("qwen3.6-27b+swe-lego-verifier-8b", "swe-lego"),
    ],
)
def test_verifier_prompt_and_answer_agree_with_the_manifest(name: str, form: str) -> None:
    manifest = get_manifest(name)
    group = manifest.engine_groups()[1]
    spec = group.manifest.role("orm")
    assert spec.prompt == form
    system, user = verifier_messages(
        form, "mean([]) raises ZeroDivisionError", "--- a/core.py\n+++ b/core.py\n"
    )
    assert (
        system.content == JUDGE_SYSTEM and 'Respond only with "<judgement>YES</judgement>"' in system.content
    )
    assert user.content.startswith(
        "Please evaluate the following interaction between an AI assistant and a user:"
    )
    assert user.content.endswith(
        "did the assistant successfully resolve the user's initial request? Respond with YES or NO."
    )
    rendered = ChatTemplate(group.manifest.template_text()).render((system, user)) + spec.prefix
    assert rendered == chatml([("system", system.content), ("user", user.content)]) + "<judgement>"
    # What the verifier writes after the prefix starts with one of the labels the score compares.
    recorded = (OUTPUTS / "verifier-judgement.txt").read_text().strip()
    assert recorded.startswith(spec.prefix)
    assert recorded[len(spec.prefix) :].split("<")[0] in spec.labels


def test_r2egym_log_opens_with_its_task_prompt() -> None:
    _, user = verifier_messages("r2egym", "the issue", "the diff")
    assert "[SYSTEM]\nYou are an expert judge" in user.content
    assert "[USER]\nYou are a software engineer working on a repository." in user.content
    assert "Repository Issue:\nthe issue\n" in user.content
    with pytest.raises(ValueError, match="unknown verifier prompt"):
        verifier_messages("other", "i", "d")
