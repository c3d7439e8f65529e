"""What an environment check found, as data, text and JSON: the description of a workspace's
sandbox environment (`swe-lsp sandbox env`), and a check's build and per-test results
(`swe-lsp sandbox test`, the editors' `swe-lsp.checkEnvironment`). `env_check` makes them.

The JSON (`to_json`, camelCase) is one shape for `--json` and the editors; `text` in it is the
report as plain lines, for an output channel or a scratch buffer.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from swe_lsp.sandbox.environment import EnvPlan
from swe_lsp.sandbox.runners import TestStatus


@dataclass(frozen=True)
class RunnerChoice:
    """The test runner the sandbox would use, and why."""

    name: str
    reason: str
    command: tuple[str, ...]


@dataclass(frozen=True)
class EnvDescription:
    """What the sandbox makes of a workspace: the settings' sandbox kind, the environment plan
    (Python, dependency files, build steps), the test runner, and whether the environment image
    and its base image are already built (None when Docker was not asked or does not answer:
    `docker_problem` says why)."""

    workspace: Path
    kind: str
    plan: EnvPlan
    runner: RunnerChoice
    image_cached: bool | None
    docker_problem: str | None
    base_cached: bool | None = None

    def lines(self) -> list[str]:
        """The description for a terminal or an editor's output channel."""
        plan = self.plan
        lines = [
            f"workspace:    {self.workspace}",
            f"sandbox:      {self.kind} (sandbox.kind)",
            f"python:       {plan.python.describe()}",
            f"dependencies: {', '.join(plan.sources) or '(no dependency files)'}",
            "install steps:",
            *(f"  {i}. {s.name}: {s.command}\n     why: {s.why}" for i, s in enumerate(plan.steps, 1)),
            f"test runner:  {self.runner.name}: {' '.join(self.runner.command) or '(nothing to run)'}",
            f"  because:    {self.runner.reason}",
            f"image:        {plan.tag} (from {plan.base_image}): {self._cached_text()}",
        ]
        notes = list(plan.notes)
        if self.kind in ("bwrap", "local"):
            notes.append(
                f"sandbox.kind is {self.kind}: the tests run with the host's Python and packages; "
                "this environment is what Docker would build"
            )
        return lines + [f"note: {note}" for note in notes]

    def _cached_text(self) -> str:
        if self.image_cached is None:
            return f"unknown ({self.docker_problem or 'Docker not asked'})"
        if self.image_cached:
            return "cached"
        if self.base_cached is False:
            return (
                f"not built yet, nor is {self.plan.base_image} (the first verification "
                "bootstraps it from Debian, then builds the environment)"
            )
        return "not built yet (the first verification builds it)"

    def to_json(self) -> dict[str, Any]:
        """The JSON shape shared by `--json` and the editors."""
        plan = self.plan
        return {
            "workspace": str(self.workspace),
            "kind": self.kind,
            "python": {
                "chosen": plan.python.chosen,
                "source": plan.python.source,
                "wanted": plan.python.wanted,
                "note": plan.python.note or None,
                "text": plan.python.describe(),
            },
            "sources": list(plan.sources),
            "steps": [
                {"name": s.name, "command": s.command, "why": s.why, "optional": s.optional}
                for s in plan.steps
            ],
            "notes": list(plan.notes),
            "network": plan.network,
            "runner": {
                "name": self.runner.name,
                "reason": self.runner.reason,
                "command": list(self.runner.command),
            },
            "image": {
                "tag": plan.tag,
                "base": plan.base_image,
                "cached": self.image_cached,
                "baseCached": self.base_cached,
                "dockerProblem": self.docker_problem,
            },
            "text": "\n".join(self.lines()),
        }


@dataclass(frozen=True)
class BuildFailure:
    """An environment that did not build: the failing step and the end of its log."""

    step: str
    tail: str
    message: str


