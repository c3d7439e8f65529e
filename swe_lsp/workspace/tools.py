"""The SWE-SynInfer tool calls, as functions the search stage calls by name.

Output is plain text meant for a model's context: compact, stable (sorted, no timestamps or
absolute paths), bounded (past a few hits, per-file counts), and explicit when nothing matched or
the call was malformed, because a model that gets an empty string tends to invent an answer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from swe_lsp.workspace.files import read_text
from swe_lsp.workspace.index import RepoIndex
from swe_lsp.workspace.model import Symbol
from swe_lsp.workspace.pysymbols import skeleton

MAX_SHOWN = 3  # hits shown in full (code)
MAX_LISTED = 10  # hits listed by location before collapsing to per-file counts
MAX_SNIPPET_LINES = 60
MAX_VIEW_LINES = 200


@dataclass(frozen=True)
class ToolResult:
    """A tool call's answer; `ok` is False for a malformed call (unknown tool, bad arguments)."""

    text: str
    ok: bool = True


@dataclass(frozen=True)
class ToolSpec:
    """A tool's name, what it does, and its parameters (name -> JSON type), for the prompts."""

    name: str
    description: str
    parameters: Mapping[str, str]
    required: tuple[str, ...]


class ToolCallError(ValueError):
    """A call the model got wrong; becomes a `ToolResult(ok=False)`, never reaches the user."""


SPECS: tuple[ToolSpec, ...] = (
    ToolSpec("search_class", "Find classes by name; shows their skeleton.", {"class_name": "string"},
             ("class_name",)),
    ToolSpec("search_class_in_file", "Find a class by name in one file.",
             {"class_name": "string", "file_path": "string"}, ("class_name", "file_path")),
    ToolSpec("search_method", "Find functions and methods by name anywhere.", {"method_name": "string"},
             ("method_name",)),
    ToolSpec("search_method_in_class", "Find a method of a class.",
             {"method_name": "string", "class_name": "string"}, ("method_name", "class_name")),
    ToolSpec("search_method_in_file", "Find a function or method by name in one file.",
             {"method_name": "string", "file_path": "string"}, ("method_name", "file_path")),
    ToolSpec("search_code", "Find a literal code snippet in all files.", {"code_str": "string"},
             ("code_str",)),
    ToolSpec("search_code_in_file", "Find a literal code snippet in one file.",
             {"code_str": "string", "file_path": "string"}, ("code_str", "file_path")),
    ToolSpec("view_file", "Show lines start..end (1-based, inclusive) of a file.",
             {"path": "string", "start": "integer", "end": "integer"}, ("path",)),
    ToolSpec("get_skeleton", "Show a file with function bodies elided.", {"path": "string"}, ("path",)),
)  # fmt: skip


