"""What the sandbox makes of a project, and a trial run of its tests there: the data behind
`swe-lsp sandbox env`, `swe-lsp sandbox test` and the editors' `swe-lsp.checkEnvironment`, so a
user learns before a job whether candidates can be verified in their project.

`describe_environment` reads files only (plus one question to the Docker engine: is the image
cached?). `check_environment` builds the environment (or reuses it), opens a session of the
sandbox the settings name, runs the project's tests with its own runner and parses them per test.
A failed build is part of the result (the step and the end of its log), not an exception: the
caller shows it like any other outcome. The results (`env_report`) have one JSON shape, printed
by `--json` and returned to the editors.
"""

from __future__ import annotations

import dataclasses
import re
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from swe_lsp.sandbox.env_report import BuildFailure, EnvCheck, EnvDescription, RunnerChoice, TestResults
from swe_lsp.sandbox.environment import EnvPlan, plan_environment
from swe_lsp.sandbox.runners import TestRunner, detect_runner, run_tests
from swe_lsp.settings import SandboxSettings

OnLine = Callable[[str], None]
# Lines of the test run's output kept in the result: enough for a collection error's traceback.
OUTPUT_TAIL_LINES = 40
# The line `check_environment` says before the tests, and the build's step lines (env_layer's).
TESTS_LINE = "running the tests: "
_STEP_LINE = re.compile(r"^environment step (\d+)/(\d+): ")
# Of a progress bar over a check: the build takes this much, the tests the rest.
BUILD_SHARE = 0.8


def phase_fraction(line: str) -> float | None:
    """How far a check is when it says `line`: a build step's start, or the tests' start; None
    for any other line (a bar then stays where it is)."""
    step = _STEP_LINE.match(line)
    if step:
        return BUILD_SHARE * (int(step[1]) - 1) / max(int(step[2]), 1)
    return BUILD_SHARE if line.startswith(TESTS_LINE) else None


def describe_environment(tree: Path, settings: SandboxSettings, ask_docker: bool = True) -> EnvDescription:
    """What the sandbox makes of `tree` under `settings`; with `ask_docker`, whether its image is
    already built (a ping and one image lookup, up to 10 s when the engine hangs)."""
    tree = tree.resolve()
    plan = plan_environment(tree, settings.python, settings.system_packages, settings.build_network)
    runner = detect_runner(tree, settings.test_command)
    choice = RunnerChoice(runner.name, runner.reason, tuple(runner.argv()) if runner.found else ())
    cached, base, problem = (None, None, "Docker not asked")
    if ask_docker:
        cached, base, problem = _cached(plan, settings.image)
    return EnvDescription(tree, settings.kind, plan, choice, cached, problem, base)


def _cached(plan: EnvPlan, base: str | None) -> tuple[bool | None, bool | None, str | None]:
    """Whether the plan's image (on `base`, the `sandbox.image` setting, if set) and its base image
    are built; or why Docker cannot say."""
    from swe_lsp.sandbox.base_image import base_image_present
    from swe_lsp.sandbox.docker_engine import connect
    from swe_lsp.sandbox.env_layer import image_cached
    from swe_lsp.sandbox.errors import SandboxUnavailableError

    try:
        client = connect(timeout_s=10)
    except SandboxUnavailableError as exc:
        return None, None, str(exc)
    try:
        return image_cached(client, plan, base), base_image_present(client, base or plan.base_image), None
    finally:
        client.close()


def check_environment(
    tree: Path,
    settings: SandboxSettings,
    tests: Sequence[str] = (),
    on_line: OnLine | None = None,
    cancel: threading.Event | None = None,
    timeout_s: float | None = None,
    description: EnvDescription | None = None,
) -> EnvCheck:
    """Build (or reuse) `tree`'s environment in the sandbox `settings` name, then run `tests` (all
    of the project's tests when empty) with its runner. `on_line` gets the build's log lines and a
    line per phase; `description` is this tree's, when the caller has it already. `cancel` stops
    the build (its container is removed, nothing is cached) or the tests, whichever runs.
    Raises only when no sandbox can run (`SandboxUnavailableError`,
    `SandboxImageError` for a missing base image)."""
    from swe_lsp.sandbox.choose import open_sandbox
    from swe_lsp.sandbox.docker_sandbox import DockerSandbox
    from swe_lsp.sandbox.env_layer import BuildCancelled, EnvironmentBuildError

    say = on_line or (lambda _line: None)
    tree = tree.resolve()
    description = description or describe_environment(tree, settings)
    lines = 0

    def build_line(line: str) -> None:
        nonlocal lines
        lines += 1
        say(line)

    with open_sandbox(settings) as sandbox:
        image, start = None, time.monotonic()
        if isinstance(sandbox, DockerSandbox):
            sandbox.on_build_line = build_line
            say(f"environment: {description.plan.python.describe()}")
            try:
                image = sandbox.image_for(tree, cancel)
            except BuildCancelled:
                return cancelled_check(description)
            except EnvironmentBuildError as exc:
                failure = BuildFailure(exc.step, exc.tail, str(exc))
                return EnvCheck(description, sandbox.describe(), None, True, _since(start), failure, None)
        build_s, built = _since(start), lines > 0
        done = EnvCheck(description, sandbox.describe(), image, built, build_s, None, None)
        if cancel is not None and cancel.is_set():
            return dataclasses.replace(done, cancelled=True)
        runner = detect_runner(tree, settings.test_command)
        if not runner.found:
            return dataclasses.replace(done, no_tests=runner.reason)
        selectors = [_selector(runner, test) for test in tests]
        command = tuple(runner.argv(selectors))
        say(TESTS_LINE + " ".join(command))
        with sandbox.session(tree) as session:
            run = run_tests(session, runner, selectors, timeout_s or settings.timeout_s, cancel)
        result = run.result
        output = "\n".join(
            (result.stdout.rstrip() + "\n" + result.stderr.rstrip()).strip().splitlines()[-OUTPUT_TAIL_LINES:]
        )
        ran = TestResults(
            command,
            {test: status.value for test, status in run.statuses.items()},
            result.exit_code,
            result.timed_out,
            result.cancelled,
            result.duration_s,
            run.parsed,
            output,
        )
        return dataclasses.replace(done, tests=ran, cancelled=result.cancelled)


def cancelled_check(description: EnvDescription) -> EnvCheck:
    """The result of a check cancelled before it had one (a build it started is stopped)."""
    return EnvCheck(description, "", None, False, 0.0, None, None, cancelled=True)


def _selector(runner: TestRunner, test: str) -> str:
    """A test id as the runner reports it (or as SWE-bench lists it) as the runner's selector; a
    selector given as such is kept."""
    try:
        return runner.selector(test)
    except ValueError:
        return test


def _since(start: float) -> float:
    return time.monotonic() - start
