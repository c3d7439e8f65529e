"""What every stage calls the model through: cancellation checked before each call, the budget
ceiling enforced, tokens and calls added to the stage's cost, and progress reported.

The stages never touch the backend, the clock or the cancel event directly, so the accounting and
the stopping rules live here once.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field

from swe_lsp.llm import GenerateRequest, Generation, GenerationInterrupted, Score, Usage, total_usage
from swe_lsp.search.job import Cost, Progress, Stage, StageCost
from swe_lsp.search.records import Recorder
from swe_lsp.search.roles import OutcomeRewardModel, Policy, ProcessRewardModel

# Where each stage's share of the progress bar starts; stages only ever move forward through these.
STAGE_START: dict[str, float] = {
    "snapshot": 0.0,
    "index": 0.03,
    "understand": 0.08,
    "localize": 0.25,
    "patch": 0.5,
    "verify": 0.7,
    "rank": 0.95,
}
_ORDER = list(STAGE_START)


class Cancelled(Exception):
    """The job's cancel event was set; unwinds to `resolve`, which reports `cancelled`."""


class BudgetExhausted(Exception):
    """The job reached its token ceiling; the controller ranks what it has."""


@dataclass(frozen=True)
class Roles:
    """The policy, PRM and ORM of one job. `prm` is None for a manifest without a PRM: the beam
    then keeps a stage's candidates by vote (`controller.BEAM_WITHOUT_PRM`)."""

    policy: Policy
    prm: ProcessRewardModel | None
    orm: OutcomeRewardModel


@dataclass
class _Tally:
    usage: Usage = field(default_factory=Usage)
    sandbox_seconds: float = 0.0
    wall_seconds: float = 0.0


class Runtime:
    """The job's roles, recorder, cost meter, cancel event, budget ceiling and progress sink."""

    def __init__(
        self,
        job_id: str,
        roles: Roles,
        cancel: threading.Event,
        progress: Callable[[Progress], None],
        token_ceiling: int | None = None,
    ) -> None:
        self.job_id = job_id
        self.roles = roles
        self.cancel = cancel
        self.recorder = Recorder(job_id)
        self.token_ceiling = token_ceiling
        self._progress = progress
        self._fraction = 0.0
        self._tallies: dict[str, _Tally] = {}
        self._started = time.monotonic()
        self.stage: str = "snapshot"

    # -- stopping rules -------------------------------------------------------------------------

    def checkpoint(self) -> None:
        """Raise `Cancelled` if the job was cancelled; called before every model call and sandbox run."""
        if self.cancel.is_set():
            raise Cancelled()

    def _before_model_call(self) -> None:
        self.checkpoint()
        if self.token_ceiling is not None and self.tokens_spent() >= self.token_ceiling:
            raise BudgetExhausted(f"token ceiling {self.token_ceiling} reached")

    def tokens_spent(self) -> int:
        """Tokens in and out so far, every stage."""
        return sum(t.usage.prompt_tokens + t.usage.completion_tokens for t in self._tallies.values())

    # -- model calls ----------------------------------------------------------------------------

    def generate(self, requests: Sequence[GenerateRequest]) -> list[Generation]:
        """The policy's samples, batched, charged to the current stage."""
        if not requests:
            return []
        self._before_model_call()
        try:
            out = self.roles.policy.generate(requests)
        except GenerationInterrupted:  # the engine stopped it for the job's cancel
            raise Cancelled() from None
        self._charge(total_usage(out))
        return out

    def prm(self, stage: str, issue: str, steps: Sequence[str]) -> list[float]:
        """PRM scores of `steps`, batched, charged to the current stage."""
        if not steps:
            return []
        if self.roles.prm is None:
            raise ValueError("this job has no PRM: the beam keeps candidates by vote instead")
        self._before_model_call()
        scores = self.roles.prm.score(stage, issue, steps)
        self._charge(total_usage(scores))
        return [s.value for s in scores]

    def orm(self, issue: str, diffs: Sequence[str]) -> list[float]:
        """ORM scores of `diffs`, batched, charged to the current stage."""
        if not diffs:
            return []
        self._before_model_call()
        scores: list[Score] = self.roles.orm.score(issue, diffs)
        self._charge(total_usage(scores))
        return [s.value for s in scores]

    def _charge(self, usage: Usage) -> None:
        tally = self._tallies.setdefault(self.stage, _Tally())
        tally.usage = tally.usage + usage

    def charge_sandbox(self, seconds: float) -> None:
        """Add sandbox time to the current stage."""
        self._tallies.setdefault(self.stage, _Tally()).sandbox_seconds += seconds

    # -- stages and progress --------------------------------------------------------------------

    @contextmanager
    def in_stage(self, stage: Stage, message: str) -> Iterator[None]:
        """Charge what happens inside to `stage`, and report its start."""
        self.stage = stage
        self.report(message, 0.0)
        start = time.monotonic()
        try:
            yield
        finally:
            self._tallies.setdefault(stage, _Tally()).wall_seconds += time.monotonic() - start

    def report(self, message: str, within: float) -> None:
        """Progress `within` (0..1) of the current stage; fractions never go backwards."""
        start = STAGE_START.get(self.stage, self._fraction)
        index = _ORDER.index(self.stage) if self.stage in _ORDER else len(_ORDER) - 1
        end = STAGE_START[_ORDER[index + 1]] if index + 1 < len(_ORDER) else 1.0
        fraction = min(1.0, max(self._fraction, start + (end - start) * max(0.0, min(1.0, within))))
        self._fraction = fraction
        self._progress(Progress(self.job_id, self.stage, message, round(fraction, 4)))  # type: ignore[arg-type]

    def finish(self, message: str) -> None:
        """The last progress report (fraction 1.0)."""
        self._fraction = 1.0
        self._progress(Progress(self.job_id, "rank", message, 1.0))

    def cost(self) -> Cost:
        """What the job spent so far, per stage."""
        stages = {
            name: StageCost(
                t.usage.prompt_tokens,
                t.usage.completion_tokens,
                t.usage.calls,
                round(t.sandbox_seconds, 3),
                round(t.wall_seconds, 3),
                t.usage.uncounted_calls,
            )
            for name, t in self._tallies.items()
        }
        return Cost(stages, round(time.monotonic() - self._started, 3))
