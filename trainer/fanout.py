"""`swe-train eval`, `synth` and `reject` fanned out as Ray tasks: one task per instance, results
merged as they finish, resumable. This module is the Ray side (connecting, submitting, merging as
tasks finish, the model a task may open); `trainer.ray_steps` holds each step's task and driver.

Ray is the engine (a local instance on this machine, `ray.init(num_cpus=N)`, or a cluster by
address); nothing here schedules work itself beyond keeping at most `workers` tasks in flight.

What runs where:

- The driver (the `swe-train` process) skips the instances whose results are already in OUT,
  submits one task per remaining instance, and as `ray.wait` hands back each finished task writes
  its result into OUT at once: eval appends the instance's rows to `results.jsonl`
  (`trainer.resume`) and writes its job folders; synth writes its sample folders, each sample's
  `report.json` last; reject appends the instance's judgment to `reject/instances.jsonl`. The
  report is then computed from those files by the same code the sequential path runs
  (`evaluate.finish`, `synth.summarize`, `reject.finish`), so both paths end in the same files,
  and a rerun after an interruption, or after a task failed, runs only what is missing.
- A task runs the step's own per-instance function (`evaluate.evaluate_instance`,
  `synth.synthesize_instance`, `reject.judge_instance`; reject's gets the trajectories it judges
  sent along) in a scratch folder on the node Ray placed it on: it checks out the
  instance from its git dir or `--mirrors` there, opens its own sandbox there (`open_sandbox` with
  the run's sandbox settings: the node's own Docker, through that node's `DOCKER_HOST`), opens the
  model as a client of the shared endpoint, and returns its rows and the files it wrote. Nothing
  open crosses between driver and workers: only the arguments and the returned value.
- The model sits behind one OpenAI-compatible endpoint (e.g. `vllm serve MODEL
  --tensor-parallel-size N --enable-lora`) that every task calls; its continuous batching is what
  serves many instances at once. A manifest that would load weights in process is refused
  (`EndpointModel.of`): every task would load its own copy of the model (a 32B reasoner per task,
  on nodes that are chosen for Docker, not GPUs), which is neither fast nor the model a shared
  endpoint evaluates. Start the server and pass `--backend openai --base-url URL` instead.

Limits: every node needs the same installation of this project (its `models/` manifests
included), the instances' git dirs or `--mirrors` at the same path, and a way to the endpoint's URL
(a `localhost` URL is refused on a cluster, where it would name each worker itself). A task that
fails (its worker died after Ray's retries, or the step raised) leaves no result: the others are
still written, and the command ends with an error naming the failed instances, which the next run
retries. Settings' paths (`cache_dir`, `models_dirs`) must be valid on the workers too.
Interrupting the driver ends the Ray session and with it every task; a task killed mid-run
cannot close its sandbox, so a container may be left on its node (`swe-lsp sandbox sweep` there).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlparse

from swe_lsp.errors import SweLspError
from swe_lsp.llm import Backend, Manifest, open_backend
from swe_lsp.settings import ModelSettings, Settings

LOCAL_HOSTS = ("localhost", "127.0.0.1", "::1", "0.0.0.0")


class FanoutError(SweLspError):
    """A Ray run that cannot start, or that ended with instances whose tasks failed."""


@dataclass(frozen=True)
class RayOptions:
    """Where the tasks run. `address` None: a local Ray instance on this machine with `workers`
    worker processes (None: one per CPU); else the cluster at `address` (`ray://host:10001`, or
    `auto` on one of its nodes), with at most `workers` tasks in flight (None: as many as it has
    CPUs for). `temp_dir` is the local instance's session folder (Ray's socket paths must stay
    short: keep it under /tmp); `runtime_env` is passed to `ray.init` as it is."""

    address: str | None = None
    workers: int | None = None
    temp_dir: str | None = None
    runtime_env: Mapping[str, Any] | None = field(default=None, hash=False)


@contextmanager
def connect(options: RayOptions) -> Iterator[None]:
    """Connected to Ray for the block: a local instance started here (and shut down after), or
    the cluster at `options.address` (disconnected after). A process already connected (a
    notebook, a test fixture) keeps its connection and it stays open."""
    import ray

    if ray.is_initialized():
        yield
        return
    common: dict[str, Any] = {"runtime_env": dict(options.runtime_env) if options.runtime_env else None}
    if options.address:
        ray.init(address=options.address, **common)
    else:
        ray.init(
            num_cpus=options.workers,
            include_dashboard=False,  # nothing to look at for a run this size; it also needs ray[default]
            _temp_dir=options.temp_dir,
            **common,
        )
    try:
        yield
    finally:
        ray.shutdown()


def fan_out(
    task: Callable[..., Any],
    jobs: Sequence[tuple[str, tuple[Any, ...]]],
    options: RayOptions,
    on_result: Callable[[str, Any], None],
) -> dict[str, str]:
    """Run `task(*args)` for every `(key, args)` of `jobs` as a Ray task of one CPU, at most
    `options.workers` at a time, calling `on_result(key, value)` in the driver as each finishes
    (in the order they finish). Returns the keys whose task failed, with why; an exception from
    `on_result` stops the run (the pending tasks end with the Ray session). Needs `connect`."""
    import ray
    from ray.exceptions import RayError

    remote = ray.remote(num_cpus=1)(task)
    limit = options.workers or max(len(jobs), 1)
    queue = list(jobs)
    pending: dict[Any, str] = {}
    failures: dict[str, str] = {}
    while queue or pending:
        while queue and len(pending) < limit:
            key, args = queue.pop(0)
            pending[remote.remote(*args)] = key
        done, _ = ray.wait(list(pending), num_returns=1)
        for ref in done:
            key = pending.pop(ref)
            try:
                value = ray.get(ref)
            except RayError as exc:
                cause = getattr(exc, "cause", None)
                failures[key] = f"{type(cause).__name__}: {cause}" if cause else str(exc).splitlines()[0]
                continue
            on_result(key, value)
    return failures


def raise_failures(failures: Mapping[str, str], total: int) -> None:
    """The error a run with failed tasks ends with (nothing when none failed)."""
    if not failures:
        return
    shown = "; ".join(
        f"{key}: {why.splitlines()[0] if why else '?'}" for key, why in list(failures.items())[:3]
    )
    more = f" (and {len(failures) - 3} more)" if len(failures) > 3 else ""
    raise FanoutError(
        f"{len(failures)} of {total} instance task(s) failed on the Ray workers: {shown}{more}. "
        "The others are written; run the same command again to retry the failed ones."
    )


class WorkerModel(Protocol):
    """What a task needs of the model: something picklable that opens a backend on the worker."""

    def open(self) -> Backend:
        """A backend for this task (closed by the task with `with`)."""
        ...


@dataclass(frozen=True)
class EndpointModel:
    """The model as every task reaches it: `manifest` served by the OpenAI-compatible endpoint
    of `settings.base_url` (or each role's own `base.url`), opened on the worker as an HTTP client."""

    manifest: Manifest
    settings: ModelSettings
    cache_dir: Path

    @staticmethod
    def of(manifest: Manifest, settings: ModelSettings, cache_dir: Path, cluster: bool) -> EndpointModel:
        """The model for Ray tasks, or a `FanoutError` saying what to change: every engine of the
        manifest must be an endpoint (none loads weights in the task), and on a cluster
        (`cluster`) none may be at a local address, which each worker would take for itself."""
        from swe_lsp.llm.factory import group_settings, resolve_backend_name

        for group in manifest.engine_groups():
            own = group_settings(group, settings)
            if resolve_backend_name(group.manifest, own) != "openai":
                raise FanoutError(
                    f"--ray runs the model behind one OpenAI-compatible endpoint that every task calls, "
                    f"but {group.manifest.name!r} would be loaded in process by each task: serve it "
                    "(e.g. `vllm serve MODEL --tensor-parallel-size N`) and pass "
                    "--backend openai --base-url http://HOST:8000/v1"
                )
            url = group.manifest.base.url or own.base_url or ""
            if cluster and urlparse(url).hostname in LOCAL_HOSTS:
                raise FanoutError(
                    f"the endpoint {url} is local to this machine, but the Ray workers run on other "
                    "nodes: give its address as they reach it (e.g. http://gpu-node:8000/v1)"
                )
        return EndpointModel(manifest, settings, cache_dir)

    def open(self) -> Backend:
        """The endpoint's client (no weights are loaded)."""
        return open_backend(self.manifest, self.settings, self.cache_dir)


def files_under(root: Path) -> dict[str, bytes]:
    """Every file under `root` by its path relative to it (what a task sends back)."""
    if not root.is_dir():
        return {}
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def write_files(root: Path, files: Mapping[str, bytes], last: str | None = None) -> None:
    """Write what a task sent back under `root`; files named `last` go after all others (they
    are the step's "this is complete" markers, e.g. synth's `report.json`)."""
    for rel in sorted(files, key=lambda r: Path(r).name == last):
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(files[rel])


def add_ray_arguments(parser: Any) -> None:
    """The flags that run a step as Ray tasks (`eval`, `synth`, `reject`)."""
    parser.add_argument(
        "--ray",
        action="store_true",
        help="one Ray task per instance, on a local Ray instance on this machine",
    )
    parser.add_argument(
        "--ray-address",
        default=None,
        metavar="ADDR",
        help="one Ray task per instance on the Ray cluster at ADDR (ray://head:10001, or auto on a node)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="with --ray: worker processes (default: one per CPU); with --ray-address: tasks in flight",
    )


def ray_options(args: Any) -> RayOptions | None:
    """The `RayOptions` the flags ask for, or None for the sequential path."""
    if not (args.ray or args.ray_address):
        if args.workers is not None:
            raise FanoutError("--workers is for Ray runs: add --ray (this machine) or --ray-address ADDR")
        return None
    if args.workers is not None and args.workers < 1:
        raise FanoutError("--workers must be at least 1")
    return RayOptions(address=args.ray_address, workers=args.workers)


def ray_model(options: RayOptions | None, manifest: Manifest, settings: Settings) -> EndpointModel | None:
    """The model the Ray tasks reach (`EndpointModel.of`), None for the sequential path; a run
    whose every task would load the model is refused here, before anything starts."""
    if options is None:
        return None
    return EndpointModel.of(manifest, settings.model, settings.cache_path(), options.address is not None)


def ray_provenance(options: RayOptions | None) -> dict[str, Any]:
    """What a step's provenance records of where it ran (nothing for the sequential path)."""
    return {"ray": options.address or "local", "workers": options.workers} if options is not None else {}
