"""The runs that verify one candidate patch: reproduction before, regression tests, reproduction after.

All in one session, so the tree is copied once: the script runs on the original tree (it should
fail: it reproduces the issue), the candidate's files are written (and a setuptools project's
extensions built again when it changed their sources: a build that fails is the candidate's
failure), the tests that exercise the changed files run, and then the script again (it should
pass). The tests run before the script's second run because a script may write into the tree (a
reproduction written from tests puts its test files in place): the regression run must see the
repository's tests and the patch, nothing else. The search stage validates its script once per
issue (`run_script` on the original tree) and then asks for the after-run only
(`repro_before=False`); the trainer's gold check still runs both. The search stage judges and
records the outcome; this module only runs and reports.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from swe_lsp.sandbox.base import Sandbox
from swe_lsp.sandbox.environment import rebuild_for
from swe_lsp.sandbox.result import RunResult

# Where the reproduction script is written in the copy: a dot folder, which pytest does not collect.
REPRO_PATH = ".swe_lsp/repro.py"


@dataclass(frozen=True)
class CandidateRuns:
    """What ran for one candidate: each None when it was not run (no script, no tests, stopped).

    Raw runs only, no verdict: whether a script reproduces (it must say `ISSUE REPRODUCED`, not
    merely fail) or a patch is verified is read in one place, `swe_lsp.search.verification`
    (`reproduced`, `resolved`, `judge`), for the search and the trainer alike."""

    repro_before: RunResult | None
    repro_after: RunResult | None
    tests: RunResult | None

    @property
    def sandbox_seconds(self) -> float:
        """Time spent in commands, for the job's report."""
        return sum(r.duration_s for r in (self.repro_before, self.repro_after, self.tests) if r)


def verify_candidate(
    sandbox: Sandbox,
    tree: Path,
    changed: Mapping[str, bytes | None],
    repro_script: str | None,
    test_argv: Sequence[str],
    timeout_s: float | None = None,
    cancel: threading.Event | None = None,
    job_id: str | None = None,
    *,
    repro_before: bool = True,
    test_env: Mapping[str, str] | None = None,
) -> CandidateRuns:
    """Run the reproduction script, write `changed`, run `test_argv`, run the script again.

    `tree` is the original snapshot; `changed` maps relative paths to their patched content (None:
    deleted). `test_argv` is the full test command (a runner's `argv` of its selected tests), run
    with `test_env` (the runner's `env`). `repro_before=False` skips the script's run on the
    original tree (its result is already known); the search always passes it, so that nothing the
    script writes reaches the tests.
    """
    before = after = tests = None
    with sandbox.session(tree, job_id=job_id) as session:
        if repro_script is not None:
            session.put_files({REPRO_PATH: repro_script.encode()})
            if repro_before:
                before = session.run(["python3", REPRO_PATH], timeout_s, cancel=cancel)
        if not (before and before.cancelled):
            session.put_files(changed)
            rebuild = rebuild_for(tree, changed)
            if rebuild is not None:
                built = session.run(list(rebuild.argv), timeout_s, env=rebuild.env, cancel=cancel)
                if not built.ok:  # in the tests' place, saying why nothing else ran
                    why = f"the candidate's extensions do not build ({' '.join(rebuild.argv)}):\n"
                    return CandidateRuns(before, None, replace(built, stderr=why + built.stderr))
            if test_argv:
                tests = session.run(list(test_argv), timeout_s, env=test_env, cancel=cancel)
            if repro_script is not None and not (tests and tests.cancelled):
                after = session.run(["python3", REPRO_PATH], timeout_s, cancel=cancel)
    return CandidateRuns(before, after, tests)


def run_script(
    sandbox: Sandbox,
    tree: Path,
    script: str,
    timeout_s: float | None = None,
    cancel: threading.Event | None = None,
    job_id: str | None = None,
) -> RunResult:
    """Run a reproduction script on the original `tree` (nothing else written), as
    `verify_candidate` runs it: same path, same interpreter."""
    files = {REPRO_PATH: script.encode()}
    return run_program(sandbox, tree, files, ["python3", REPRO_PATH], timeout_s, cancel, job_id)


def run_program(
    sandbox: Sandbox,
    tree: Path,
    files: Mapping[str, bytes],
    argv: Sequence[str],
    timeout_s: float | None = None,
    cancel: threading.Event | None = None,
    job_id: str | None = None,
) -> RunResult:
    """Run `argv` on the original `tree` with `files` written into its copy (a program and its
    input), in a session of its own."""
    with sandbox.session(tree, job_id=job_id) as session:
        session.put_files(dict(files))
        return session.run(list(argv), timeout_s, cancel=cancel)