class Tools:
    """The nine tool calls over one index (its root is the snapshot they read).

    `ranked` (the job's retrieval order, best first) orders what a search finds: matches in the
    files most likely to need the fix come first, so a long answer clipped to fit the context keeps
    them; files not ranked follow in path order."""

    def __init__(self, index: RepoIndex, ranked: Sequence[str] = ()) -> None:
        self.index = index
        self._methods: dict[str, Callable[..., str]] = {spec.name: getattr(self, spec.name) for spec in SPECS}
        self._rank = {path: i for i, path in enumerate(dict.fromkeys(ranked))}

    def _order(self, rel: str) -> tuple[int, str]:
        return self._rank.get(rel, len(self._rank)), rel

    @staticmethod
    def specs() -> tuple[ToolSpec, ...]:
        """The machine-readable list of tools, in a stable order."""
        return SPECS

    def call(self, name: str, args: Mapping[str, Any]) -> ToolResult:
        """Dispatch a call by name after checking its arguments against the tool's spec."""
        spec = next((s for s in SPECS if s.name == name), None)
        if spec is None:
            known = ", ".join(s.name for s in SPECS)
            return ToolResult(f"Malformed call: unknown tool `{name}`. Available tools: {known}.", ok=False)
        try:
            _check_args(spec, args)
            return ToolResult(self._methods[name](**args))
        except ToolCallError as exc:
            return ToolResult(f"Malformed call to `{name}`: {exc}", ok=False)

    # -- symbol searches ----------------------------------------------------------------------

    def search_class(self, class_name: str) -> str:
        """Classes named `class_name`, each as its skeleton."""
        found = [s for s in self.index.symbols_named(class_name) if s.kind == "class"]
        return self._report(f"class `{class_name}`", found, self._class_view)

    def search_class_in_file(self, class_name: str, file_path: str) -> str:
        """A class named `class_name` in one file."""
        rel = self._file(file_path)
        found = [s for s in self.index.symbols_named(class_name) if s.kind == "class" and s.file == rel]
        return self._report(f"class `{class_name}` in {rel}", found, self._class_view)

    def search_method(self, method_name: str) -> str:
        """Functions and methods named `method_name`, with their code."""
        found = [s for s in self.index.symbols_named(method_name) if s.kind != "class"]
        return self._report(f"method `{method_name}`", found, self._code_view)

    def search_method_in_class(self, method_name: str, class_name: str) -> str:
        """Methods named `method_name` defined directly in a class named `class_name`."""
        found = [
            s
            for s in self.index.symbols_named(method_name)
            if s.kind != "class" and s.name.rpartition(".")[0].rpartition(".")[2] == class_name
        ]
        return self._report(f"method `{method_name}` in class `{class_name}`", found, self._code_view)

    def search_method_in_file(self, method_name: str, file_path: str) -> str:
        """Functions and methods named `method_name` in one file."""
        rel = self._file(file_path)
        found = [s for s in self.index.symbols_named(method_name) if s.kind != "class" and s.file == rel]
        return self._report(f"method `{method_name}` in {rel}", found, self._code_view)

    # -- text searches ------------------------------------------------------------------------

    def search_code(self, code_str: str) -> str:
        """Lines containing `code_str`, in every text file."""
        hits = [hit for rel in self.index.paths for hit in self._grep(rel, code_str)]
        return self._report_lines(f"code `{code_str}`", hits)

    def search_code_in_file(self, code_str: str, file_path: str) -> str:
        """Lines containing `code_str` in one file."""
        rel = self._file(file_path)
        return self._report_lines(f"code `{code_str}` in {rel}", self._grep(rel, code_str))

    # -- files --------------------------------------------------------------------------------

    def view_file(self, path: str, start: int | None = None, end: int | None = None) -> str:
        """Numbered lines `start`..`end` of a file (at most MAX_VIEW_LINES)."""
        rel = self._file(path)
        lines = self._lines(rel)
        first = max(1, start or 1)
        last = min(len(lines), end or len(lines), first + MAX_VIEW_LINES - 1)
        if first > len(lines) or (end is not None and end < first):
            raise ToolCallError(f"lines {start}..{end} are outside {rel}, which has {len(lines)} lines")
        body = "\n".join(f"{n:>5} {lines[n - 1]}" for n in range(first, last + 1))
        more = ""
        if last < len(lines):
            more = f"\n[{len(lines) - last} more lines; call view_file with start={last + 1}]"
        return f"{rel} lines {first}-{last} of {len(lines)}:\n{body}{more}"

    def get_skeleton(self, path: str) -> str:
        """The file with function bodies elided."""
        rel = self._file(path)
        text = read_text(self.index.root, rel)
        if text is None:
            raise ToolCallError(f"{rel} is not a text file")
        if not rel.endswith((".py", ".pyi")):
            return f"{rel} is not a Python file; use view_file to read it."
        return f"Skeleton of {rel}:\n{_clip(skeleton(text).splitlines(), MAX_VIEW_LINES)}"

    # -- helpers ------------------------------------------------------------------------------

    def _file(self, path: str) -> str:
        rel = self.index.relative(path.strip())
        if rel is None:
            raise ToolCallError(f"`{path}` is not a path inside the repository; use a relative path")
        if self.index.file(rel) is None:
            hint = [p for p in self.index.paths if p.endswith("/" + rel.rpartition("/")[2])][:5]
            maybe = f" Did you mean: {', '.join(hint)}?" if hint else ""
            raise ToolCallError(f"no file `{rel}` in the repository.{maybe}")
        return rel

    def _lines(self, rel: str) -> list[str]:
        text = read_text(self.index.root, rel)
        if text is None:
            raise ToolCallError(f"{rel} is not a text file")
        return text.splitlines()

    def _grep(self, rel: str, needle: str) -> list[tuple[str, int, str]]:
        entry = self.index.file(rel)
        if entry is None or not entry.lines:
            return []
        text = read_text(self.index.root, rel)
        if text is None or needle not in text:
            return []
        return [(rel, n, line.strip()) for n, line in enumerate(text.splitlines(), 1) if needle in line]

    def _code_view(self, sym: Symbol) -> str:
        lines = self._lines(sym.file)[sym.start - 1 : sym.end]
        return f"{sym.file}:{sym.start}-{sym.end} {sym.name}\n{_clip(lines, MAX_SNIPPET_LINES, sym.start)}"

    def _class_view(self, sym: Symbol) -> str:
        lines = self._lines(sym.file)[sym.start - 1 : sym.end]
        body = skeleton("\n".join(_dedent(lines))).splitlines()
        return f"{sym.file}:{sym.start}-{sym.end} {sym.name}\n{_clip(body, MAX_SNIPPET_LINES)}"

    def _report(self, what: str, found: list[Symbol], view: Callable[[Symbol], str]) -> str:
        found = sorted(found, key=lambda s: (self._order(s.file), s.start))
        if not found:
            return f"No {what} found."
        head = f"Found {len(found)} matches of {what}:"
        if len(found) <= MAX_SHOWN:
            return head + "\n\n" + "\n\n".join(view(s) for s in found)
        if len(found) <= MAX_LISTED:
            return head + "\n" + "\n".join(f"- {s.file}:{s.start}-{s.end} {s.signature}" for s in found)
        narrow = " (too many to show; narrow the search to a file or class):\n"
        return head[:-1] + narrow + self._per_file(s.file for s in found)

    def _report_lines(self, what: str, hits: list[tuple[str, int, str]]) -> str:
        if not hits:
            return f"No {what} found."
        hits = sorted(hits, key=lambda hit: (self._order(hit[0]), hit[1]))
        head = f"Found {len(hits)} matches of {what}:"
        if len(hits) <= MAX_LISTED:
            return head + "\n" + "\n".join(f"- {rel}:{n}: {line[:200]}" for rel, n, line in hits)
        narrow = " (too many to show; narrow the search to a file):\n"
        return head[:-1] + narrow + self._per_file(rel for rel, _, _ in hits)

    def _per_file(self, files: Iterable[str]) -> str:
        counts: dict[str, int] = {}
        for rel in files:
            counts[rel] = counts.get(rel, 0) + 1
        ordered = sorted(counts.items(), key=lambda kv: self._order(kv[0]))
        return "\n".join(f"- {rel}: {n}" for rel, n in ordered)


