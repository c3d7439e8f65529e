"""The Docker sandbox: one container per session, no network, bounded memory, CPU and processes.

The tree is copied in with `put_archive` (the workspace is never mounted), commands run with
`exec` as an unprivileged user, and the container is removed when the session closes, when a run
is cancelled, and by the engine itself if its first process outlives the session's time to live
(so a crashed server leaves nothing running for long; `sweep` removes what remains).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

from swe_lsp.sandbox import docker_engine
from swe_lsp.sandbox.base import POLL_S, Ending, Sandbox, SandboxSession, result_of, wait_for
from swe_lsp.sandbox.base_image import DEFAULT_BASE_IMAGE, base_image_present
from swe_lsp.sandbox.env_layer import SANDBOX_UID, WORKDIR, OnLine, env_image, image_cached
from swe_lsp.sandbox.environment import EnvPlan, plan_environment
from swe_lsp.sandbox.errors import SandboxError, SandboxImageError
from swe_lsp.sandbox.result import OutputCap, RunResult
from swe_lsp.sandbox.tree import files_archive, safe_relpath, tree_archive
from swe_lsp.sandbox.warm_pool import ContainerPool
from swe_lsp.settings import SandboxSettings

if TYPE_CHECKING:
    import docker
    from docker.models.containers import Container

log = logging.getLogger(__name__)

_ENV = {
    "HOME": "/tmp",
    "LANG": "C.UTF-8",
    "PYTHONPATH": f"{WORKDIR}:{WORKDIR}/src",
    "PYTHONDONTWRITEBYTECODE": "1",  # every session is fresh: byte code written is never reused
}
# The container's first process: reaps orphans (so they do not hold pids) and exits after the
# session's time to live. As PID 1 it ignores the SIGKILL that ends everything else at a timeout.
_REAPER = """
import os, sys, time
end = time.monotonic() + float(sys.argv[1])
while time.monotonic() < end:
    try:
        while os.waitpid(-1, os.WNOHANG)[0]:
            pass
    except ChildProcessError:
        pass
    time.sleep(0.2)
