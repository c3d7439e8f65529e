"""Running candidate patches' reproduction scripts and tests in isolation (docker, bwrap, local).

The search stage needs only what is exported here: `open_sandbox(settings)` for a `Sandbox`, its
sessions' `run` and `put_files`, `verify_candidate` for the usual sequence of runs (`run_script`
for a reproduction script alone on the original tree), and
`detect_runner` for how the workspace runs its tests (a `TestRunner`: its command, which tests
exercise a change, per-test results), `run_tests` and `compare` for judging a patch test by test.
The Docker SDK is imported lazily, so importing this package stays cheap for the LSP process.
"""

from swe_lsp.sandbox.base import Command, Sandbox, SandboxSession
from swe_lsp.sandbox.choose import open_sandbox
from swe_lsp.sandbox.errors import SandboxError, SandboxImageError, SandboxUnavailableError
from swe_lsp.sandbox.result import RunResult
from swe_lsp.sandbox.runners import (
    TestComparison,
    TestRun,
    TestRunner,
    TestStatus,
    compare,
    detect_runner,
    run_tests,
    select_tests,
)
from swe_lsp.sandbox.verify import CandidateRuns, run_program, run_script, verify_candidate

__all__ = [
    "CandidateRuns",
    "Command",
    "RunResult",
    "Sandbox",
    "SandboxError",
    "SandboxImageError",
    "SandboxSession",
    "SandboxUnavailableError",
    "TestComparison",
    "TestRun",
    "TestRunner",
    "TestStatus",
    "compare",
    "detect_runner",
    "open_sandbox",
    "run_program",
    "run_script",
    "run_tests",
    "select_tests",
    "verify_candidate",
]
