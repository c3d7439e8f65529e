"""Containers started ahead of need, and removed off the caller's path.

Starting a container costs most of a session's overhead (about half a second here), more than
the three commands of a small verification add. The pool keeps a few started, empty containers
per image, so a session only copies its tree in; and it removes finished containers in the
background, so closing a session costs the caller nothing. `close()` waits for both.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from swe_lsp.sandbox import docker_engine

if TYPE_CHECKING:
    import docker
    from docker.models.containers import Container

log = logging.getLogger(__name__)

# The job label of a container started for no job yet.
WARM_JOB = "warm"
# How long a session waits for a warm container that is starting: a start takes about a second;
# past this the engine is in trouble and the session starts its own (and reports that failure).
START_WAIT_S = 30.0
Starter = Callable[[str, str | None], "Container"]


class ContainerPool:
    """Up to `size` started containers per image, handed out oldest first while young enough.

    `starter(image, job_id)` creates and starts one. A warm container older than `max_age_s` is
    discarded rather than handed out, because its first process exits at the session time to live.
    """

    def __init__(self, client: docker.DockerClient, starter: Starter, size: int, max_age_s: float) -> None:
        self._client = client
        self._starter = starter
        self._size = size
        self._max_age_s = max_age_s
        self._ready: dict[str, deque[tuple[float, Container]]] = {}
        self._starting: dict[str, int] = {}
        self._threads: set[threading.Thread] = set()
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)  # a warm start ended (ready or failed)
        self._closed = False

    def take(self, image: str, job_id: str | None) -> Container:
        """A started container of `image`: a warm one if there is one, else one started now."""
        warm = None
        with self._lock:
            queue = self._ready.setdefault(image, deque())
            # One is starting already (prepare() began it while the model worked): starting a
            # second would only race it, so wait for that one, as long as a start takes at most.
            deadline = time.monotonic() + START_WAIT_S
            while not queue and self._starting.get(image, 0) and not self._closed:
                if not self._changed.wait(max(0.0, deadline - time.monotonic())):
                    break
            while queue and warm is None:
                born, container = queue.popleft()
                if time.monotonic() - born < self._max_age_s:
                    warm = container
                else:
                    self._spawn(docker_engine.remove_container, container)
            if self._size and not self._closed:
                self._spawn(self._refill, image)
        return warm if warm is not None else self._starter(image, job_id)

    def prefill(self, image: str) -> None:
        """Start warm containers of `image` up to the pool's size, in the background (no-op once
        closed), so the first `take` of it does not wait for a start."""
        with self._lock:
            if self._size and not self._closed:
                self._ready.setdefault(image, deque())
                self._spawn(self._refill, image)

    def release(self, container: Container, kill: bool = False) -> None:
        """Remove `container` in the background; with `kill`, stop what runs in it first, now."""
        if kill:
            try:
                container.kill()
            except Exception as exc:  # already exited, or being removed
                log.debug("kill %s: %s", container.name, exc)
        with self._lock:
            self._spawn(docker_engine.remove_container, container)

    def close(self) -> None:
        """Remove the warm containers and wait for every pending start and removal."""
        with self._lock:
            self._closed = True
            self._changed.notify_all()
            for queue in self._ready.values():
                while queue:
                    self._spawn(docker_engine.remove_container, queue.popleft()[1])
        while True:
            with self._lock:
                threads = list(self._threads)
            if not threads:
                return
            for thread in threads:
                thread.join()

    def _refill(self, image: str) -> None:
        with self._lock:
            if self._closed or len(self._ready[image]) + self._starting.get(image, 0) >= self._size:
                return
            self._starting[image] = self._starting.get(image, 0) + 1
        container = None
        try:
            container = self._starter(image, WARM_JOB)
        except Exception as exc:  # the engine went away: sessions will say so when they start
            log.warning("could not start a warm sandbox container: %s", exc)
        with self._lock:
            self._starting[image] -= 1
            self._changed.notify_all()
            if container is None:
                return
            if self._closed:
                self._spawn(docker_engine.remove_container, container)
            else:
                self._ready[image].append((time.monotonic(), container))

    def _spawn(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run fn(*args) in a tracked thread; call with the lock held."""

        def body() -> None:
            try:
                fn(*args)
            except Exception as exc:
                log.warning("sandbox container housekeeping failed: %s", exc)
            finally:
                with self._lock:
                    self._threads.discard(threading.current_thread())

        thread = threading.Thread(target=body, daemon=True)
        self._threads.add(thread)
        thread.start()
