"""The paper's data filters (SWE-Reasoner, section 3.1), each a pure predicate with its reason.

- issue text at least 20 characters, at most 3 hyperlinks (issues that are mostly links or
  screenshots cannot be resolved from their text);
- the gold patch touches 1 to 5 code files that are not tests (larger changes are features, not
  fixes; test-only changes have nothing to learn);
- the environment builds: decided by the sandbox in `swe-train reject`, not here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import PurePosixPath

from swe_lsp.patch import Patch, PatchParseError
from trainer.instances import Instance

MIN_ISSUE_CHARS = 20
MAX_LINKS = 3
MIN_CODE_FILES, MAX_CODE_FILES = 1, 5
_LINK = re.compile(r"https?://|www\.", re.IGNORECASE)
CODE_SUFFIXES = frozenset(
    [
        ".py",
        ".pyx",
        ".pyi",
        ".c",
        ".h",
        ".cc",
        ".cpp",
        ".hpp",
        ".cxx",
        ".rs",
        ".go",
        ".java",
        ".kt",
        ".scala",
        ".js",
        ".jsx",
        ".ts",
        ".tsx",
        ".rb",
        ".php",
        ".cs",
        ".swift",
        ".m",
        ".mm",
        ".sh",
        ".pl",
        ".lua",
        ".r",
        ".jl",
        ".ex",
        ".exs",
        ".erl",
        ".hs",
        ".ml",
        ".clj",
        ".dart",
        ".vue",
        ".sql",
    ]
)
_TEST_DIRS = frozenset({"test", "tests", "testing", "__tests__", "spec", "specs"})


def count_links(text: str) -> int:
    """Hyperlinks in `text` (http, https or www. addresses)."""
    return len(_LINK.findall(text))


def is_test_path(path: str) -> bool:
    """Whether a path is a test file: under a test folder, or named like one (test_x.py, x_test.go,
    conftest.py, x.spec.ts)."""
    parts = PurePosixPath(path).parts
    if any(p.lower() in _TEST_DIRS for p in parts[:-1]):
        return True
    name = parts[-1].lower() if parts else ""
    stem = name.split(".", 1)[0]
    return (
        stem.startswith("test_")
        or stem.endswith(("_test", "_tests"))
        or name == "conftest.py"
        or (".spec." in name or ".test." in name)
    )


def is_code_path(path: str) -> bool:
    """Whether a path is source code (by suffix)."""
    return PurePosixPath(path).suffix.lower() in CODE_SUFFIXES


def patch_files(diff: str) -> tuple[str, ...]:
    """The files a unified diff changes; () when it is not a diff."""
    try:
        return Patch.parse(diff).files if diff.strip() else ()
    except PatchParseError:
        return ()


def code_files(diff: str) -> tuple[str, ...]:
    """The non-test code files a diff changes."""
    return tuple(p for p in patch_files(diff) if is_code_path(p) and not is_test_path(p))


def issue_length(inst: Instance) -> str:
    """'' when the issue text is long enough, else why not."""
    n = len(inst.problem_statement.strip())
    return "" if n >= MIN_ISSUE_CHARS else f"issue text has {n} characters (< {MIN_ISSUE_CHARS})"


def issue_links(inst: Instance) -> str:
    """'' when the issue has few enough hyperlinks, else why not."""
    n = count_links(inst.problem_statement)
    return "" if n <= MAX_LINKS else f"issue text has {n} hyperlinks (> {MAX_LINKS})"


def patch_size(inst: Instance) -> str:
    """'' when the gold patch touches 1 to 5 non-test code files, else why not."""
    n = len(code_files(inst.patch))
    if MIN_CODE_FILES <= n <= MAX_CODE_FILES:
        return ""
    return f"the patch touches {n} non-test code files (allowed {MIN_CODE_FILES}-{MAX_CODE_FILES})"


Filter = Callable[[Instance], str]
FILTERS: tuple[tuple[str, Filter], ...] = (
    ("issue_length", issue_length),
    ("issue_links", issue_links),
    ("patch_files", patch_size),
)


def apply_filters(
    instances: Sequence[Instance], filters: Sequence[tuple[str, Filter]] = FILTERS
) -> tuple[list[Instance], dict[str, dict[str, object]]]:
    """The instances every filter accepts, and per filter how many it saw and dropped (with the
    first few ids and reasons). An instance is counted against the first filter that drops it."""
    kept = []
    report: dict[str, dict[str, object]] = {
        name: {"seen": 0, "dropped": 0, "examples": []} for name, _ in filters
    }
    for inst in instances:
        for name, check in filters:
            entry = report[name]
            entry["seen"] = int(entry["seen"]) + 1  # type: ignore[call-overload]
            reason = check(inst)
            if reason:
                entry["dropped"] = int(entry["dropped"]) + 1  # type: ignore[call-overload]
                examples = entry["examples"]
                assert isinstance(examples, list)
                if len(examples) < 5:
                    examples.append({"instance_id": inst.instance_id, "reason": reason})
                break
        else:
            kept.append(inst)
    return kept, report
