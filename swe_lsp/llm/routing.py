"""One backend in front of several engines, for a manifest whose roles sit on different base models.

`open_backend` returns a `RoleRouter` when `Manifest.engine_groups` has more than one group: each
engine serves the roles of its group (with their adapters), and the router is what the rest of the
server holds, so the worker, the CLI and the trainer keep one object to arm, use and close. The
search asks it for each role's engine (`for_role`); a direct call (`generate`, `logprob`, `p_yes`)
goes by the request's adapter name, which is a role name, else to the policy's engine.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import ExitStack, contextmanager
from typing import TypeVar

from swe_lsp.llm.backend import Backend
from swe_lsp.llm.types import GenerateRequest, Generation, Score, ScoreRequest

R = TypeVar("R", GenerateRequest, ScoreRequest)
T = TypeVar("T", Generation, Score)


class RoleRouter(Backend):
    """The engines of a split manifest, by role. Closing it closes each engine once."""

    name = "router"

    def __init__(self, by_role: Mapping[str, Backend]) -> None:
        if "policy" not in by_role:
            raise ValueError("a role router needs the policy's engine")
        policy = by_role["policy"]
        super().__init__(policy.template, tuple(sorted({a for b in by_role.values() for a in b.adapters})))
        self._by_role = dict(by_role)
        self._engines: list[Backend] = []
        for backend in by_role.values():
            if all(backend is not seen for seen in self._engines):
                self._engines.append(backend)

    @property
    def engines(self) -> tuple[Backend, ...]:
        """Each engine once, the policy's first."""
        return tuple(self._engines)

    def for_role(self, role: str) -> Backend:
        """The engine serving `role`; the policy's for a role it does not know (an unserved PRM)."""
        return self._by_role.get(role, self._by_role["policy"])

    @contextmanager
    def interruptible(self, event: threading.Event) -> Iterator[None]:
        """Arm every engine: a cancel stops whichever is generating."""
        with ExitStack() as stack:
            for engine in self._engines:
                stack.enter_context(engine.interruptible(event))
            yield

    def generate(self, requests: Sequence[GenerateRequest]) -> list[Generation]:
        return self._routed(requests, lambda b, rs: b.generate(rs))

    def logprob(self, requests: Sequence[ScoreRequest]) -> list[Score]:
        return self._routed(requests, lambda b, rs: b.logprob(rs))

    def p_yes(self, requests: Sequence[ScoreRequest]) -> list[Score]:
        return self._routed(requests, lambda b, rs: b.p_yes(rs))

    def _routed(self, requests: Sequence[R], call: Callable[[Backend, list[R]], list[T]]) -> list[T]:
        """Each request on the engine of the role its adapter names (the policy's without one), one
        batch per engine, results in the requests' order."""
        batches: dict[int, tuple[Backend, list[int]]] = {}
        for i, r in enumerate(requests):
            backend = self.for_role(r.adapter) if r.adapter else self._by_role["policy"]
            batches.setdefault(id(backend), (backend, []))[1].append(i)
        out: list[T | None] = [None] * len(requests)
        for backend, indices in batches.values():
            for i, result in zip(indices, call(backend, [requests[i] for i in indices]), strict=True):
                out[i] = result
        return [r for r in out if r is not None]

    def close(self) -> None:
        errors = []
        for engine in self._engines:
            try:
                engine.close()
            except Exception as exc:  # close them all; the first failure is raised after
                errors.append(exc)
        if errors:
            raise errors[0]