"""
_KILL_ALL = ["python3", "-c", "import os; os.kill(-1, 9)"]
# After the kill at a timeout, how long the output stream may take to end before the container goes.
_KILL_GRACE_S = 5.0


class DockerSandbox(Sandbox):
    """Sessions in containers of the workspace's environment image (see `environment.py`).

    `on_build_line` receives the environment build's log lines (a job points it at its progress);
    `pin_plan` makes every session of a tree use a given plan (the trainer's SWE-bench specs)
    instead of the one read from the tree's files."""

    kind = "docker"

    def __init__(
        self, settings: SandboxSettings, client: docker.DockerClient | None = None, warm: int = 1
    ) -> None:
        super().__init__(settings)
        self.client = client or docker_engine.connect()
        self.image = settings.image or DEFAULT_BASE_IMAGE  # checked now: `make test` builds it
        if not base_image_present(self.client, self.image):
            hint = "run `swe-lsp sandbox build-base`" if settings.image is None else "pull or build it"
            raise SandboxImageError(f"the sandbox image {self.image} is not on the Docker engine: {hint}")
        swept = docker_engine.sweep(self.client)  # leftovers of a crashed swe-lsp process
        if swept:
            log.info("removed %d sandbox container(s) left by a crashed process", len(swept))
        self.pool = ContainerPool(self.client, self._start, warm, max_age_s=_ttl(settings) / 2)
        self.on_build_line: OnLine | None = None
        self._closing = threading.Event()  # set by close(): stops environment builds
        self._plans: dict[Path, EnvPlan] = {}

    def plan(self, tree: Path) -> EnvPlan:
        """The environment plan for `tree`: a pinned one, else read from its files and the settings."""
        pinned = self._plans.get(tree.resolve())
        if pinned is not None:
            return pinned
        s = self.settings
        return plan_environment(tree, s.python, s.system_packages, s.build_network)

    def pin_plan(self, tree: Path, plan: EnvPlan) -> None:
        """Use `plan` for every session of `tree` from now on."""
        self._plans[tree.resolve()] = plan

    def image_for(self, tree: Path, cancel: threading.Event | None = None) -> str:
        """`tree`'s environment image, built now (with progress to `on_build_line`) unless cached.
        The build stops (`BuildCancelled`) when `cancel` is set or the sandbox closes."""
        plan, base = self.plan(tree), self.settings.image
        if cancel is None:
            return env_image(self.client, plan, tree, self.on_build_line, base, self._closing)
        stop = threading.Event()
        threading.Thread(target=_either, args=(cancel, self._closing, stop), daemon=True).start()
        try:
            return env_image(self.client, plan, tree, self.on_build_line, base, stop)
        finally:
            stop.set()  # ends the watcher thread; a finished build is not affected

    def describe(self) -> str:
        """The kind, the image and the limits."""
        s = self.settings
        return f"docker ({self.image}; no network, memory {s.memory}, {s.cpus:g} CPU, {s.pids} processes)"

    def prepare(self, tree: Path) -> None:
        """Build (or find) `tree`'s environment image and start a warm container of it, in a
        background thread: a workspace with requirements can take minutes to build, which then
        overlap the model's work. The build is not waited for at `close` (its image is cached for
        the next job; its install container removes itself); the warm container is."""

        def build_and_warm() -> None:
            try:
                self.pool.prefill(self.image_for(tree))
            except Exception as exc:  # the first session builds again and reports the error
                log.info("preparing the sandbox for %s failed: %s", tree, exc)

        threading.Thread(target=build_and_warm, name="swe-lsp-sandbox-prepare", daemon=True).start()

    def ready(self, tree: Path) -> bool:
        """Whether `tree`'s environment image is built (a session then starts in seconds)."""
        return image_cached(self.client, self.plan(tree), self.settings.image)

    def session(self, tree: Path, job_id: str | None = None) -> DockerSession:
        """A started container (warm if one is ready) of the image for `tree`'s dependencies,
        holding a copy of `tree`."""
        image = self.image_for(tree)
        return DockerSession(self.client, self.pool, self.pool.take(image, job_id), tree, self.settings)

    def close(self) -> None:
        """Stop environment builds, remove the warm containers and wait for pending removals."""
        self._closing.set()
        self.pool.close()

    def _start(self, image: str, job_id: str | None) -> Container:
        """Create and start an empty, isolated, labelled container of `image`."""
        s = self.settings
        container = self.client.containers.create(
            image,
            ["python3", "-c", _REAPER, str(int(_ttl(s)))],
            labels=docker_engine.labels(job_id),
            working_dir=WORKDIR,
            user=f"{SANDBOX_UID}:{SANDBOX_UID}",
            environment=_ENV,
            network_mode="none",
            mem_limit=s.memory,
            memswap_limit=s.memory,
            nano_cpus=int(s.cpus * 1e9),
            pids_limit=s.pids,
            cap_drop=["ALL"],
            security_opt=["no-new-privileges"],
            auto_remove=True,
        )
        try:
            container.start()
        except BaseException:
            docker_engine.remove_container(container)
            raise
        return container


def _either(first: threading.Event, second: threading.Event, out: threading.Event) -> None:
    """Set `out` once `first` or `second` is set (or `out` itself is, by its owner)."""
    while not out.is_set():
        if first.wait(POLL_S) or second.is_set():
            out.set()


def _ttl(settings: SandboxSettings) -> float:
    """How long a container may live: long enough for a session of several timed-out runs."""
    return max(3600.0, 8 * settings.timeout_s)


class DockerSession(SandboxSession):
    """One running container with the tree at /workspace; closing it hands it back for removal."""

    def __init__(
        self,
        client: docker.DockerClient,
        pool: ContainerPool,
        container: Container,
        tree: Path,
        settings: SandboxSettings,
    ) -> None:
        super().__init__(settings)
        self._client = client
        self._pool = pool
        self._closed = False
        self._broken: str | None = None
        self.container = container
        self.copy_in(lambda: self._put_tree(tree))

    def _put_tree(self, tree: Path) -> None:
        with tree_archive(tree, WORKDIR.lstrip("/"), SANDBOX_UID) as archive:
            self.container.put_archive("/", archive)

    def _run(
        self, argv: list[str], timeout_s: float, env: dict[str, str], cancel: threading.Event | None
    ) -> RunResult:
        """Run `argv` with `exec` in /workspace as the sandbox user."""
        if self._broken:
            raise SandboxError(self._broken)
        start = time.monotonic()
        api = self._client.api
        out, err = OutputCap(self.settings.max_output_bytes), OutputCap(self.settings.max_output_bytes)
        exec_id = api.exec_create(
            self.container.id,
            argv,
            workdir=WORKDIR,
            environment=env,
            user=f"{SANDBOX_UID}:{SANDBOX_UID}",
        )["Id"]
        finished = threading.Event()
        stream = api.exec_start(exec_id, stream=True, demux=True)
        threading.Thread(target=_pump, args=(stream, out, err, finished), daemon=True).start()
        ending = wait_for(finished, timeout_s, cancel)
        if ending is Ending.CANCELLED:
            self.close(kill=True)
        elif ending is Ending.TIMED_OUT:
            self._kill_all()
            if not finished.wait(_KILL_GRACE_S):
                self._broken = "the sandbox container did not stop its command at the timeout; session closed"
                self.close(kill=True)
        return result_of(ending, lambda: self._exit_code(exec_id), out, err, start)

    def put_files(self, files: Mapping[str, bytes | None]) -> None:
        """Copy changed files in with `put_archive`; delete removed ones with `rm`."""
        if self._closed or self._broken:
            raise SandboxError("the sandbox session is closed")
        written = {name: data for name, data in files.items() if data is not None}
        deleted = [safe_relpath(name) for name, data in files.items() if data is None]
        if written:
            self.container.put_archive(WORKDIR, files_archive(written, ".", SANDBOX_UID))
        if deleted:
            result = self.run(["rm", "-f", "--", *deleted], timeout_s=60)
            if not result.ok:
                raise SandboxError(f"could not delete files in the sandbox: {result.stderr.strip()}")

    def close(self, kill: bool = False) -> None:
        """Hand the container to the pool for removal; with `kill`, stop what runs in it first, now."""
        if self._closed:
            return
        self._closed = True
        self._pool.release(self.container, kill=kill)

    def _kill_all(self) -> None:
        """SIGKILL every process but the first, which keeps the container (and the copy) alive."""
        try:
            self._client.api.exec_start(
                self._client.api.exec_create(self.container.id, _KILL_ALL, user=f"{SANDBOX_UID}")["Id"]
            )
        except Exception as exc:  # e.g. the pids limit reached: the container goes instead
            log.warning("could not kill the timed-out command in %s: %s", self.container.name, exc)
            self._broken = f"the sandbox could not stop a timed-out command ({exc}); session closed"
            self.close(kill=True)

    def _exit_code(self, exec_id: str) -> int | None:
        """The exec's exit status; the stream can end a moment before the engine records it."""
        for _ in range(100):
            info = self._client.api.exec_inspect(exec_id)
            if not info.get("Running"):
                return info.get("ExitCode")
            time.sleep(0.02)
        return None


def _pump(
    stream: Iterator[tuple[bytes | None, bytes | None]],
    out: OutputCap,
    err: OutputCap,
    finished: threading.Event,
) -> None:
    """Copy the demultiplexed exec stream into the caps; a removed container just ends it."""
    try:
        for stdout, stderr in stream:
            out.write(stdout or b"")
            err.write(stderr or b"")
    except Exception as exc:  # the connection drops when the container is removed mid-run
        log.debug("exec stream ended: %s", exc)
    finally:
        finished.set()
