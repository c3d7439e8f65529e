"""Test runners: which one a workspace uses, which of its tests exercise a change, and what each
test did, so that a patch is judged test by test against the original tree.

`detect_runner(tree, configured)` picks a `TestRunner` (pytest, unittest, Django's runtests.py,
SymPy's bin/test, or the user's own command); `run_tests` runs it in a sandbox session into a
`TestRun`; `compare(before, after)` gives a `TestComparison`.
"""

from swe_lsp.sandbox.runners.base import NoRunner, TestRunner, TestStatus
from swe_lsp.sandbox.runners.compare import TestComparison, compare
from swe_lsp.sandbox.runners.custom import CustomRunner
from swe_lsp.sandbox.runners.detect import detect_runner
from swe_lsp.sandbox.runners.django_runner import DjangoRunner
from swe_lsp.sandbox.runners.pytest_runner import PytestRunner
from swe_lsp.sandbox.runners.run import TestRun, run_tests
from swe_lsp.sandbox.runners.selection import find_test_files, select_tests
from swe_lsp.sandbox.runners.sympy_runner import SympyRunner
from swe_lsp.sandbox.runners.unittest_runner import UnittestRunner

__all__ = [
    "CustomRunner",
    "DjangoRunner",
    "NoRunner",
    "PytestRunner",
    "SympyRunner",
    "TestComparison",
    "TestRun",
    "TestRunner",
    "TestStatus",
    "UnittestRunner",
    "compare",
    "detect_runner",
    "find_test_files",
    "run_tests",
    "select_tests",
]
