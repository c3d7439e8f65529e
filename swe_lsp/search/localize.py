"""Stage 2, fault localization: from each kept file set, candidates found with multi-round tool use.

All live conversations of a round go to the model in one batch. A conversation ends when it gives
locations that all resolve against the index (a symbol that exists, a span inside the file); a
location that does not resolve is sent back with the reason, and a conversation still without
locations after the last round is rejected.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from swe_lsp.llm import Constraint, GenerateRequest, Message, Usage
from swe_lsp.search.context import SKELETON_LINES, JobContext, SearchConfig
from swe_lsp.search.model import FileSet, Location, LocationSet
from swe_lsp.search.prompts import (
    LocalizeAnswer,
    localize_messages,
    localize_regex,
    parse_localize_answer,
    synifer,
    tool_results_message,
)
from swe_lsp.search.prompts.localize import MAX_CALLS, RawLocation, followup, parse_location
from swe_lsp.search.records import StepRecord, usage_share
from swe_lsp.search.runtime import Runtime
from swe_lsp.search.turns import split_turn
from swe_lsp.workspace import FileIndex

log = logging.getLogger(__name__)

STAGE = "localize"
# Files whose symbol names the location grammar lists: the chosen files first, then retrieval's top
# hits. A grammar over every symbol of a large repository (django: about 40k) is megabytes and slow
# to compile per request; any other allowed file may still be named whole or by a line span.
SYMBOL_FILES = 30


@dataclass(frozen=True)
class _Conversation:
    cid: str
    parent: FileSet
    messages: tuple[Message, ...]
    symbols: Mapping[str, tuple[str, ...]]
    gathered: tuple[str, ...] = ()  # the tool results so far, for the patch prompt


def localize(
    rt: Runtime, ctx: JobContext, cfg: SearchConfig, parents: Sequence[FileSet], counts: Sequence[int]
) -> list[LocationSet]:
    """`counts[i]` localization candidates from `parents[i]`; the ones that resolved, in order."""
    specs = ctx.tools.specs()
    rounds = cfg.max_localization_rounds
    live: list[tuple[_Conversation, int]] = []  # (conversation, samples wanted) for the first round
    for parent, count in zip(parents, counts, strict=True):
        paths = tuple(dict.fromkeys([*parent.files, *(p for p, _ in ctx.file_choices())]))
        paths = paths[: cfg.limits.location_files]
        symbols = {p: ctx.symbol_names(p) if i < SYMBOL_FILES else () for i, p in enumerate(paths)}
        synifer_profile = cfg.profile == synifer.PROFILE
        most = (
            min(cfg.limits.max_locations, synifer.MAX_LOCATIONS)
            if synifer_profile
            else cfg.limits.max_locations
        )
        final_form = synifer.localize_final_example if synifer_profile else None
        messages = first_prompt(ctx, cfg, parent.files, most, final_form)
        live.append((_Conversation(parent.id, parent, messages, symbols), count))
    done: list[LocationSet] = []
    active: list[_Conversation] = []
    for rnd in range(rounds):
        final = rnd == rounds - 1
        batch = live if rnd == 0 else [(conv, 1) for conv in active]
        if not batch:
            break
        requests = [
            GenerateRequest(
                conv.messages,
                cfg.sampling(count, STAGE),
                None
                if cfg.profile == synifer.PROFILE
                else Constraint.regex(localize_regex(specs, conv.symbols, final, cfg.limits.max_locations)),
            )
            for conv, count in batch
        ]
        generations = rt.generate(requests)
        active = []
        for (conv, _), generation in zip(batch, generations, strict=True):
            for j, sample in enumerate(generation.samples):
                cid = f"{conv.cid}.l{j}" if rnd == 0 else conv.cid
                usage = usage_share(generation.usage, len(generation.samples))
                conv_j = _Conversation(cid, conv.parent, conv.messages, conv.symbols, conv.gathered)
                result = _step(rt, ctx, cfg, conv_j, sample.text, rnd, rounds, usage)
                if isinstance(result, LocationSet):
                    done.append(result)
                elif result is not None:
                    active.append(result)
        rt.report(f"localization round {rnd + 1}/{rounds}: {len(done)} located", (rnd + 1) / rounds)
    return done


# The fewest skeleton lines per file the first prompt shrinks to before it drops ranked symbols.
MIN_SKELETON_LINES = 10


def first_prompt(
    ctx: JobContext,
    cfg: SearchConfig,
    files: Sequence[str],
    most: int,
    final_form: Callable[[str], str] | None = None,
) -> tuple[Message, ...]:
    """A conversation's first prompt on `files`, sized so that it, the later rounds' tool results (at
    least MIN_RESULT_CHARS each) and a turn's output fit the model's context: the skeletons are
    shown with fewer lines per file (halving, down to MIN_SKELETON_LINES), then the ranked list is
    cut from its end (halving), since the list names in one line what a skeleton needs many for.
    What still does not fit is logged: the engine may refuse it."""
    rounds = cfg.max_localization_rounds
    room = cfg.prompt_chars(STAGE) - (rounds - 1) * (MAX_CALLS * MIN_RESULT_CHARS + ANSWER_CHARS)
    shown, ranked = SKELETON_LINES, ranked_listing(ctx, files)

    def build() -> tuple[Message, ...]:
        return localize_messages(
            ctx.issue, files, ctx.skeletons(files, shown), ctx.tools.specs(), rounds, most, final_form, ranked
        )

    messages = build()
    while sum(len(m.content) for m in messages) > room and (shown > MIN_SKELETON_LINES or ranked):
        if shown > MIN_SKELETON_LINES:
            shown = max(MIN_SKELETON_LINES, shown // 2)
        else:
            ranked = ranked[: len(ranked) // 2]
        messages = build()
    size = sum(len(m.content) for m in messages)
    if size > room:
        log.warning(
            "localization prompt on %s exceeds the model's context (%d characters for %d)", files, size, room
        )
    return messages


def ranked_listing(ctx: JobContext, files: Sequence[str]) -> list[tuple[str, str]]:
    """The ranked symbols the localization prompt lists for a conversation on `files`: each as the
    label a location names it by, and its lines and why retrieval ranked it."""
    return [
        (f"{h.file}::{h.name}", f"lines {h.start}-{h.end}; {', '.join(h.reasons) or 'ranked'}")
        for h in ctx.ranked_symbols(files)
    ]


def _step(
    rt: Runtime,
    ctx: JobContext,
    cfg: SearchConfig,
    conv: _Conversation,
    text: str,
    rnd: int,
    rounds: int,
    usage: Usage,
) -> LocationSet | _Conversation | None:
    """Read one turn: locations that resolve end the conversation; tool calls or unresolved
    locations continue it (while rounds remain); anything else rejects it."""
    turn = split_turn(text)
    parsed = read_answer(ctx, cfg, turn.answer)
    left = rounds - rnd - 1

    def record(outcome: str, detail: str, value: object) -> None:
        rt.recorder.add(
            StepRecord(
                rt.job_id,
                STAGE,
                conv.cid,
                conv.parent.id,
                conv.messages,
                turn.think,
                turn.answer,
                value,
                outcome=outcome,
                detail=detail,
                usage=usage,
                round=rnd,
            )
        )

    def located(locations: list[Location]) -> LocationSet:
        gathered = "\n\n".join(conv.gathered)
        return LocationSet(
            conv.cid, conv.parent.id, conv.parent.files, tuple(locations), turn.answer, gathered=gathered
        )

    if parsed.final:
        locations, problems = resolve_locations(ctx, parsed.locations)
        problems = [*parsed.problems, *problems]
        labels = [loc.label() for loc in locations]
        if locations and not problems:
            record("sampled", "", labels)
            return located(locations)
        if left <= 0:
            if locations:  # keep what resolved rather than lose the candidate on the last turn
                record("sampled", "; ".join(problems), labels)
                return located(locations)
            record("rejected", "; ".join(problems) or "no location resolved", labels)
            return None
        record("unresolved", "; ".join(problems), labels)
        reply = Message(
            "user",
            "These locations do not resolve:\n"
            + "\n".join(problems)
            + f"\n\n{left} turn(s) left. Give final locations that exist, or call tools.",
        )
        messages = followup(conv.messages, turn.answer, reply)
        return _Conversation(conv.cid, conv.parent, messages, conv.symbols, conv.gathered)
    if not parsed.calls or left <= 0:
        record("rejected", "; ".join(parsed.problems) or "no locations on the last turn", None)
        return None
    results = []
    room = result_chars(cfg, conv.messages[:2], rounds)
    for call in parsed.calls:
        rt.checkpoint()
        text = ctx.tools.call(call.name, dict(call.args)).text
        if len(text) > room:
            text = text[:room] + "\n[... cut to fit the context ...]"
        results.append((call.text(), text))
    record("tool_calls", "; ".join(parsed.problems), [c.text() for c in parsed.calls])
    reply = tool_results_message(results, left)
    gathered = (*conv.gathered, *(f"Result of {call}:\n{text}" for call, text in results))
    return _Conversation(
        conv.cid, conv.parent, followup(conv.messages, turn.answer, reply), conv.symbols, gathered
    )


def read_answer(ctx: JobContext, cfg: SearchConfig, answer: str) -> LocalizeAnswer:
    """A localization turn, read in the job's profile: under `synifer` a `{"bug_locations": ...}`
    answer gives the final locations (a code snippet becomes the line span it occupies); anything
    else is read as tool calls or `LOCATIONS` by the project's parser."""
    if cfg.profile == synifer.PROFILE:
        found = synifer.locations_answer(answer)
        if found is not None:
            named, snippets, problems = found
            raw: list[RawLocation] = [(p, n, None, None) for p, n in named]
            for path, snippet in snippets:
                rel = ctx.index.relative(path)
                lines = ctx.lines(rel) if rel else None
                span = synifer.snippet_span(lines, snippet) if lines else None
                if span is None:
                    problems.append(f"`{path}`: the code snippet {snippet[:80]!r} is not in the file.")
                else:
                    raw.append((path, None, *span))
            return LocalizeAnswer(locations=tuple(raw), final=True, problems=tuple(problems))
    return parse_localize_answer(answer, ctx.tools.specs(), cfg.limits.max_locations)


