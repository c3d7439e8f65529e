"""The contract between the engine (Dev-Search) and whoever drives it (the CLI, the language
server's engine worker, the trainer's evaluation): what a job asks for, what it reports while it
runs, and what it returns. Everything here is plain, frozen and picklable, so it crosses the
process boundary between the LSP process and the engine worker unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

JobState = Literal["queued", "running", "done", "failed", "cancelled", "interrupted"]
Stage = Literal["snapshot", "index", "understand", "localize", "patch", "verify", "rank"]


@dataclass(frozen=True)
class Issue:
    """What the user asked to resolve: the text, and where in the workspace it was raised (a TODO
    comment, a diagnostic, a selection), if anywhere."""

    text: str
    path: str | None = None
    start_line: int | None = None
    end_line: int | None = None

    def model_text(self) -> str:
        """The issue as the model reads it, with where in the workspace it was raised, if anywhere.
        The one rendering: the search prompts and scores with it and the store's preference pairs
        carry it, so the ORM is trained on exactly the text it scores at run time."""
        if not self.path:
            return self.text
        where = self.path
        if self.start_line is not None:
            end = f"-{self.end_line}" if self.end_line and self.end_line != self.start_line else ""
            where += f", line {self.start_line}{end}"
        return f"{self.text.rstrip()}\n\n(Raised in {where}.)"


@dataclass(frozen=True)
class ResolveRequest:
    """One job: the workspace, the issue, unsaved editor buffers (relative path -> text), the budget
    overrides, and where to keep the job's files (trajectories, the snapshot if kept)."""

    job_id: str
    workspace: Path
    issue: Issue
    buffers: Mapping[str, str] = field(default_factory=dict)
    budget: int | None = None
    beam: int | None = None
    strategy: str | None = None
    model: str | None = None
    sandbox: str | None = None
    out_dir: Path | None = None


@dataclass(frozen=True)
class Progress:
    """A progress report: the stage, a message for a person, and the overall fraction done."""

    job_id: str
    stage: Stage
    message: str
    fraction: float


@dataclass(frozen=True)
class StageCost:
    """What one stage spent."""

    prompt_tokens: int = 0
    completion_tokens: int = 0
    model_calls: int = 0
    sandbox_seconds: float = 0.0
    wall_seconds: float = 0.0
    uncounted_calls: int = 0  # model calls whose tokens the engine did not report


@dataclass(frozen=True)
class Cost:
    """What a job spent, per stage and in all."""

    stages: Mapping[str, StageCost] = field(default_factory=dict)
    wall_seconds: float = 0.0

    @property
    def total(self) -> StageCost:
        s = list(self.stages.values())
        return StageCost(
            sum(c.prompt_tokens for c in s),
            sum(c.completion_tokens for c in s),
            sum(c.model_calls for c in s),
            sum(c.sandbox_seconds for c in s),
            self.wall_seconds,
            sum(c.uncounted_calls for c in s),
        )


@dataclass(frozen=True)
class Evidence:
    """Why a candidate is ranked where it is: what ran in the sandbox, what passed, the scores."""

    verified: bool
    reproduced: bool | None = None
    repro_before_exit: int | None = None
    repro_after_exit: int | None = None
    tests_command: str | None = None
    tests_exit: int | None = None
    tests_output_tail: str = ""
    repro_script: str | None = None
    prm_scores: Mapping[str, float] = field(default_factory=dict)
    orm_score: float | None = None
    votes: int = 1
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Candidate:
    """One ranked patch: the unified diff against the snapshot, the files it changes, their content
    hashes at snapshot time (so a stale apply can be refused), and its evidence."""

    rank: int
    diff: str
    files: tuple[str, ...]
    base_hashes: Mapping[str, str]
    score: float
    evidence: Evidence
    summary: str = ""


@dataclass(frozen=True)
class JobReport:
    """What a finished job returns. `error` says why a `failed` job failed; on a `done` job it says
    why its candidates could not be verified (a sandbox, environment or backend failure after they
    were generated: they are returned unverified, each with the reason in its notes)."""

    job_id: str
    state: JobState
    candidates: tuple[Candidate, ...] = ()
    cost: Cost = field(default_factory=Cost)
    trajectory_path: Path | None = None
    snapshot_commit: str | None = None
    error: str | None = None
    # Where the candidates were lost, stage by stage, when a `done` job has none
    # (`records.why_no_candidate`): "patch: 4 syntax_error, 3 unparsed".
    why_none: str = ""
    # How the search ran differently from the method, for the reader of the report: without a PRM,
    # "prm: none, beam kept by vote (...)".
    notes: tuple[str, ...] = ()
