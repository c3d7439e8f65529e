"""Ranking the patches a search ends with, per strategy, into the `Candidate`s a job returns.

- devsearch, orm_exec: verified patches first, each group by ORM score, then votes.
- exec: verified patches first, then by votes (verification is the only signal).
- vote: by votes only (how many samples produced the same fix, up to formatting).
Ties keep the order the patches were found in.
"""

from __future__ import annotations

from collections.abc import Sequence

from swe_lsp.patch import content_hash
from swe_lsp.search.job import Candidate, Evidence
from swe_lsp.search.model import Outcome

STRATEGIES = ("devsearch", "exec", "orm_exec", "vote")


def _verified(o: Outcome) -> bool:
    return o.verification is not None and o.verification.verified


def rank(outcomes: Sequence[Outcome], strategy: str) -> list[Outcome]:
    """`outcomes` best first under `strategy`."""
    indexed = list(enumerate(outcomes))
    if strategy == "vote":
        indexed.sort(key=lambda io: (-io[1].patch.votes, io[0]))
    elif strategy == "exec":
        indexed.sort(key=lambda io: (not _verified(io[1]), -io[1].patch.votes, io[0]))
    else:
        indexed.sort(key=lambda io: (not _verified(io[1]), -(io[1].orm or 0.0), -io[1].patch.votes, io[0]))
    return [o for _, o in indexed]


def score_of(o: Outcome, strategy: str, budget: int) -> float:
    """The number a candidate is shown with: the ORM score, the verdict (exec) or the vote share."""
    if strategy == "vote":
        return round(o.patch.votes / max(budget, 1), 4)
    if strategy == "exec":
        return 1.0 if _verified(o) else 0.0
    return round(o.orm or 0.0, 4)


def _notes(o: Outcome) -> tuple[str, ...]:
    """The outcome's own notes (what it is, why it was not verified), then its verification's."""
    if o.verification is not None:
        return (*o.notes, *o.verification.notes)
    return o.notes if any(n.startswith("not verified") for n in o.notes) else (*o.notes, "not verified")


def to_candidates(ranked: Sequence[Outcome], strategy: str, budget: int) -> tuple[Candidate, ...]:
    """The ranked outcomes as the job's `Candidate`s, with their evidence."""
    out = []
    for rank_no, o in enumerate(ranked, 1):
        v = o.verification
        hashes = {p: h for p, t in o.patch.original_texts.items() if (h := content_hash(t)) is not None}
        evidence = Evidence(
            verified=_verified(o),
            reproduced=v.reproduced if v else None,
            repro_before_exit=v.repro_before_exit if v else None,
            repro_after_exit=v.repro_after_exit if v else None,
            tests_command=v.tests_command if v else None,
            tests_exit=v.tests_exit if v else None,
            tests_output_tail=v.tests_output_tail if v else "",
            repro_script=v.repro_script if v else None,
            prm_scores=dict(o.prm_scores),
            orm_score=o.orm,
            votes=o.patch.votes,
            notes=_notes(o),
        )
        where = ", ".join(loc.label() for loc in o.patch.locations.locations)
        summary = f"changes {', '.join(o.patch.files)} (localized at {where})"
        out.append(
            Candidate(
                rank_no, o.patch.diff, o.patch.files, hashes, score_of(o, strategy, budget), evidence, summary
            )
        )
    return tuple(out)