# The least a tool result keeps when clipped: a symbol's signature, docstring and first lines.
MIN_RESULT_CHARS = 1500
# A localization turn's answer as replayed in the next round (its thinking pruned): tool calls or
# locations, a few hundred characters; 1000 leaves room for a verbose one.
ANSWER_CHARS = 1000


def result_chars(cfg: SearchConfig, first: Sequence[Message], rounds: int) -> int:
    """Characters one tool result may keep so that the whole conversation (the first prompt, then
    up to MAX_CALLS results in each later round, and the answers) fits the context with a
    localization turn's output."""
    room = cfg.prompt_chars(STAGE) - sum(len(m.content) for m in first)
    per_round_answers = ANSWER_CHARS * (rounds - 1)
    return max(MIN_RESULT_CHARS, (room - per_round_answers) // max(1, (rounds - 1) * MAX_CALLS))


def resolve_locations(ctx: JobContext, raw: Sequence[RawLocation]) -> tuple[list[Location], list[str]]:
    """The raw locations that exist in the snapshot, and a sentence for each one that does not."""

    def entry_of(path: str) -> FileIndex | None:
        rel = ctx.index.relative(path)
        return ctx.index.file(rel) if rel else None

    return resolve_against(raw, entry_of)


def resolve_labels(labels: Sequence[str], entry_of: Callable[[str], FileIndex | None]) -> list[Location]:
    """Recorded location labels (`Location.label`'s form, or the model's) as locations, read and
    resolved exactly as a localization answer is; a label that does not resolve is left out. The
    trainer judges trajectories with this, so its PRM labels accept what serving accepts."""
    raw = [r for r in map(parse_location, labels) if r is not None]
    return resolve_against(raw, entry_of)[0]


def resolve_against(
    raw: Sequence[RawLocation], entry_of: Callable[[str], FileIndex | None]
) -> tuple[list[Location], list[str]]:
    """The raw locations that exist where `entry_of` (a path as written -> its index entry, whose
    `path` is the repository-relative one) looks, and a sentence for each one that does not. A
    name may be qualified (`Class.method`) or, when that is unique in the file, short (`method`)."""
    found: list[Location] = []
    problems: list[str] = []
    for path, name, start, end in raw:
        entry = entry_of(path)
        label = f"{path}::{name}" if name else (f"{path}:{start}-{end}" if start else path)
        if entry is None:
            problems.append(f"`{label}`: no file `{path}` in the repository.")
            continue
        rel = entry.path
        if name:
            matches = [s for s in entry.symbols if s.name == name] or [
                s for s in entry.symbols if s.short_name == name.rpartition(".")[2]
            ]
            if len(matches) != 1:
                known = ", ".join(s.name for s in entry.symbols[:20]) or "none"
                why = "is ambiguous" if matches else "does not exist"
                problems.append(f"`{label}`: the symbol {why} in {rel}; its symbols: {known}.")
                continue
            sym = matches[0]
            found.append(Location(rel, sym.start, sym.end, sym.name))
        elif start is not None and end is not None:
            if not 1 <= start <= end <= max(entry.lines, 1):
                problems.append(f"`{label}`: lines must lie within 1-{entry.lines} of {rel}.")
                continue
            found.append(Location(rel, start, end))
        else:
            found.append(Location(rel, 1, max(entry.lines, 1)))
    return list(dict.fromkeys(found)), problems
