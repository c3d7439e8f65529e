"""The sandbox runs rejection sampling needs, on an instance's codebase at its base commit:
the instance's tests with the gold patch (does the environment build?), a reproduction script
before and after the gold patch, and the instance's tests and a script with the model's patch.

All go through `swe_lsp.sandbox.verify_candidate`, the server's own verification path, so a
script that passes here passes there. Without a sandbox (`Runner(None, ...)`) nothing runs and
every sandbox check is reported as not checked.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path

from swe_lsp.patch import Patch, PatchApplyError, PatchParseError
from swe_lsp.sandbox import RunResult, Sandbox, verify_candidate
from trainer.instances import Instance

Texts = Mapping[str, str | None]


def patched_texts(diff: str, read_base: Callable[[str], str | None]) -> dict[str, str | None] | None:
    """The files a diff changes, as it leaves them (None: deleted); None when it does not apply."""
    if not diff.strip():
        return None
    try:
        patch = Patch.parse(diff)
        return patch.apply({p: read_base(p) for p in patch.files})
    except (PatchParseError, PatchApplyError):
        return None


def pytest_ids(tests: Iterable[str]) -> tuple[str, ...]:
    """Test ids pytest can select, in order, without repeats. SWE-bench's log parser splits on
    whitespace, so a parametrized id with a space in its parameters is stored cut, e.g.
    `tests/test_cli.py::test_locate_app[cliapp.factory-create_app2("foo",`; pytest rejects such an
    id (and then runs nothing), so it is widened to its test function, all parameters included."""
    out = []
    for test in tests:
        if "[" in test and not test.endswith("]"):
            test = test.split("[", 1)[0]
        if test not in out:
            out.append(test)
    return tuple(out)


def test_argv(inst: Instance) -> tuple[str, ...]:
    """The instance's own tests (FAIL_TO_PASS and PASS_TO_PASS, as pytest ids); () when none."""
    tests = pytest_ids((*inst.FAIL_TO_PASS, *inst.PASS_TO_PASS))
    return ("python3", "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests) if tests else ()


def _encode(texts: Texts) -> dict[str, bytes | None]:
    return {p: (t.encode() if t is not None else None) for p, t in texts.items()}


class Runner:
    """Runs an instance's checks in `sandbox` on `tree` (None: a runner that runs nothing)."""

    def __init__(self, sandbox: Sandbox | None, timeout_s: float = 120.0) -> None:
        self.sandbox = sandbox
        self.timeout_s = timeout_s
        self.cancel = threading.Event()

    @property
    def enabled(self) -> bool:
        """Whether anything runs."""
        return self.sandbox is not None

    def _run(
        self, tree: Path, changed: Texts, script: str | None, argv: tuple[str, ...]
    ) -> tuple[RunResult | None, RunResult | None, RunResult | None]:
        if self.sandbox is None:
            return None, None, None
        runs = verify_candidate(
            self.sandbox, tree, _encode(changed), script, argv, self.timeout_s, self.cancel
        )
        return runs.repro_before, runs.repro_after, runs.tests

    def environment(self, tree: Path, inst: Instance, gold: Texts, tests: Texts) -> RunResult | None:
        """The instance's tests with the gold patch and the test patch: they pass if it builds."""
        argv = test_argv(inst)
        return self._run(tree, {**gold, **tests}, None, argv)[2] if argv else None

    def script(self, tree: Path, script: str, gold: Texts) -> tuple[RunResult | None, RunResult | None]:
        """A reproduction script on the base commit, then with the gold patch."""
        before, after, _ = self._run(tree, gold, script, ())
        return before, after

    def patch(
        self, tree: Path, inst: Instance, changed: Texts, tests: Texts, script: str | None
    ) -> tuple[RunResult | None, RunResult | None]:
        """A model patch (with the test patch): its script after, and the instance's tests."""
        _, after, ran = self._run(tree, {**changed, **tests}, script, test_argv(inst))
        return after, ran
