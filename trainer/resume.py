"""Append-only result files a step resumes from: each finished unit of work (an instance, or an
instance at one budget) is one JSON line, appended and flushed the moment it finishes, so an
interrupted run (a killed driver, a lost Ray cluster) keeps everything done before it and a rerun
only does what is missing. The sequential path and the Ray fan-out write the same file the same
way, and the step's report is computed from it, so both end in the same files.

A line cut short by a crash mid-write is the only damage an append can leave: it is dropped (and
the file rewritten without it) when the file is opened again; its unit is simply done again. A line
that does not parse anywhere else is a `DataError`: that file was edited, not interrupted.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Iterable, Mapping
from pathlib import Path
from typing import Any

from trainer.instances import DataError, write_jsonl

Key = Callable[[Mapping[str, Any]], Hashable]


class ResultLog:
    """The rows of `path` by `key` (a later row of the same key replaces an earlier one), with
    `add` appending new ones. Opening it creates nothing; the first `add` creates the file."""

    def __init__(self, path: Path, key: Key) -> None:
        self.path = path
        self.key = key
        self._rows: dict[Hashable, dict[str, Any]] = {}
        if path.is_file():
            self._load()

    def _load(self) -> None:
        lines = self.path.read_text(encoding="utf-8").splitlines()
        torn = False
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError:
                if number == len(lines):  # the last append was cut short: redo that unit
                    torn = True
                    continue
                why = "not JSON (edited by hand?): delete the line"
                raise DataError(f"{self.path}:{number}: {why}") from None
            if not isinstance(row, dict):
                raise DataError(f"{self.path}:{number}: expected a JSON object")
            self._rows[self.key(row)] = row
        if torn:
            write_jsonl(self.path, self._rows.values())

    def __contains__(self, key: Hashable) -> bool:
        return key in self._rows

    def rows(self) -> list[dict[str, Any]]:
        """Every row, in the order their keys were first written."""
        return list(self._rows.values())

    def get(self, key: Hashable) -> dict[str, Any] | None:
        """The row of `key`, or None."""
        return self._rows.get(key)

    def add(self, rows: Iterable[Mapping[str, Any]]) -> None:
        """Append `rows` and flush them to the file before returning."""
        rows = [dict(r) for r in rows]
        if not rows:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as fh:
            for row in rows:
                fh.write(json.dumps(row, ensure_ascii=False, default=str) + "\n")
            fh.flush()
        for row in rows:
            self._rows[self.key(row)] = row

    def rewrite(self, order: Callable[[Mapping[str, Any]], Any]) -> None:
        """Write the rows back sorted by `order` (atomically), so the finished file does not depend
        on the order the units happened to finish in."""
        rows = sorted(self._rows.values(), key=order)
        write_jsonl(self.path, rows)
        self._rows = {self.key(r): r for r in rows}
