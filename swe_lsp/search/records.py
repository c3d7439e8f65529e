"""Trajectory records: one JSON line per model step, the format the trainer reads.

Schema of one line (all keys always present; `null` where not applicable)::

    job_id        str    the job
    stage         str    understand | localize | patch | repro | refine | verify
    candidate_id  str    this step's candidate ("u2", "u2.l1", "u2.l1.p0", a refinement "u2.l1.p0.r1",
                         the issue's reproduction attempts "u2.l1.repro0", "u2.l1.repro1", ...)
    parent_id     str?   the candidate it grew from (null for the first stage)
    round         int    the round within the candidate (localization rounds, patch retries, repro attempts)
    messages      list   the prompt as sent, pruned: [{"role", "content"}, ...]
    think         str    the model's reasoning ("" when it wrote none)
    answer        str    the model's answer (what later prompts carry forward)
    parsed        any    the answer as the stage understood it (files, locations, diff, ...)
    prm           float? the process reward of this candidate, once scored
    outcome       str    kept | pruned | rejected | tool_calls | applicable | verified | failed | merged
                         | ...; a repro attempt: reproduced | not_reproduced | crashed | timed_out | rejected
                         | error (the sandbox failed before the script ran)
    detail        str    why (the parse error, the apply status, what failed in the sandbox)
    usage         obj    {"prompt_tokens", "completion_tokens", "calls"} of the call that made it

For supervised fine-tuning, a step is (messages, "<think>think</think><answer>answer</answer>");
for the PRM, (messages + answer, outcome in {kept, verified} -> Yes). The prompts themselves come
from `swe_lsp.search.prompts`, so a trainer rebuilding one gets the same text.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from swe_lsp.llm import Message, Usage

SCHEMA_VERSION = 1


@dataclass(frozen=True)
class StepRecord:
    """One model step of a job (see the module docstring for the JSON form)."""

    job_id: str
    stage: str
    candidate_id: str
    parent_id: str | None
    messages: tuple[Message, ...]
    think: str
    answer: str
    parsed: Any = None
    prm: float | None = None
    outcome: str = "sampled"
    detail: str = ""
    usage: Usage = field(default_factory=Usage)
    round: int = 0

    def to_json(self) -> dict[str, Any]:
        """The record as one JSON-ready dict."""
        return {
            "schema": SCHEMA_VERSION,
            "job_id": self.job_id,
            "stage": self.stage,
            "candidate_id": self.candidate_id,
            "parent_id": self.parent_id,
            "round": self.round,
            "messages": [{"role": m.role, "content": m.content} for m in self.messages],
            "think": self.think,
            "answer": self.answer,
            "parsed": self.parsed,
            "prm": self.prm,
            "outcome": self.outcome,
            "detail": self.detail,
            "usage": asdict(self.usage),
        }

    @staticmethod
    def from_json(data: dict[str, Any]) -> StepRecord:
        """The record a JSON line holds."""
        return StepRecord(
            job_id=data["job_id"],
            stage=data["stage"],
            candidate_id=data["candidate_id"],
            parent_id=data["parent_id"],
            messages=tuple(Message(m["role"], m["content"]) for m in data["messages"]),
            think=data["think"],
            answer=data["answer"],
            parsed=data["parsed"],
            prm=data["prm"],
            outcome=data["outcome"],
            detail=data["detail"],
            usage=Usage(**data["usage"]),
            round=data["round"],
        )


class Recorder:
    """The steps of one job, in the order they happened; outcomes are settled as the search goes
    (a sampled candidate becomes kept or pruned once its stage is ranked)."""

    def __init__(self, job_id: str) -> None:
        self.job_id = job_id
        self._records: list[StepRecord] = []

    def add(self, record: StepRecord) -> None:
        """Append one step."""
        self._records.append(record)

    def settle(self, candidate_id: str, stage: str, **changes: Any) -> None:
        """Update the latest record of `candidate_id` in `stage` (its prm score, outcome, detail)."""
        for i in range(len(self._records) - 1, -1, -1):
            rec = self._records[i]
            if rec.candidate_id == candidate_id and rec.stage == stage:
                self._records[i] = replace(rec, **changes)
                return

    @property
    def records(self) -> tuple[StepRecord, ...]:
        """Every step so far."""
        return tuple(self._records)


def usage_share(usage: Usage, n: int) -> Usage:
    """One sample's share of a call that produced n samples (so a trajectory's usage adds up)."""
    n = max(n, 1)
    return Usage(usage.prompt_tokens // n, usage.completion_tokens // n, 1 if n == 1 else 0)


def write_trajectory(path: Path, records: Iterable[StepRecord]) -> Path:
    """Write `records` as JSONL to `path` (replacing it); returns `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8") as fh:
        for record in records:
            fh.write(json.dumps(record.to_json(), ensure_ascii=False, default=str) + "\n")
    return path


def read_trajectory(path: Path) -> list[StepRecord]:
    """The records of a JSONL trajectory file."""
    lines: Sequence[str] = path.read_text(encoding="utf-8").splitlines()
    return [StepRecord.from_json(json.loads(line)) for line in lines if line.strip()]


# The outcomes that are not losses: a record with one of these did not end its candidate.
_GOING_ON = frozenset({"kept", "sampled", "tool_calls", "unresolved", "verified", "reproduced", "merged"})
# The order stages are told in: where the candidates were lost first.
_STAGE_ORDER = ("understand", "localize", "patch", "refine", "repro", "verify")


def outcome_counts(records: Iterable[StepRecord]) -> dict[str, dict[str, int]]:
    """Per stage, how many steps ended in each outcome (from the trajectory)."""
    counts: dict[str, dict[str, int]] = {}
    for r in records:
        stage = counts.setdefault(r.stage, {})
        stage[r.outcome] = stage.get(r.outcome, 0) + 1
    return counts


def why_no_candidate(records: Iterable[StepRecord]) -> str:
    """One line on where a job's candidates were lost, stage by stage (what the trajectory
    knows), e.g. `patch: 4 syntax_error, 3 unparsed, 1 unmatched`; "" when nothing was lost."""
    counts = outcome_counts(records)
    parts = []
    for stage in sorted(counts, key=lambda s: (_STAGE_ORDER.index(s) if s in _STAGE_ORDER else 99, s)):
        lost = {o: n for o, n in counts[stage].items() if o not in _GOING_ON}
        if lost:
            told = ", ".join(f"{n} {o}" for o, n in sorted(lost.items(), key=lambda kv: (-kv[1], kv[0])))
            parts.append(f"{stage}: {told}")
    return "; ".join(parts)
