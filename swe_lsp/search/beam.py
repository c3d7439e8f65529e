"""The beam over stages: how a stage's n samples are shared among its parents, and which k of its
candidates go on (by PRM score; ties keep the order they were sampled in, so a run is reproducible)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, TypeVar


class Scored(Protocol):
    """Anything with a PRM score."""

    @property
    def prm(self) -> float | None: ...


T = TypeVar("T", bound=Scored)


def allocate(n: int, parents: int) -> list[int]:
    """Split n samples over `parents` as evenly as possible (the best parents get the remainder);
    every parent gets at least one, so a stage never spends less than one sample per survivor."""
    if parents <= 0:
        return []
    base, extra = divmod(max(n, parents), parents)
    return [base + (1 if i < extra else 0) for i in range(parents)]


def top_k(candidates: Sequence[T], k: int) -> tuple[list[T], list[T]]:
    """(kept, pruned): the k best by PRM score, in score order; the rest in their original order."""
    order = sorted(range(len(candidates)), key=lambda i: (-(candidates[i].prm or 0.0), i))
    keep = set(order[:k])
    kept = [candidates[i] for i in order[:k]]
    pruned = [c for i, c in enumerate(candidates) if i not in keep]
    return kept, pruned