@dataclass(frozen=True)
class TestResults:
    """The project's tests in the sandbox: the command, how it ended, and each test's status
    (`parsed` is False when the runner's output could not be read per test: then only the exit
    status says anything)."""

    __test__ = False  # not a pytest test class, despite the name

    command: tuple[str, ...]
    statuses: Mapping[str, str]
    exit_code: int | None
    timed_out: bool
    cancelled: bool
    duration_s: float
    parsed: bool
    output_tail: str

    def counts(self) -> dict[str, int]:
        """How many tests ended in each status, every status listed."""
        counts = {status.value: 0 for status in TestStatus}
        for status in self.statuses.values():
            counts[status] = counts.get(status, 0) + 1
        return counts

    @property
    def ok(self) -> bool:
        """It ran to its end with exit status 0, and no test failed or errored."""
        finished = not self.timed_out and not self.cancelled and self.exit_code == 0
        return finished and not any(TestStatus(s).bad for s in self.statuses.values())

    def summary(self) -> str:
        """`12 passed, 1 failed, 2 skipped in 3.4 s`, or how the run ended."""
        if self.cancelled:
            return "cancelled"
        if self.timed_out:
            return f"timed out after {self.duration_s:.0f} s"
        counts = ", ".join(f"{n} {status}" for status, n in self.counts().items() if n)
        if not self.parsed:
            counts = f"output not parsed per test; exit status {self.exit_code}"
        return f"{counts or 'no tests ran'} in {self.duration_s:.1f} s"

    def to_json(self) -> dict[str, Any]:
        """The JSON shape of `EnvCheck.to_json`'s `tests`."""
        return {
            "command": list(self.command),
            "exitCode": self.exit_code,
            "timedOut": self.timed_out,
            "cancelled": self.cancelled,
            "seconds": round(self.duration_s, 3),
            "parsed": self.parsed,
            "results": [{"id": test, "status": status} for test, status in self.statuses.items()],
            "counts": self.counts(),
            "summary": self.summary(),
            "outputTail": self.output_tail,
        }


@dataclass(frozen=True)
class EnvCheck:
    """The environment built (or reused) and the tests run in it: `build_error` when it did not
    build, `tests` None when they did not run (a failed build, a cancellation before them, or no
    tests to run: `no_tests` says why)."""

    description: EnvDescription
    sandbox: str
    image: str | None
    built: bool
    build_s: float
    build_error: BuildFailure | None
    tests: TestResults | None
    cancelled: bool = False
    no_tests: str | None = None

    @property
    def ok(self) -> bool:
        """The environment is there and the tests ran without failures."""
        return self.build_error is None and self.tests is not None and self.tests.ok

    def summary(self) -> str:
        """One line: what happened to the environment and to the tests."""
        if self.build_error is not None:
            return f"the environment did not build (step '{self.build_error.step}')"
        env = f"environment {'built' if self.built else 'reused'}" if self.image else self.sandbox
        if self.tests is not None:
            return f"{env}; tests: {self.tests.summary()}"
        if self.cancelled:
            return f"{env}; cancelled before the tests" if env else "cancelled"
        return f"{env}; no tests to run ({self.no_tests})" if self.no_tests else env

    def lines(self) -> list[str]:
        """The whole report as plain text (the editors' output): the environment, the build, each
        test's status, the counts."""
        lines = [*self.description.lines(), f"sandbox used: {self.sandbox}"]
        if self.build_error is not None:
            return [*lines, "", self.build_error.message]
        if self.image:
            lines.append(
                f"environment:  {self.image} ({'built' if self.built else 'reused'}, {self.build_s:.0f} s)"
            )
        tests = self.tests
        if tests is None:
            return [*lines, "", self.summary()]
        lines += ["", f"tests: {' '.join(tests.command)}"]
        width = min(max((len(t) for t in tests.statuses), default=0), 100)
        lines += [f"  {test:<{width}}  {status}" for test, status in tests.statuses.items()]
        if not tests.parsed or not tests.ok:
            lines += ["last lines of the output:", tests.output_tail]
        return [*lines, "", self.summary()]

    def to_json(self) -> dict[str, Any]:
        """The description's JSON plus `sandbox`, `build`, `tests`, `ok`, `summary` and `text`."""
        error = self.build_error
        return {
            **self.description.to_json(),
            "sandbox": self.sandbox,
            "build": {
                "image": self.image,
                "built": self.built,
                "seconds": round(self.build_s, 3),
                "error": None if error is None else dataclasses.asdict(error),
            },
            "tests": None if self.tests is None else self.tests.to_json(),
            "cancelled": self.cancelled,
            "noTests": self.no_tests,
            "ok": self.ok,
            "summary": self.summary(),
            "text": "\n".join(self.lines()),
        }
