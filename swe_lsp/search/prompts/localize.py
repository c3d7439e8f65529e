"""Fault localization: multi-round tool use, then the locations of the fix.

Each round the model either calls the SWE-SynInfer tools, one call per line in Python call syntax
with literal arguments (`search_method_in_file("mean", "pkg/core.py")`), or gives its final answer:
`LOCATIONS` and one location per line, `path::Name` (a class, function or `Class.method`) or
`path:START-END` (a line span). The last round must give locations. Only earlier answers and the
tool results are replayed (history pruning); a location that does not resolve is sent back.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from swe_lsp.llm import Message, regex_escape
from swe_lsp.search.prompts.common import SYSTEM, issue_block, regex_alternatives
from swe_lsp.search.turns import answer_turn, constrained
from swe_lsp.workspace import ToolSpec

# Tool calls per turn: three lookups answer most questions of a turn (a class, a method, a usage);
# more in one turn floods the next prompt with results the model has not asked for yet.
MAX_CALLS = 3
LOCATIONS = "LOCATIONS"
_LOCATION = re.compile(r"^\s*[`'\"]?([^\s:`'\"]+)(?:::([A-Za-z_][\w.]*)|:(\d+)-(\d+))?[`'\"]?\s*$")

# A location as written, before it is checked against the repository: (path, symbol name, first
# line, last line); a name or a span or neither (the whole file).
RawLocation = tuple[str, str | None, int | None, int | None]


@dataclass(frozen=True)
class ToolCall:
    """One parsed tool call: the tool's name and its arguments by parameter name."""

    name: str
    args: Mapping[str, Any]

    def text(self) -> str:
        """The call as the model writes it."""
        return (
            f"{self.name}({', '.join(repr(v) if isinstance(v, str) else str(v) for v in self.args.values())})"
        )


@dataclass(frozen=True)
class LocalizeAnswer:
    """A parsed localization turn: tool calls, or raw locations (`(path, name, start, end)`, still to
    be resolved against the index), and the problems found reading it."""

    calls: tuple[ToolCall, ...] = ()
    locations: tuple[RawLocation, ...] = ()
    final: bool = False
    problems: tuple[str, ...] = field(default=())


def _tool_lines(specs: Sequence[ToolSpec]) -> str:
    return "\n".join(
        f"- {s.name}({', '.join(s.parameters)}): {s.description}"
        + (
            f" ({', '.join(p for p in s.parameters if p not in s.required)} optional)"
            if len(s.required) < len(s.parameters)
            else ""
        )
        for s in specs
    )


def localize_messages(
    issue: str,
    files: Sequence[str],
    skeletons: str,
    specs: Sequence[ToolSpec],
    rounds: int,
    max_locations: int,
    final_form: Callable[[str], str] | None = None,
    ranked: Sequence[tuple[str, str]] = (),
) -> tuple[Message, ...]:
    """The first prompt of a localization: the issue, the chosen files' skeletons, the symbols a
    search ranked (`ranked`: (`path::Name`, its lines and why), best first; a skeleton is cut, so a
    large file's relevant method may be named only there) and the tools; `final_form(example_path)`
    words the final answer's form when a profile has its own."""
    example = files[0] if files else "pkg/module.py"
    listed = "\n".join(f"{n}. {label}  ({why})" for n, (label, why) in enumerate(ranked, 1))
    user = (
        f"{issue_block(issue)}\n\n"
        f"Files chosen as relevant: {', '.join(files)}\n\n{skeletons}\n\n"
        + (
            f"Symbols ranked most relevant to the issue by a search, best first:\n{listed}\n\n"
            if listed
            else ""
        )
        + "Find where the code must change. You may call these tools:\n"
        f"{_tool_lines(specs)}\n\n"
        f"Each turn, either call up to {MAX_CALLS} tools, one per line, for example:\n"
        f'<answer>\nsearch_method_in_file("name", "{example}")\n</answer>\n'
        + (
            final_form(example)
            if final_form
            else f"or give the final locations (at most {max_locations}), `path::Name` for a class, function "
            "or Class.method, or `path:START-END` for lines:\n"
            f"<answer>\n{LOCATIONS}\n{example}::name\n</answer>\n"
        )
        + f"You have {rounds} turn(s); the last one must give the final locations."
    )
    return (Message("system", SYSTEM), Message("user", user))


def tool_results_message(results: Sequence[tuple[str, str]], rounds_left: int) -> Message:
    """The user turn that answers a round: each call with its result, and how many turns remain."""
    body = "\n\n".join(f"Result of {call}:\n{text}" for call, text in results)
    last = " This is your last turn: answer with the final locations." if rounds_left == 1 else ""
    return Message("user", f"{body}\n\n{rounds_left} turn(s) left.{last}")


def followup(messages: Sequence[Message], answer: str, reply: Message) -> tuple[Message, ...]:
    """The pruned conversation for the next round: earlier messages, this answer, the reply."""
    return (*messages, Message("assistant", answer_turn(answer)), reply)


