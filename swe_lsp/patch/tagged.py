"""Parse tagged edits, the patch form of the SWE-SynInfer+ inference code (and so of the released
SWE-Reasoner weights), into the same `EditBlock`s the search/replace form gives::

    # modification 1
    ```python
    <file>path/to/file.py</file>
    <original>
    old lines
    </original>
    <patched>
    new lines
    </patched>
    ```

Only text inside code fences counts there, and a fence may hold several edits; the
`# modification N` headers are a convention, not parsed. Tags outside any fence are read too when
the answer has no fence at all (a model that dropped the fences still meant the edits). The paths
may start with `/` (that form lists files as `/pkg/mod.py`). Parsing never raises.
"""

from __future__ import annotations

import re

from swe_lsp.patch.blocks import EditBlock, ParsedBlocks, ParseStatus

_FENCED = re.compile(r"^[ \t]*```[^\n]*\n(.*?)^[ \t]*```", re.DOTALL | re.MULTILINE)
_EDIT = re.compile(
    r"<file>(?P<path>.*?)</file>\s*<original>(?P<original>.*?)</original>\s*<patched>(?P<patched>.*?)</patched>",
    re.DOTALL,
)
_PLACEHOLDER = "# Rest of the code..."


def _lines(text: str) -> str:
    """A tag's body as whole lines: the newlines around it dropped, indentation kept."""
    body = text.strip("\n")
    kept = [line for line in body.split("\n") if line.strip() != _PLACEHOLDER]
    return "".join(line.removesuffix("\r") + "\n" for line in kept) if body.strip() else ""


def parse_tagged_edits(text: str) -> ParsedBlocks:
    """Every `<file>/<original>/<patched>` edit in `text`, in order; never raises."""
    fenced = [m.group(1) for m in _FENCED.finditer(text)]
    bodies = fenced or [text]
    blocks: list[EditBlock] = []
    problems: list[str] = []
    for body in bodies:
        for match in _EDIT.finditer(body):
            path = match.group("path").strip().lstrip("/")
            if not path:
                problems.append(f"Edit {len(blocks) + len(problems) + 1} has an empty <file></file>.")
                continue
            blocks.append(EditBlock(path, _lines(match.group("original")), _lines(match.group("patched"))))
    if not blocks:
        problems.append(
            "No edits can be parsed: write each edit as <file>path</file>, <original>the lines to "
            "replace</original>, <patched>the new lines</patched>, inside a ```python fence."
        )
        return ParsedBlocks((), ParseStatus.UNPARSED, tuple(problems))
    return ParsedBlocks(tuple(blocks), ParseStatus.PARTIAL if problems else ParseStatus.OK, tuple(problems))
