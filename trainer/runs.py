"""The sandbox runs rejection sampling and evaluation need, on an instance's codebase at its base
commit: the instance's tests with the gold patch (does the environment build?), a reproduction
script before and after the gold patch, and the instance's tests and a script with the model's patch.

All go through `swe_lsp.sandbox.verify_candidate`, the server's own verification path, so a
script that passes here passes there. The environment and the test command are the SWE-bench
harness's (`trainer.swebench_env`), and the tests are judged per test from their log as the
harness judges them, never by the exit code alone. Without a sandbox (`Runner(None, ...)`) nothing
runs and every sandbox check is reported as not checked.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from pathlib import Path

from swe_lsp.patch import Patch, PatchApplyError, PatchParseError
from swe_lsp.sandbox import RunResult, Sandbox, verify_candidate
from swe_lsp.sandbox.environment import EnvPlan
from trainer.instances import Instance
from trainer.swebench_env import Grade, grade, has_spec, plan_for, test_command

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


def pin_environment(sandbox: Sandbox | None, inst: Instance, tree: Path) -> EnvPlan | None:
    """Make every session of `tree` use the environment the SWE-bench harness's spec of `inst`
    describes (`swebench_env.plan_for`), when the sandbox kind takes a plan (Docker's does; a
    process-based one runs the host's Python) and the harness has a spec for its repository.
    Returns the plan pinned, or None."""
    pin = getattr(sandbox, "pin_plan", None)
    if pin is None or not has_spec(inst):
        return None
    plan = plan_for(inst, tree)
    pin(tree, plan)
    return plan


def graded(inst: Instance, run: RunResult | None) -> Grade | None:
    """The instance's tests in `run`, graded per test as the harness grades them (None: nothing
    ran). A run that timed out or was cancelled passes no test, as in the harness."""
    if run is None:
        return None
    if run.timed_out or run.cancelled:
        return grade(inst, "")
    return grade(inst, run.stdout + "\n" + run.stderr)


def all_tests_pass(inst: Instance, run: RunResult | None) -> bool:
    """Whether every FAIL_TO_PASS and PASS_TO_PASS test of `inst` passed in `run`."""
    verdict = graded(inst, run)
    return verdict is not None and verdict.resolved


def failed_summary(inst: Instance, run: RunResult | None) -> str:
    """Why `run` does not pass the instance's tests, in a few words (for reports)."""
    verdict = graded(inst, run)
    if run is None or verdict is None:
        return "the tests did not run"
    what = "timed out" if run.timed_out else f"exit {run.exit_code}"
    if run.truncated:  # the sandbox kept head and tail only: tests in between count as failed
        what += ", output cut: raise sandbox.max_output_bytes"
    shown = ", ".join(verdict.failed[:3]) + (" ..." if len(verdict.failed) > 3 else "")
    return f"{len(verdict.failed)} test(s) fail ({what}, {verdict.parsed} parsed): {shown}"


def _encode(texts: Texts) -> dict[str, bytes | None]:
    return {p: (t.encode() if t is not None else None) for p, t in texts.items()}


class Runner:
    """Runs an instance's checks in `sandbox` on `tree` (None: a runner that runs nothing), in the
    environment of the harness's spec where the sandbox takes one (`pin`), with the harness's
    test command (`swebench_env.test_command`); `all_tests_pass` grades what the tests printed."""

    def __init__(self, sandbox: Sandbox | None, timeout_s: float = 120.0) -> None:
        self.sandbox = sandbox
        self.timeout_s = timeout_s
        self.cancel = threading.Event()
        self._pinned: dict[Path, EnvPlan | None] = {}

    @property
    def enabled(self) -> bool:
        """Whether anything runs."""
        return self.sandbox is not None

    def pin(self, inst: Instance, tree: Path) -> EnvPlan | None:
        """`pin_environment` once per tree: every later run on `tree` (scripts included) uses it."""
        if tree not in self._pinned:
            self._pinned[tree] = pin_environment(self.sandbox, inst, tree)
        return self._pinned[tree]

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
        """The instance's tests with the gold patch and the test patch: they pass if it builds.
        None when there are no tests to run (or no sandbox)."""
        if self.sandbox is None:
            return None
        argv = test_command(inst)
        if not argv:
            return None
        self.pin(inst, tree)
        return self._run(tree, {**gold, **tests}, None, argv)[2]

    def script(self, tree: Path, script: str, gold: Texts) -> tuple[RunResult | None, RunResult | None]:
        """A reproduction script on the base commit, then with the gold patch (in the environment
        `pin` or `environment` set for `tree`)."""
        before, after, _ = self._run(tree, gold, script, ())
        return before, after

    def patch(
        self, tree: Path, inst: Instance, changed: Texts, tests: Texts, script: str | None
    ) -> tuple[RunResult | None, RunResult | None]:
        """A model patch (with the test patch): its script after, and the instance's tests."""
        if self.sandbox is None:
            return None, None
        self.pin(inst, tree)
        _, after, ran = self._run(tree, {**changed, **tests}, script, test_command(inst))
        return after, ran