def localize_regex(
    specs: Sequence[ToolSpec], symbols: Mapping[str, Sequence[str]], final: bool, max_locations: int
) -> str:
    """The constrained form of a turn: tool calls with each tool's own arguments (unless `final`), or
    at most `max_locations` locations in the files of `symbols` (path -> the symbol names it may
    name; a file listed without names may be named whole or by a line span)."""
    calls = "(" + "|".join(_call_regex(s) for s in specs) + ")"
    calls = calls + r"(\n" + calls + r"){0," + str(MAX_CALLS - 1) + "}"
    per_file = []
    for path, names in symbols.items():
        tail = r":[0-9]{1,6}-[0-9]{1,6}"
        if names:
            tail = "(::" + regex_alternatives(list(names)) + "|" + tail + ")"
        per_file.append(regex_escape(path) + "(" + tail + ")?")
    loc = "(" + "|".join(per_file) + ")"
    locs = LOCATIONS + r"(\n" + loc + r"){1," + str(max_locations) + "}"
    return constrained(locs if final else "(" + calls + "|" + locs + ")")


def _call_regex(spec: ToolSpec) -> str:
    """One tool's call: its required arguments, then its optional ones, each of its JSON type."""
    # A string argument is a Python literal in either quote, escapes allowed, so a code search can
    # look for `"%s" % name` or `'\n'`; 200 characters hold any identifier or line of code searched.
    kinds = {
        "string": r'("([^"\\\n]|\\[^\n]){1,200}"|' + r"'([^'\\\n]|\\[^\n]){1,200}')",
        "integer": "[0-9]{1,6}",
    }
    args = [kinds.get(spec.parameters[p], kinds["string"]) for p in spec.parameters]
    required = len(spec.required)
    body = ", ?".join(args[:required])
    for arg in args[required:]:
        body += "(, ?" + arg if body else "(" + arg
    body += ")?" * (len(args) - required)
    return regex_escape(spec.name) + r"\(" + body + r"\)"


def parse_localize_answer(answer: str, specs: Sequence[ToolSpec], max_locations: int) -> LocalizeAnswer:
    """Read one localization answer (at most `max_locations` locations); never raises (problems are
    returned for the model)."""
    lines = [line.strip() for line in answer.strip().strip("`").splitlines() if line.strip()]
    if lines and lines[0].rstrip(":").upper() == LOCATIONS:
        return _parse_locations(lines[1:], max_locations)
    calls, problems = [], []
    by_name = {s.name: s for s in specs}
    for line in lines[: MAX_CALLS * 2]:
        call, problem = _parse_call(line, by_name)
        if call is not None:
            calls.append(call)
        elif problem:
            problems.append(problem)
    if not calls:
        problems.append(f"Give tool calls, one per line, or `{LOCATIONS}` followed by locations.")
    return LocalizeAnswer(calls=tuple(calls[:MAX_CALLS]), problems=tuple(problems))


def parse_location(line: str) -> RawLocation | None:
    """One location label (`path::Name`, `path:START-END` or `path`, as the model writes it or as
    `Location.label` records it), or None when it is not one. The one reader of labels: the search
    reads the model's answers with it and the trainer the labels of recorded trajectories, so a
    label means the same to the PRM's training data as to the server."""
    match = _LOCATION.match(line.lstrip("-* "))
    if match is None:
        return None
    path, name, start, end = match.groups()
    return (path.removeprefix("./"), name, int(start) if start else None, int(end) if end else None)


def _parse_locations(lines: Sequence[str], max_locations: int) -> LocalizeAnswer:
    found, problems = [], []
    for line in lines[: max_locations * 2]:
        raw = parse_location(line)
        if raw is None:
            problems.append(f"`{line[:120]}` is not `path::Name` or `path:START-END`.")
            continue
        found.append(raw)
    if not found:
        problems.append(f"`{LOCATIONS}` must be followed by at least one location.")
    return LocalizeAnswer(locations=tuple(found[:max_locations]), final=True, problems=tuple(problems))


def _parse_call(line: str, specs: Mapping[str, ToolSpec]) -> tuple[ToolCall | None, str]:
    try:
        node = ast.parse(line, mode="eval").body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None, f"`{line[:120]}` is not a tool call."
    if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
        return None, f"`{line[:120]}` is not a tool call."
    spec = specs.get(node.func.id)
    if spec is None:
        return None, f"`{node.func.id}` is not a tool; the tools are {', '.join(specs)}."
    values: dict[str, Any] = {}
    params = list(spec.parameters)
    for i, arg in enumerate(node.args):
        if i >= len(params) or not isinstance(arg, ast.Constant):
            return None, f"`{line[:120]}`: arguments must be literals, at most {len(params)}."
        values[params[i]] = arg.value
    for kw in node.keywords:
        if kw.arg is None or not isinstance(kw.value, ast.Constant):
            return None, f"`{line[:120]}`: arguments must be literals."
        values[kw.arg] = kw.value.value
    return ToolCall(spec.name, values), ""
