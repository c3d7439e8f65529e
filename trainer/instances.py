"""The instances every step reads: `<issue, pull request, codebase>` triples in SWE-bench format.

One JSON object per line, the SWE-bench fields plus where the codebase lives::

    instance_id        str        unique id, e.g. "psf__requests-2317"
    repo               str        "owner/name" (SWE-bench) or a label for a local repository
    base_commit        str        the commit the issue was raised against (the PR's parent)
    problem_statement  str        the issue text
    patch              str        the gold patch, code files only (unified diff)
    test_patch         str        the PR's changes to test files ("" when none)
    FAIL_TO_PASS       list[str]  tests the fix must make pass ([] when unknown)
    PASS_TO_PASS       list[str]  tests that must keep passing ([] when unknown)
    git_dir            str?       a local git dir holding base_commit (null: look in the mirrors)
    version            str?       the repository's version (SWE-bench's; picks the harness's spec)

SWE-bench files store the two test lists as JSON strings; both forms are read.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from swe_lsp.errors import SweLspError


class DataError(SweLspError):
    """An input file the trainer cannot read; the message names the file and the line."""


@dataclass(frozen=True)
class Instance:
    """One issue with its gold fix and the codebase it applies to (see the module docstring)."""

    instance_id: str
    repo: str
    base_commit: str
    problem_statement: str
    patch: str
    test_patch: str = ""
    FAIL_TO_PASS: tuple[str, ...] = ()
    PASS_TO_PASS: tuple[str, ...] = ()
    git_dir: str | None = None
    version: str = ""

    @staticmethod
    def from_json(data: Mapping[str, Any]) -> Instance:
        """An instance from a SWE-bench row (test lists as lists or JSON strings)."""
        missing = [
            k for k in ("instance_id", "repo", "base_commit", "problem_statement", "patch") if k not in data
        ]
        if missing:
            raise KeyError(", ".join(missing))
        return Instance(
            instance_id=str(data["instance_id"]),
            repo=str(data["repo"]),
            base_commit=str(data["base_commit"]),
            problem_statement=str(data["problem_statement"]),
            patch=str(data["patch"]),
            test_patch=str(data.get("test_patch") or ""),
            FAIL_TO_PASS=_tests(data.get("FAIL_TO_PASS")),
            PASS_TO_PASS=_tests(data.get("PASS_TO_PASS")),
            git_dir=data.get("git_dir"),
            version=str(data.get("version") or ""),
        )

    def to_json(self) -> dict[str, Any]:
        """The instance as one JSON-ready dict (test lists as lists)."""
        out = asdict(self)
        out["FAIL_TO_PASS"], out["PASS_TO_PASS"] = list(self.FAIL_TO_PASS), list(self.PASS_TO_PASS)
        return out


def _tests(value: Any) -> tuple[str, ...]:
    if value in (None, ""):
        return ()
    if isinstance(value, str):
        value = json.loads(value)
    return tuple(str(v) for v in value)


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    """The JSON objects of a JSONL file, one per non-empty line; a bad line is a `DataError`."""
    if not path.is_file():
        raise DataError(f"{path}: no such file")
    with path.open(encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except ValueError as exc:
                raise DataError(f"{path}:{number}: not JSON: {exc}") from None
            if not isinstance(value, dict):
                raise DataError(f"{path}:{number}: expected a JSON object")
            yield value


def write_jsonl(path: Path, rows: Iterable[Mapping[str, Any]]) -> int:
    """Write `rows` to `path` as JSONL (through a temporary file, so a reader never sees half of
    it); returns how many rows were written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    count = 0
    with tmp.open("w", encoding="utf-8") as fh:
        for row in rows:
            fh.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
            count += 1
    tmp.replace(path)
    return count


def read_instances(path: Path) -> list[Instance]:
    """The instances of a JSONL file."""
    out = []
    for number, row in enumerate(read_jsonl(path), 1):
        try:
            out.append(Instance.from_json(row))
        except (KeyError, ValueError, TypeError) as exc:
            raise DataError(f"{path}: row {number}: missing or invalid field(s): {exc}") from None
    return out
