"""Repository understanding: the issue, the compressed tree and the retrieval hits in; a JSON list of
existing files out (at most the model's `limits.max_files`).

The answer is constrained to the allowed paths (the model's `limits.file_choices`: every source file
for a strong model, the top retrieval hits for the tiny one), so the model cannot name a file that
does not exist; the prompt lists the best-ranked of them with why they were ranked.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from swe_lsp.llm import Message
from swe_lsp.search.prompts.common import SYSTEM, issue_block, regex_alternatives
from swe_lsp.search.turns import constrained


def understand_messages(
    issue: str, tree: str, candidates: Sequence[tuple[str, str]], max_files: int, any_file: bool = False
) -> tuple[Message, ...]:
    """The prompt: `candidates` are (path, why retrieval ranked it) pairs, best first; `any_file`
    says that other source files of the repository may be named too."""
    ranked = "\n".join(f"{n}. {path}  ({why})" for n, (path, why) in enumerate(candidates, 1))
    where = (
        "paths of the repository's source files (the ranked list first)"
        if any_file
        else "paths taken from the ranked list"
    )
    user = (
        f"{issue_block(issue)}\n\n"
        f"Repository structure:\n{tree}\n\n"
        f"Files ranked most relevant to the issue by a search:\n{ranked}\n\n"
        f"Which files must be read to resolve the issue? Answer with a JSON list of 1 to {max_files} "
        f"{where}, most important first, for example:\n"
        f'<answer>["{candidates[0][0] if candidates else "pkg/module.py"}"]</answer>'
    )
    return (Message("system", SYSTEM), Message("user", user))


def understand_regex(paths: Sequence[str], max_files: int) -> str:
    """The constrained form of a whole turn: an optional think block, then a JSON list of paths."""
    item = '"' + regex_alternatives(list(paths)) + '"'
    return constrained(r"\[ ?" + item + r"(, ?" + item + r"){0," + str(max_files - 1) + r"} ?\]")


def parse_file_answer(answer: str, allowed: Sequence[str], max_files: int) -> tuple[tuple[str, ...], str]:
    """The files an answer names, in order, deduplicated, at most `max_files`, each in `allowed`;
    with a reason when none is usable (then the candidate is rejected). Never raises."""
    allowed_set = set(allowed)
    start, end = answer.find("["), answer.rfind("]")
    names: list[str] = []
    if start >= 0 and end > start:
        try:
            value = json.loads(answer[start : end + 1])
        except (ValueError, RecursionError):
            value = None
        if isinstance(value, list):
            names = [v.strip() for v in value if isinstance(v, str)]
    if not names:  # a model that ignored the format: any allowed path mentioned counts
        names = [p for p in allowed if p in answer]
    files = tuple(dict.fromkeys(n.removeprefix("./") for n in names if n.removeprefix("./") in allowed_set))
    if not files:
        return (), "the answer names no file from the list"
    return files[:max_files], ""
