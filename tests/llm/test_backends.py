"""One conformance suite, run against every backend serving the real embedded model.

The model is weak, so these tests check the contract, not the quality: n samples, stop strings,
constraints honoured, scores in range and sensitive to their input, token counts reported, and a
LoRA adapter routed by name changing the distribution.
"""

from __future__ import annotations

import json
import math
import threading

import pytest

from swe_lsp.llm import (
    Backend,
    Constraint,
    GenerateRequest,
    GenerationInterrupted,
    Message,
    SamplingConfig,
    ScoreRequest,
)

pytestmark = pytest.mark.slow

SYSTEM = Message("system", "You are a careful senior software engineer.")
FILES = ("src/parser.py", "src/lexer.py", "tests/test_parser.py", "README.md")


def ask(text: str) -> tuple[Message, ...]:
    return (SYSTEM, Message("user", text))


def test_n_samples_and_token_counts(backend: Backend) -> None:
    (gen,) = backend.generate(
        [
            GenerateRequest(
                ask("Name three Python web frameworks."), SamplingConfig(n=3, temperature=0.9, max_tokens=24)
            )
        ]
    )
    assert len(gen.samples) == 3
    assert all(isinstance(s.text, str) for s in gen.samples)
    assert gen.usage.prompt_tokens > 10
    assert 0 < gen.usage.completion_tokens <= 3 * 24
    assert gen.usage.calls == 1


def test_greedy_n_gives_copies(backend: Backend) -> None:
    (gen,) = backend.generate([GenerateRequest(ask("Say hi."), SamplingConfig(n=2, max_tokens=8))])
    assert len(gen.samples) == 2 and gen.samples[0].text == gen.samples[1].text


def test_batch_keeps_order(backend: Backend) -> None:
    """Each answer of a batch is its own prompt's. Not that it is the same text to the last token as
    that prompt alone: vLLM's CPU kernels are not batch-invariant (on some CPUs a batched greedy run
    parts from the single one after a few tokens), so each batched answer must share a longer start
    with its own prompt's single answer than with the other prompt's."""
    prompts = [ask("Reply with the word apple."), ask("Write a Python function that adds two numbers.")]
    gens = backend.generate([GenerateRequest(p, SamplingConfig(max_tokens=16)) for p in prompts])
    singles = [backend.generate([GenerateRequest(p, SamplingConfig(max_tokens=16))])[0] for p in prompts]
    texts, alone = [g.texts[0] for g in gens], [g.texts[0] for g in singles]
    assert alone[0] != alone[1]
    for mine, other in ((0, 1), (1, 0)):
        assert _shared_start(texts[mine], alone[mine]) > _shared_start(texts[mine], alone[other]), (
            texts,
            alone,
        )


def _shared_start(a: str, b: str) -> int:
    """How many leading characters `a` and `b` have in common."""
    return next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))


def test_stop_strings_are_honoured(backend: Backend) -> None:
    request = GenerateRequest(
        ask("Count from 1 to 20, separated by commas."), SamplingConfig(max_tokens=64, stop=(",", "\n"))
    )
    (gen,) = backend.generate([request])
    (free,) = backend.generate([GenerateRequest(request.prompt, SamplingConfig(max_tokens=64))])
    text = gen.samples[0].text
    assert "," not in text and "\n" not in text
    assert free.samples[0].text.startswith(text)
    assert gen.usage.completion_tokens < free.usage.completion_tokens


def test_choice_constraint_yields_only_listed_paths(backend: Backend) -> None:
    request = GenerateRequest(
        ask(f"Which file most likely defines the parser? Options: {', '.join(FILES)}"),
        SamplingConfig(n=4, temperature=1.0, max_tokens=16, seed=1),
        Constraint.choice(FILES),
    )
    (gen,) = backend.generate([request])
    assert len(gen.samples) == 4
    for sample in gen.samples:
        assert sample.text in FILES and sample.valid


def test_regex_constraint(backend: Backend) -> None:
    request = GenerateRequest(
        ask("Give a line range in the form START-END."),
        SamplingConfig(n=2, temperature=1.0, max_tokens=12, seed=2),
        Constraint.regex(r"[1-9][0-9]{0,2}-[1-9][0-9]{0,2}"),
    )
    (gen,) = backend.generate([request])
    for sample in gen.samples:
        assert sample.valid, sample.text
        a, b = sample.text.split("-")
        assert a.isdigit() and b.isdigit()


def test_patch_constraint_makes_the_engine_quote_the_code_exactly(backend: Backend) -> None:
    """The search's own patch grammar (long alternations of escaped code lines, a trie for what a
    line may not start with, a think block that may hold `<`) compiles in the engine and binds."""
    from swe_lsp.search.model import Location
    from swe_lsp.search.prompts import code_context, patch_messages, patch_regex

    code = ["def add(a, b):", '    """Add two numbers (a < b or not)."""', "    return a - b"]
    locations = [Location("calc.py", 1, 3, "add")]
    from swe_lsp.llm import get_manifest
    from swe_lsp.search.prompts.patch import PatchForm

    regex = patch_regex(
        locations, lambda path: code, PatchForm.from_limits(get_manifest("smollm2-135m").limits)
    )
    assert regex is not None
    messages = patch_messages("add(2, 3) returns -1", locations, code_context(locations, lambda path: code))
    # Greedy: the embedded model then answers at once rather than think (a think block is allowed).
    greedy = SamplingConfig(n=1, temperature=0.0, max_tokens=96)
    (gen,) = backend.generate([GenerateRequest(messages, greedy, Constraint.regex(regex))])
    text = gen.samples[0].text
    assert text.startswith("<answer>\n### calc.py\n<<<<<<< SEARCH\n"), text
    search = text.split("<<<<<<< SEARCH\n")[1].split("=======\n")[0].splitlines()
    start = code.index(search[0])  # the quoted lines are consecutive lines of the file, exactly
    assert code[start : start + len(search)] == search, text
    assert gen.samples[0].valid or gen.samples[0].finish_reason == "length", text


