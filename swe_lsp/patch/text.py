"""Line and character helpers shared by every module of `swe_lsp.patch`.

Lines are split on `\\n` only, never with `str.splitlines`: that one also breaks on form feeds,
`\\x1c`..`\\x1e` and `\\u2028`, which occur inside real source files (CPython's own modules carry form
feeds), and a patch built on a different idea of "line" than git's would not apply with git.
"""

from __future__ import annotations

import hashlib


def split_lines(text: str) -> list[str]:
    """Split `text` into lines that keep their `\\n` (or `\\r\\n`); the last may have no newline."""
    lines = text.split("\n")
    last = lines.pop()
    kept = [line + "\n" for line in lines]
    if last:
        kept.append(last)
    return kept


def strip_eol(line: str) -> str:
    """`line` without its trailing `\\n` or `\\r\\n`."""
    if line.endswith("\n"):
        line = line[:-1]
    if line.endswith("\r"):
        line = line[:-1]
    return line


def newline_of(text: str) -> str:
    """The line ending a file uses (`\\r\\n` when its first line break is one), so edits keep it."""
    first = text.find("\n")
    return "\r\n" if first > 0 and text[first - 1] == "\r" else "\n"


def content_hash(text: str | None) -> str | None:
    """A SHA-256 of a file's text, or None for a file that does not exist.

    The server compares it with the document's current text to refuse applying a diff to a file
    the user changed after the snapshot was taken.
    """
    if text is None:
        return None
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def utf16_len(text: str) -> int:
    """Length of `text` in UTF-16 code units, the unit LSP positions count by default."""
    return len(text.encode("utf-16-le", "surrogatepass")) // 2


def is_python_path(path: str) -> bool:
    """Whether a path names a Python source file, whose edits must leave it parsable."""
    return path.endswith((".py", ".pyi"))
