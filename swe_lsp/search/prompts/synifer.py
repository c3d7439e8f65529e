"""The `synifer` prompt profile: the prompt and answer formats of the SWE-SynInfer+ inference code,
which the released SWE-Reasoner weights were trained on, offered beside the project's own profile
so that a user who runs those weights gets them in distribution. A manifest picks it with
`prompts = "synifer"`. The answers are parsed into the same data as the project's own (file sets,
raw locations, edit blocks), so everything after parsing (resolution, application, verification,
ranking, the trainer's records) is shared.

What the weights know, and so what this profile writes (formats, in this project's own words):
- every turn is `<think>...</think>` then `<answer>...</answer>` (as in the project's profile);
- understanding lists the repository's Python files flat, one `- /path.py` per line, and asks for
  JSON `{"files_to_modify": [...]}` of at most five files;
- localization calls the same search tools in positional Python call syntax and ends with JSON
  `{"bug_locations": [{"file", "class", "method"} | {"file", "code_snippets"}]}`, at most ten;
- a patch is `<file>`/`<original>`/`<patched>` triples inside ```python fences, numbered
  `# modification N` (`swe_lsp.patch.parse_tagged_edits` reads them).
Decoding is not constrained under this profile: the weights were trained to write these forms
freely, and a grammar would change what they write.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

from swe_lsp.llm import Message
from swe_lsp.search.model import Location
from swe_lsp.search.prompts.common import SYSTEM, issue_block

PROFILE = "synifer"
# What the SWE-SynInfer+ prompts ask for: at most five files at understanding, at most ten locations.
MAX_FILES = 5
MAX_LOCATIONS = 10
_JSON = re.compile(r"\{.*\}", re.DOTALL)
# Characters of the understanding prompt besides the file list and the issue: the rules and the
# example answer (about 700), with room to spare for the chat template.
FRAME_CHARS = 2000


def understand_messages(issue: str, paths: Sequence[str], max_chars: int) -> tuple[Message, ...]:
    """One user turn (the profile's understanding step has no system prompt): the rules, an example
    answer, the Python files one per line (as many as fit `max_chars`, in path order), the issue."""
    listed: list[str] = []
    used = 0
    for path in paths:  # best first: when the list must be cut, the ranked files stay
        line = f"- /{path}"
        if used + len(line) + 1 > max_chars:
            break
        listed.append(line)
        used += len(line) + 1
    user = (
        "You are a programming assistant. Given the files of a repository and an issue, name the files "
        "that must be modified to resolve the issue.\n"
        f"OUTPUT AT MOST {MAX_FILES} FILES that need to be modified, sorted by modification priority, "
        "as a JSON object, for example:\n"
        '{"files_to_modify": ["/src/base64.py", "/src/base64_test.py"]}\n\n'
        "# Now the workspace is:\n" + "\n".join(sorted(listed)) + "\n\n"
        f"User's question (issue):\n{issue_block(issue)}\n\n"
        "Response (according to the examples json_format):"
    )
    return (Message("user", user),)


def json_object(answer: str) -> dict[str, object] | None:
    """The JSON object an answer holds (a ```json fence and text around it allowed), or None."""
    match = _JSON.search(answer)
    if match is None:
        return None
    try:
        value = json.loads(match.group(0))
    except (ValueError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def files_answer(answer: str) -> list[str] | None:
    """The paths of a `{"files_to_modify": [...]}` answer without their leading `/`, or None when
    the answer is not one (the caller then reads it leniently)."""
    value = json_object(answer)
    files = value.get("files_to_modify") if value else None
    if not isinstance(files, list):
        return None
    return [f.strip().lstrip("/") for f in files if isinstance(f, str)]


def locations_answer(
    answer: str,
) -> tuple[list[tuple[str, str | None]], list[tuple[str, str]], list[str]] | None:
    """A `{"bug_locations": [...]}` answer as (path, qualified name or None) pairs, (path, code
    snippet) pairs and problems; None when the answer is not one."""
    value = json_object(answer)
    raw = value.get("bug_locations") if value else None
    if not isinstance(raw, list):
        return None
    named: list[tuple[str, str | None]] = []
    snippets: list[tuple[str, str]] = []
    problems: list[str] = []
    for item in raw[:MAX_LOCATIONS]:
        if not isinstance(item, dict) or not isinstance(item.get("file"), str):
            problems.append(f"`{str(item)[:120]}` names no file.")
            continue
        path = item["file"].strip().lstrip("/")
        parts = [
            str(item[k]).strip()
            for k in ("class", "method")
            if isinstance(item.get(k), str) and item[k].strip()
        ]
        snippet = item.get("code_snippets")
        if parts:
            named.append((path, ".".join(parts)))
        elif isinstance(snippet, str) and snippet.strip():
            snippets.append((path, snippet))
        else:
            named.append((path, None))
    return named, snippets, problems


def snippet_span(lines: Sequence[str], snippet: str) -> tuple[int, int] | None:
    """The 1-based span where `snippet`'s lines occur in `lines` (each compared stripped, as the
    profile's tools compare), the first place; None when they do not occur."""
    want = [line.strip() for line in snippet.strip("\n").split("\n") if line.strip()]
    if not want:
        return None
    have = [line.strip() for line in lines]
    for i in range(len(have)):
        j, k = i, 0
        while j < len(have) and k < len(want):
            if have[j]:
                if have[j] != want[k]:
                    break
                k += 1
            j += 1
        if k == len(want):
            return i + 1, j
    return None


def localize_final_example(example: str) -> str:
    """How the profile's localization prompt asks for the final locations."""
    return (
        "or give the final bug locations (at most "
        f"{MAX_LOCATIONS}) as JSON, a class, a method of a class, a function, or a global code snippet:\n"
        '<answer>\n{"bug_locations": [{"file": "' + example + '", "class": "Name", "method": "name"}, '
        '{"file": "' + example + '", "code_snippets": "x = 1"}]}\n</answer>\n'
    )


FORMAT = """Write a patch for the issue, based on the code retrieved. Return it in the format below:
within <file></file> put the file's path, within <original></original> the original code snippet
copied from the file, and within <patched></patched> the patched version of that snippet. The
original snippet must not be abbreviated (no `...`). Mind the indentation: the code is Python.
You can write several modifications if needed.

# modification 1
```python
<file>...</file>
<original>...</original>
<patched>...</patched>
```

# modification 2
```python
<file>...</file>
<original>...</original>
<patched>...</patched>
```"""


def patch_messages(
    issue: str, locations: Sequence[Location], context: str, gathered: str = ""
) -> tuple[Message, ...]:
    """The profile's patch prompt: the issue, the located code and what localization found, then
    the tagged-edit format."""
    where = "\n".join(f"- {loc.label()} (lines {loc.start}-{loc.end})" for loc in locations)
    found = f"What was found while localizing:\n{gathered}\n\n" if gathered else ""
    user = (
        f"{issue_block(issue)}\n\nThe bug locations:\n{where}\n\n{found}"
        f"Here is the code in the buggy locations:\n{context}\n\n{FORMAT}"
    )
    return (Message("system", SYSTEM), Message("user", user))
