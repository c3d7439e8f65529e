"""Dev-Search: the staged, reward-guided search that resolves an issue (SWE-Reasoner, arXiv 2503.23803).

Drive it with `resolve(request, backend, settings, progress, cancel) -> JobReport` (types in `job`).
The stages (`understand`, `localize`, `patching`, `verification`) return typed values; the prompts
and output formats live in `prompts`; `records` is the trajectory format the trainer reads.
"""

from swe_lsp.search.context import JobContext, SearchConfig
from swe_lsp.search.engine import COST_FILE, TRAJECTORY_FILE, job_dir, resolve, roles_for
from swe_lsp.search.job import (
    Candidate,
    Cost,
    Evidence,
    Issue,
    JobReport,
    JobState,
    Progress,
    ResolveRequest,
    Stage,
    StageCost,
)
from swe_lsp.search.model import FileSet, Location, LocationSet, Outcome, PatchCandidate, Verification
from swe_lsp.search.ranking import STRATEGIES
from swe_lsp.search.records import StepRecord, read_trajectory, write_trajectory
from swe_lsp.search.roles import (
    BackendORM,
    BackendPolicy,
    BackendPRM,
    OutcomeRewardModel,
    Policy,
    ProcessRewardModel,
)
from swe_lsp.search.runtime import Roles
from swe_lsp.search.verification import SandboxVerifier, Verifier

__all__ = [
    "COST_FILE",
    "STRATEGIES",
    "TRAJECTORY_FILE",
    "BackendORM",
    "BackendPRM",
    "BackendPolicy",
    "Candidate",
    "Cost",
    "Evidence",
    "FileSet",
    "Issue",
    "JobContext",
    "JobReport",
    "JobState",
    "Location",
    "LocationSet",
    "Outcome",
    "OutcomeRewardModel",
    "PatchCandidate",
    "Policy",
    "ProcessRewardModel",
    "Progress",
    "ResolveRequest",
    "Roles",
    "SandboxVerifier",
    "SearchConfig",
    "Stage",
    "StageCost",
    "StepRecord",
    "Verification",
    "Verifier",
    "job_dir",
    "read_trajectory",
    "resolve",
    "roles_for",
    "write_trajectory",
]
