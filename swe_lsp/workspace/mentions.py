"""What an issue names explicitly: file paths, stack-trace frames, dotted names, identifiers in
backticks or code, and error messages. Retrieval boosts these over bag-of-words similarity, since
a path or a frame the user pasted is far stronger evidence than a shared word.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_FRAME = re.compile(r'File "([^"]+)", line (\d+), in ([A-Za-z_<][\w<>]*)')
_PYTEST_FRAME = re.compile(r"^([\w./\\-]+\.py):(\d+):(?: in ([A-Za-z_]\w*))?", re.MULTILINE)
_EXTENSIONS = "py|pyi|pyx|c|h|cpp|js|ts|cfg|toml|ini|txt|rst|html"
_PATH = re.compile(rf"(?<![\w/.-])((?:[\w.-]+/)*[\w-]+\.(?:{_EXTENSIONS}))\b")
_DOTTED = re.compile(r"\b[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)+\b")
_BACKTICK = re.compile(r"``?([^`\n]{1,120}?)``?")
_FENCE = re.compile(r"```.*?(?:```|$)", re.DOTALL)
_FENCED_BODY = re.compile(r"```[^\n]*\n(.*?)```", re.DOTALL)
_FENCED_WITH_LANGUAGE = re.compile(r"```([^\n]*)\n(.*?)```", re.DOTALL)
_IDENTIFIER = re.compile(r"[A-Za-z_]\w*")
_ERROR = re.compile(r"^\s*(?:[\w.]+\.)?(\w*(?:Error|Exception|Warning|Exit)):\s*(.+?)\s*$", re.MULTILINE)


@dataclass(frozen=True)
class Frame:
    """One traceback frame: the file as printed (often an absolute site-packages path) and the
    function it was in."""

    path: str
    line: int
    function: str


@dataclass(frozen=True)
class Mentions:
    """Everything an issue names that can be matched against the index."""

    paths: tuple[str, ...]
    frames: tuple[Frame, ...]
    dotted: tuple[str, ...]
    code_identifiers: tuple[str, ...]  # in backticks or code blocks
    identifiers: tuple[str, ...]  # anywhere in the text
    errors: tuple[tuple[str, str], ...]  # (exception type, message)


def find_mentions(issue: str) -> Mentions:
    """Extract what `issue` names, each list in order of first appearance without repeats."""
    frames = [Frame(p.replace("\\", "/"), int(n), f) for p, n, f in _FRAME.findall(issue)]
    frames += [Frame(p.replace("\\", "/"), int(n), f or "") for p, n, f in _PYTEST_FRAME.findall(issue)]
    code = " ".join(m.group(0) for m in _FENCE.finditer(issue))
    code += " " + " ".join(code_spans(issue))
    return Mentions(
        paths=_unique(p.replace("\\", "/").lstrip("./") for p in _PATH.findall(issue)),
        frames=tuple(dict.fromkeys(frames)),
        dotted=_unique(d for d in _DOTTED.findall(issue) if not _PATH.fullmatch(d)),
        code_identifiers=_unique(_IDENTIFIER.findall(code)),
        identifiers=_unique(_IDENTIFIER.findall(issue)),
        errors=_unique((kind, message) for kind, message in _ERROR.findall(issue) if len(message) >= 8),
    )


def code_blocks(issue: str) -> list[str]:
    """The text inside each closed ``` fence of `issue`, without the fence lines."""
    return _FENCED_BODY.findall(issue)


@dataclass(frozen=True)
class CodeBlock:
    """A closed ``` fence of an issue: its text (as `code_blocks` gives it), the language its fence
    line names (`python`, `ini`; "" when none) and the last non-blank line before it, where an issue
    names what the block is (`test_path_error.py:`)."""

    lead: str
    language: str
    text: str


def led_code_blocks(issue: str) -> list[CodeBlock]:
    """Each closed ``` fence of `issue` with its language and the line before it (`CodeBlock`)."""
    out = []
    for match in _FENCED_WITH_LANGUAGE.finditer(issue):
        before = [line for line in issue[: match.start()].splitlines() if line.strip()]
        out.append(
            CodeBlock(before[-1].strip() if before else "", match.group(1).strip().lower(), match.group(2))
        )
    return out


def code_spans(issue: str) -> list[str]:
    """The inline code of `issue` (in single or double backticks, outside fences)."""
    return _BACKTICK.findall(outside_fences(issue))


def outside_fences(issue: str) -> str:
    """`issue` with each ``` fenced block (an unclosed one to the end) replaced by a blank line."""
    return _FENCE.sub("\n", issue)


def _unique(items):  # type: ignore[no-untyped-def]
    return tuple(dict.fromkeys(items))
