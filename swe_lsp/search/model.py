"""The values that flow between the Dev-Search stages, one frozen dataclass each.

Every candidate carries its id and its parent's, which is how a trajectory is read back as a tree,
and its process reward once scored (`prm`, None before).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from swe_lsp.llm import Message


@dataclass(frozen=True)
class FileSet:
    """Repository understanding's answer: the files (at most the model's `limits.max_files`, all
    existing) to look at."""

    id: str
    files: tuple[str, ...]
    answer: str = ""
    prm: float | None = None


@dataclass(frozen=True)
class Location:
    """A resolved place in the snapshot: a file, optionally a symbol, and its 1-based line span."""

    file: str
    start: int
    end: int
    symbol: str | None = None

    def label(self) -> str:
        """The location as the model writes it (`path::Name` or `path:start-end`)."""
        return f"{self.file}::{self.symbol}" if self.symbol else f"{self.file}:{self.start}-{self.end}"


@dataclass(frozen=True)
class LocationSet:
    """Fault localization's answer: where the fix goes. `files` is the parent file set's."""

    id: str
    parent: str
    files: tuple[str, ...]
    locations: tuple[Location, ...]
    answer: str = ""
    prm: float | None = None
    gathered: str = ""  # what the localization's tool calls returned, for the patch prompt


@dataclass(frozen=True)
class PatchCandidate:
    """An applicable patch: its diff, the changed files' original and new texts, the prompt that
    produced it (for refinement), its dedup key and how many samples produced the same fix."""

    id: str
    parent: str
    diff: str
    files: tuple[str, ...]
    original_texts: Mapping[str, str | None]
    new_texts: Mapping[str, str]
    key: str
    locations: LocationSet
    messages: tuple[Message, ...] = ()
    answer: str = ""
    votes: int = 1
    prm: float | None = None


@dataclass(frozen=True)
class Reproduction:
    """The issue's validated reproduction, written once per job and reused for every candidate.

    `script` is the kept script (None when no attempt reproduced the issue, and `reason` says why);
    `outcome` is how the last attempt's run on the original tree ended (`reproduced`,
    `not_reproduced`, `crashed`, `timed_out`, or `rejected` when the answer held no usable script;
    see `swe_lsp.search.reproduction.classify`); `exit_code` and `log` are that run's. The
    original-tree run happens here, once, never again per candidate.
    """

    script: str | None
    outcome: str
    attempts: int = 0
    exit_code: int | None = None
    log: str = ""
    reason: str = ""
    sandbox_seconds: float = 0.0


@dataclass(frozen=True)
class Verification:
    """What the sandbox said about one patch: the issue's reproduction (its validation run on the
    original tree, its run with the patch), the regression tests after (and on the original tree),
    and the verdict."""

    candidate_id: str
    verified: bool
    reproduced: bool | None = None
    repro_before_exit: int | None = None
    repro_after_exit: int | None = None
    repro_script: str | None = None
    tests_command: str | None = None
    tests_exit: int | None = None
    tests_before_exit: int | None = None
    tests_output_tail: str = ""
    regression: bool = False
    sandbox_seconds: float = 0.0
    notes: tuple[str, ...] = ()
    log: str = ""


@dataclass(frozen=True)
class Outcome:
    """A patch at the end of the search: the candidate, its verification (None when the strategy
    does not verify or it was skipped), its outcome reward (None when not scored), and, when it
    was not verified, why (`notes`: stopped early, the budget ran out, verification failed)."""

    patch: PatchCandidate
    verification: Verification | None = None
    orm: float | None = None
    prm_scores: Mapping[str, float] = field(default_factory=dict)
    notes: tuple[str, ...] = ()
