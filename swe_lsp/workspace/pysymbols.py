"""Python symbols with exact spans, and file skeletons, from `ast` (the fast path).

A file with a syntax error (common: the user's unsaved buffer is half-typed) still gets symbols from
an indentation scan of `def`/`class` lines, so retrieval and the tool calls keep working on it.
"""

from __future__ import annotations

import ast
import re
import warnings
from collections.abc import Iterator, Sequence

from swe_lsp.workspace.model import Symbol, SymbolKind

_PROPERTY_DECORATORS = frozenset({"property", "cached_property", "setter", "getter", "deleter"})
_DEF_LINE = re.compile(r"^([ \t]*)(?:async[ \t]+def|def|class)[ \t]+([A-Za-z_]\w*)")
_DOCSTRING_CHARS = 600
_SKELETON_DOC_LINES = 5

FunctionNode = ast.FunctionDef | ast.AsyncFunctionDef
DefNode = FunctionNode | ast.ClassDef


def python_symbols(path: str, source: bytes | str) -> tuple[tuple[Symbol, ...], bool]:
    """The symbols of one Python file, and whether `ast` parsed it (False: the fallback scan ran)."""
    text = source if isinstance(source, str) else source.decode("utf-8", "replace")
    lines = text.splitlines()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escape sequences in old code are not our concern
            tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return tuple(_scan_symbols(path, lines)), False
    return tuple(_ast_symbols(path, tree.body, lines, "", in_class=False)), True


def _ast_symbols(path: str, body: list[ast.stmt], lines: Sequence[str], prefix: str, in_class: bool
                 ) -> Iterator[Symbol]:  # fmt: skip
    for node in _definitions(body):
        name = f"{prefix}{node.name}"
        start = min([d.lineno for d in node.decorator_list] + [node.lineno])
        yield Symbol(
            file=path,
            name=name,
            kind=_kind(node, in_class),
            start=start,
            end=node.end_lineno or node.lineno,
            signature=_header(node, lines),
            docstring=_docstring(node),
        )
        yield from _ast_symbols(path, node.body, lines, f"{name}.", isinstance(node, ast.ClassDef))


def _definitions(body: list[ast.stmt]) -> Iterator[DefNode]:
    """Definitions in a block, including those under `if`/`try`/`with` (version-dependent code)."""
    for node in body:
        if isinstance(node, DefNode):
            yield node
        elif isinstance(node, ast.If | ast.For | ast.AsyncFor | ast.While | ast.With | ast.AsyncWith):
            yield from _definitions(node.body)
            yield from _definitions(getattr(node, "orelse", []))
        elif isinstance(node, ast.Try | ast.TryStar):
            for block in (node.body, node.orelse, node.finalbody, *(h.body for h in node.handlers)):
                yield from _definitions(block)


def _kind(node: DefNode, in_class: bool) -> SymbolKind:
    if isinstance(node, ast.ClassDef):
        return "class"
    if not in_class:
        return "function"
    for deco in node.decorator_list:
        target = deco.func if isinstance(deco, ast.Call) else deco
        name = target.attr if isinstance(target, ast.Attribute) else getattr(target, "id", "")
        if name in _PROPERTY_DECORATORS:
            return "property"
    return "method"


def _header(node: DefNode, lines: Sequence[str]) -> str:
    """The `def`/`class` line(s) as written, comments dropped and whitespace collapsed."""
    first = node.body[0]
    if first.lineno == node.lineno:
        raw = [lines[node.lineno - 1][node.col_offset : first.col_offset]]
    else:
        raw = lines[node.lineno - 1 : first.lineno - 1]
    parts = []
    for line in raw:
        stripped = line.strip()
        if stripped.startswith("#"):
            continue
        if "#" in stripped and "'" not in stripped and '"' not in stripped:
            stripped = stripped.split("#", 1)[0].rstrip()
        parts.append(stripped)
    return " ".join(" ".join(parts).split()).rstrip(":").rstrip()


def _docstring(node: DefNode) -> str | None:
    doc = ast.get_docstring(node, clean=True)
    if not doc:
        return None
    return doc if len(doc) <= _DOCSTRING_CHARS else doc[:_DOCSTRING_CHARS] + "…"


def _scan_symbols(path: str, lines: Sequence[str]) -> Iterator[Symbol]:
    """Symbols of an unparsable file: a definition runs until the next code line indented no deeper
    than its own `def`/`class` line. Spans are approximate; names and starts are exact."""
    open_defs: list[tuple[int, str, int, SymbolKind, str]] = []  # indent, name, start, kind, header

    def close(upto: int, indent: int) -> Iterator[Symbol]:
        while open_defs and open_defs[-1][0] >= indent:
            _, name, start, kind, header = open_defs.pop()
            yield Symbol(path, name, kind, start, max(start, upto), header)

    last_code = 0
    for number, line in enumerate(lines, 1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        indent = len(line) - len(line.lstrip())
        yield from close(last_code, indent)
        match = _DEF_LINE.match(line)
        if match:
            parent = open_defs[-1] if open_defs else None
            kind: SymbolKind = "class" if stripped.startswith("class") else "function"
            if kind == "function" and parent is not None and parent[3] == "class":
                kind = "method"
            name = f"{parent[1]}.{match.group(2)}" if parent else match.group(2)
            open_defs.append((indent, name, number, kind, stripped.rstrip(":")))
        last_code = number
    yield from close(last_code, 0)


def skeleton(source: str) -> str:
    """The file with every function body elided to `...` (docstrings of a few lines kept): the
    compressed view SWE-SynInfer's `get_skeleton` and Agentless show the model."""
    lines = source.splitlines()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(source)
    except (SyntaxError, ValueError):
        headers = sorted(_scan_symbols("", lines), key=lambda s: s.start)
        return "\n".join(lines[s.start - 1] for s in headers)
    elided: dict[int, tuple[int, str]] = {}  # first elided line -> (last elided line, indent)
    _collect_elisions(tree.body, elided, lines)
    out: list[str] = []
    number = 1
    while number <= len(lines):
        if number in elided:
            last, indent = elided[number]
            out.append(f"{indent}...")
            number = last + 1
            continue
        out.append(lines[number - 1])
        number += 1
    return "\n".join(out)


def _collect_elisions(body: list[ast.stmt], elided: dict[int, tuple[int, str]], lines: Sequence[str]) -> None:
    for node in _definitions(body):
        if isinstance(node, ast.ClassDef):
            _collect_elisions(node.body, elided, lines)
            continue
        first = node.body[0]
        if first.lineno == node.lineno:
            continue  # a one-line def: nothing to elide
        keep_until = first.lineno - 1
        if (
            isinstance(first, ast.Expr)
            and isinstance(first.value, ast.Constant)
            and isinstance(first.value.value, str)
        ):
            doc_end = first.end_lineno or first.lineno
            if doc_end - first.lineno < _SKELETON_DOC_LINES:
                keep_until = doc_end
        end = node.end_lineno or node.lineno
        if keep_until >= end:
            continue
        indent = lines[first.lineno - 1][: first.col_offset]
        elided[keep_until + 1] = (end, indent)
