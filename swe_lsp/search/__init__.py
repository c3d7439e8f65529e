"""Dev-Search: the staged, reward-guided search that resolves an issue (SWE-Reasoner, arXiv 2503.23803).

Drive it with `resolve(request, backend, settings, progress, cancel) -> JobReport` (types in `job`).
The stages (`understand`, `localize`, `patching`, `reproduction`, `verification`) return typed
values; the prompts and output formats live in `prompts`; `records` is the trajectory format the
trainer reads.

Names are imported on first use (PEP 562): the language server reads `swe_lsp.search.job` on every
start, and must not pay for loading the whole engine to do so.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "swe_lsp.search.context": ("JobContext", "SearchConfig"),
    "swe_lsp.search.engine": ("COST_FILE", "TRAJECTORY_FILE", "job_dir", "resolve", "roles_for"),
    "swe_lsp.search.job": (
        "Candidate",
        "Cost",
        "Evidence",
        "Issue",
        "JobReport",
        "JobState",
        "Progress",
        "ResolveRequest",
        "Stage",
        "StageCost",
    ),
    "swe_lsp.search.model": (
        "FileSet",
        "Location",
        "LocationSet",
        "Outcome",
        "PatchCandidate",
        "Reproduction",
        "Verification",
    ),
    "swe_lsp.search.ranking": ("STRATEGIES",),
    "swe_lsp.search.records": ("StepRecord", "read_trajectory", "write_trajectory"),
    "swe_lsp.search.roles": (
        "BackendORM",
        "BackendPolicy",
        "BackendPRM",
        "OutcomeRewardModel",
        "Policy",
        "ProcessRewardModel",
    ),
    "swe_lsp.search.runtime": ("Roles",),
    "swe_lsp.search.verification": ("SandboxVerifier", "Verifier"),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name not in _WHERE:
        raise AttributeError(f"module 'swe_lsp.search' has no attribute {name!r}")
    value = getattr(importlib.import_module(_WHERE[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__
