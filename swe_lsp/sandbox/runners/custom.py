"""The user's own test command (`sandbox.test_command`), read with the parser of the runner it
invokes when that can be recognised (`pytest -x`, `python tests/runtests.py`, `bin/test`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from swe_lsp.sandbox.runners.base import TestRunner, TestStatus


@dataclass(frozen=True)
class CustomRunner(TestRunner):
    """`command` as configured. With `inner` (the runner it invokes) its output is parsed per test,
    and when `takes_selectors` the tests that `inner` selects are appended to it. A command that
    cannot take them (a shell line, tox, `make check`, `unittest discover`) always runs whole:
    `select` returns [] and the caller decides whether to run it for a change."""

    name: ClassVar[str] = "custom"
    reason: str
    command: tuple[str, ...]
    inner: TestRunner | None = None
    takes_selectors: bool = False

    @property
    def env(self) -> Mapping[str, str]:
        """What the invoked runner needs, if known."""
        return self.inner.env if self.inner else {}

    def argv(self, tests: Sequence[str] = ()) -> tuple[str, ...]:
        """The command, with `tests` appended as the invoked runner takes them when it can."""
        if not tests or not self.takes_selectors or self.inner is None:
            return self.command
        full, base = self.inner.argv(tests), self.inner.argv()
        extra = full[len(base) :] if full[: len(base)] == base else tuple(tests)
        return (*self.command, *extra)

    def select(self, tree: Path, changed: Sequence[str]) -> list[str]:
        """The invoked runner's selection, when the command takes selectors; else []."""
        if not self.takes_selectors or self.inner is None:
            return []
        return self.inner.select(tree, changed)

    def parse(self, output: str) -> dict[str, TestStatus]:
        """The invoked runner's parse; {} when it is not known (exit codes are compared then)."""
        return self.inner.parse(output) if self.inner else {}

    def selector(self, test_id: str) -> str:
        """The invoked runner's selector; raises ValueError when it is not known."""
        if self.inner is None:
            raise ValueError(f"cannot select single tests with {' '.join(self.command)!r}")
        return self.inner.selector(test_id)
