"""A key under which patches that differ only in formatting are equal, to verify each idea once.

Sampling n patches often gives the same fix several times, spaced or wrapped differently; running the
sandbox on each would spend the verification budget on copies. For Python files the key is the
`ast.dump` of the new module (layout, comments and redundant parentheses do not count); for anything
else, or Python that does not parse, it is the text with whitespace runs collapsed and blank lines
dropped.
"""

from __future__ import annotations

import ast
import hashlib
from collections.abc import Mapping

from swe_lsp.patch.diff import Patch
from swe_lsp.patch.text import is_python_path


def normalized_source(path: str, text: str | None) -> str:
    """A formatting-free form of one file's text; `<absent>` for a file that does not exist."""
    if text is None:
        return "<absent>"
    if is_python_path(path):
        try:
            return "ast:" + ast.dump(ast.parse(text))
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            pass  # compared as text below: a patch that breaks syntax is still deduplicated
    lines = (" ".join(line.split()) for line in text.split("\n"))
    return "text:" + "\n".join(line for line in lines if line)


def dedup_key(
    new_texts: Mapping[str, str | None], original_texts: Mapping[str, str | None] | None = None
) -> str:
    """A hex digest equal for two patches whose changed files are the same up to formatting.

    `new_texts` are the changed files' new texts (None: deleted). With `original_texts`, a file whose
    new text is only a reformatting of the original is left out, as if the patch had not touched it.
    """
    digest = hashlib.sha256()
    for path in sorted(new_texts):
        normalized = normalized_source(path, new_texts[path])
        if original_texts is not None and normalized == normalized_source(path, original_texts.get(path)):
            continue
        for part in (path, normalized):
            encoded = part.encode("utf-8", "surrogatepass")
            digest.update(len(encoded).to_bytes(8, "big") + encoded)
    return digest.hexdigest()


def patch_dedup_key(patch: Patch, original_texts: Mapping[str, str | None]) -> str:
    """`dedup_key` of a patch given as a diff: applies it to `original_texts` first.

    Raises `PatchApplyError` if the diff does not apply to them.
    """
    return dedup_key(patch.apply(original_texts), original_texts)