def test_json_schema_constraint_yields_parseable_json(backend: Backend) -> None:
    schema = {
        "type": "object",
        "properties": {"file": {"type": "string", "enum": list(FILES)}, "line": {"type": "integer"}},
        "required": ["file", "line"],
        "additionalProperties": False,
    }
    request = GenerateRequest(
        ask("Where is the bug? Answer as JSON with keys file and line."),
        SamplingConfig(n=2, temperature=0.8, max_tokens=64, seed=3),
        Constraint.json_schema(schema),
    )
    (gen,) = backend.generate([request])
    for sample in gen.samples:
        assert sample.valid, sample.text
        value = json.loads(sample.text)
        assert value["file"] in FILES and isinstance(value["line"], int)


def test_p_yes_is_a_probability_that_depends_on_the_prompt(backend: Backend) -> None:
    prompts = [
        ask("Is Python a programming language? Answer Yes or No."),
        ask(
            "Does this patch fix the issue? Issue: crash on empty list. Patch: deletes all tests. Yes or No?"
        ),
    ]
    scores = backend.p_yes([ScoreRequest(p) for p in prompts])
    values = [s.value for s in scores]
    assert all(0.0 <= v <= 1.0 for v in values)
    assert abs(values[0] - values[1]) > 1e-4
    assert all(s.usage.prompt_tokens > 0 for s in scores)


def test_logprob_prefers_a_likely_continuation(backend: Backend) -> None:
    prompt = ask("Say hello to the user.")
    likely, garbage = backend.logprob(
        [
            ScoreRequest(prompt, "Hello! How can I help you today?"),
            ScoreRequest(prompt, "zq}} vorp 8812 ]]> klax"),
        ]
    )
    assert math.isfinite(likely.value) and likely.value < 0
    assert likely.value > garbage.value + 10
    assert likely.usage.prompt_tokens > 0


def test_logprob_matches_generation(backend: Backend) -> None:
    """Consistency between the calls: a greedy completion is likely under `logprob`."""
    prompt = ask("Reply with one word: the colour of the sky.")
    (gen,) = backend.generate([GenerateRequest(prompt, SamplingConfig(max_tokens=6))])
    text = gen.samples[0].text
    (mine,) = backend.logprob([ScoreRequest(prompt, text)])
    (other,) = backend.logprob([ScoreRequest(prompt, "Purple elephants dance.")])
    assert mine.value > other.value


def test_adapter_changes_the_distribution(backend: Backend) -> None:
    assert backend.adapters == ("policy",)
    prompt = ask("Explain what a unit test is.")
    base, tuned = backend.logprob(
        [
            ScoreRequest(prompt, "A unit test checks one small piece of code."),
            ScoreRequest(prompt, "A unit test checks one small piece of code.", adapter="policy"),
        ]
    )
    assert abs(base.value - tuned.value) > 0.05
    p_base, p_tuned = backend.p_yes([ScoreRequest(prompt), ScoreRequest(prompt, adapter="policy")])
    assert p_base.value != pytest.approx(p_tuned.value, abs=1e-6)
    (gen,) = backend.generate([GenerateRequest(prompt, SamplingConfig(max_tokens=8), adapter="policy")])
    assert len(gen.samples) == 1


def test_unknown_adapter_is_a_clear_error(backend: Backend) -> None:
    with pytest.raises(ValueError, match=r"unknown adapter 'nope'.*policy"):
        backend.generate([GenerateRequest(ask("hi"), SamplingConfig(max_tokens=4), adapter="nope")])


def test_an_interrupt_stops_a_long_generation_and_the_model_stays(backend: Backend) -> None:
    # Greedy counting goes on to the token limit (1,800 tokens: far longer than the second before
    # the interrupt), so only the interrupt can end this call early.
    counting = GenerateRequest(
        ", ".join(str(i) for i in range(1, 21)) + ",", SamplingConfig(max_tokens=1800, temperature=0.0)
    )
    event = threading.Event()
    timer = threading.Timer(1.0, event.set)
    timer.start()
    try:
        with backend.interruptible(event), pytest.raises(GenerationInterrupted):
            backend.generate([counting, counting])
    finally:
        timer.cancel()
    # The engine is still usable, and an interrupt no longer armed stops nothing.
    (after,) = backend.generate([GenerateRequest(ask("Say hello."), SamplingConfig(max_tokens=4))])
    assert after.usage.completion_tokens > 0


def test_a_generation_armed_for_interrupts_gives_what_a_plain_one_gives(backend: Backend) -> None:
    # Armed, the openai backend streams (so that a cancel can close the request); the samples, their
    # finish reasons and the token counts must not change with it.
    request = GenerateRequest(ask("Name three sorting algorithms."), SamplingConfig(n=2, max_tokens=24))
    (plain,) = backend.generate([request])
    with backend.interruptible(threading.Event()):
        (armed,) = backend.generate([request])
    assert [(x.text, x.finish_reason) for x in armed.samples] == [
        (x.text, x.finish_reason) for x in plain.samples
    ]
    assert (armed.usage.prompt_tokens, armed.usage.completion_tokens) == (
        plain.usage.prompt_tokens,
        plain.usage.completion_tokens,
    )
    assert armed.usage.uncounted_calls == 0
