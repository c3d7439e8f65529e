"""Running candidate patches' reproduction scripts and tests in isolation (docker, bwrap, local).

The search stage needs only what is exported here: `open_sandbox(settings)` for a `Sandbox`, its
sessions' `run` and `put_files`, `verify_candidate` for the usual sequence of runs, and
`detect_test_command` / `select_tests` for what to run. The Docker SDK is imported lazily, so
importing this package stays cheap for the LSP process.
"""

from swe_lsp.sandbox.base import Command, Sandbox, SandboxSession
from swe_lsp.sandbox.choose import open_sandbox
from swe_lsp.sandbox.errors import SandboxError, SandboxImageError, SandboxUnavailableError
from swe_lsp.sandbox.result import RunResult
from swe_lsp.sandbox.verify import CandidateRuns, verify_candidate
from swe_lsp.sandbox.which_tests import TestCommand, detect_test_command, select_tests

__all__ = [
    "CandidateRuns",
    "Command",
    "RunResult",
    "Sandbox",
    "SandboxError",
    "SandboxImageError",
    "SandboxSession",
    "SandboxUnavailableError",
    "TestCommand",
    "detect_test_command",
    "open_sandbox",
    "select_tests",
    "verify_candidate",
]