def _check_args(spec: ToolSpec, args: Mapping[str, Any]) -> None:
    if not isinstance(args, Mapping):
        raise ToolCallError("arguments must be an object of named parameters")
    unknown = sorted(set(args) - set(spec.parameters))
    if unknown:
        takes = ", ".join(spec.parameters)
        raise ToolCallError(f"unknown argument(s) {', '.join(unknown)}; it takes {takes}")
    missing = [name for name in spec.required if name not in args]
    if missing:
        raise ToolCallError(f"missing argument(s) {', '.join(missing)}")
    for name, value in args.items():
        kind = spec.parameters[name]
        if kind == "integer" and (value is None or (isinstance(value, int) and not isinstance(value, bool))):
            continue
        if kind == "string" and isinstance(value, str) and value.strip():
            continue
        raise ToolCallError(f"`{name}` must be a non-empty {kind}, got {value!r}")


def _clip(lines: list[str], limit: int, first_number: int | None = None) -> str:
    shown = lines[:limit]
    if first_number is not None:
        shown = [f"{first_number + i:>5} {line}" for i, line in enumerate(shown)]
    rest = f"\n[{len(lines) - limit} more lines; use view_file]" if len(lines) > limit else ""
    return "\n".join(shown) + rest


def _dedent(lines: list[str]) -> list[str]:
    """Lines of a nested class shifted left so that `ast` can parse them alone."""
    indent = len(lines[0]) - len(lines[0].lstrip()) if lines else 0
    return [line[indent:] if line[:indent].strip() == "" else line for line in lines]
