"""Building a project's environment image from its `EnvPlan`, once per plan digest.

The build container starts from the offline base image of the plan's Python (built with
debootstrap on first use), holds a copy of the tree at /workspace, and runs the plan's steps as
root; only this container may reach the network, through the same package index, proxy and CA
certificates the host's pip is configured with (a corporate index or TLS-inspecting proxy then
works inside too). Local indexes and wheel folders of the host are not visible in the container
and are left out. The tree at /workspace (with its built extensions and editable install) is
committed with the image; each verification container overlays the candidate's copy on it.

Each step's output is streamed to `on_line` (the CLI's bar, the LSP's `$/progress`); a failed
build raises `EnvironmentBuildError` naming the step and the last lines of its log.
"""

from __future__ import annotations

import collections
import logging
import os
import re
import shlex
import subprocess
import sys
import threading
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from swe_lsp.sandbox import docker_engine
from swe_lsp.sandbox.base import Ending, wait_for
from swe_lsp.sandbox.base_image import BaseImageRecipe, base_image_present, build_base_image
from swe_lsp.sandbox.environment import VENV, EnvPlan
from swe_lsp.sandbox.errors import SandboxError, SandboxImageError
from swe_lsp.sandbox.tree import files_archive, iter_tree, tree_archive

if TYPE_CHECKING:
    import docker

log = logging.getLogger(__name__)

WORKDIR = "/workspace"
SANDBOX_UID = 1000
_CA_PATH = "/etc/swe-lsp/ca.crt"
# The tree's own files, removed from the image after the build (see `build_script`).
_TREE_FILES = "/etc/swe-lsp/tree-files"
_STEP_MARK = "==> swe-lsp step "
_STEP_LINE = re.compile(rf"^{re.escape(_STEP_MARK)}(\d+)/(\d+): (.*)$")
# A build with compiled extensions (scikit-learn, astropy, matplotlib) takes 10-20 minutes on two
# cores; twice that bounds a build that hangs (a prompt, a dead mirror) without cutting real ones.
BUILD_TIMEOUT_S = 2400
# Lines of the build log kept for the error message: enough to see a compiler's or pip's error.
TAIL_LINES = 60
# pip settings passed to the build container from the host's configuration.
_PIP_KEYS = ("index-url", "extra-index-url", "trusted-host", "timeout", "default-timeout", "proxy", "retries")
_PROXY_VARS = ("HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy")
_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()

OnLine = Callable[[str], None]


class EnvironmentBuildError(SandboxImageError):
    """An environment build failed: which step, and the end of its log."""

    def __init__(self, plan: EnvPlan, step: str, code: int | None, tail: str) -> None:
        self.step, self.tail = step, tail
        what = "timed out" if code is None else f"exit {code}"
        super().__init__(
            f"building the sandbox environment ({plan.python.describe()}) failed at step '{step}' "
            f"({what}); candidates cannot be verified until it builds. Last lines of its log:\n{tail}"
        )


class BuildCancelled(SandboxError):
    """The environment build was stopped (the job or check was cancelled, the sandbox closed)."""


def image_tag(plan: EnvPlan, base: str | None = None) -> str:
    """The tag of `plan`'s image: its digest, and the replacing base image's name when there is one."""
    return plan.tag if base is None else f"{plan.tag}-{_slug(base)}"


def env_image(
    client: docker.DockerClient,
    plan: EnvPlan,
    tree: Path,
    on_line: OnLine | None = None,
    base: str | None = None,
    cancel: threading.Event | None = None,
) -> str:
    """The environment image for `plan`, built from `tree` unless cached; `base` replaces the
    plan's base image (the `sandbox.image` setting). Parallel callers build it once. `cancel`
    stops a build (its container is removed, nothing is cached) with `BuildCancelled`."""
    tag = image_tag(plan, base)
    with _lock(tag):
        if not base_image_present(client, tag):
            base = base or _base_image(client, plan, on_line)
            _build(client, plan, tree, tag, base, on_line or _quiet, cancel or threading.Event())
    return tag


def image_cached(client: docker.DockerClient, plan: EnvPlan, base: str | None = None) -> bool:
    """Whether `plan`'s image is already built (for `swe-lsp sandbox env`)."""
    return base_image_present(client, image_tag(plan, base))


def _quiet(_line: str) -> None:
    return None


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9_.-]+", "-", text.lower())[-40:]


def _lock(tag: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(tag, threading.Lock())


def _base_image(client: docker.DockerClient, plan: EnvPlan, on_line: OnLine | None) -> str:
    """The plan's base image, bootstrapped from Debian the first time a project needs it."""
    tag = plan.base_image
    with _lock(tag):
        if not base_image_present(client, tag):
            say = on_line or _quiet
            say(f"building the base image {tag} (Debian {plan.python.suite}, once)")
            build_base_image(client, tag, BaseImageRecipe(suite=plan.python.suite), say)
    return tag


def build_script(plan: EnvPlan) -> str:
    """The shell script the build container runs: each step announced, optional ones allowed to
    fail; then the tree's own files are removed, leaving what the build made (compiled extensions,
    egg-info), so the image holds no stale copy of code a session's tree no longer has (the image
    is shared by every tree with the same dependency files); the rest goes to the sandbox user."""
    lines = ["set -e", f"cd {WORKDIR}"]
    total = len(plan.steps)
    for i, step in enumerate(plan.steps, 1):
        lines.append(f"echo {shlex.quote(f'{_STEP_MARK}{i}/{total}: {step.name}')}")
        if step.optional:
            lines.append(f"( {step.command} ) || echo 'swe-lsp: optional step {step.name} failed; going on'")
        else:
            lines.append(f"( {step.command} )")
    lines.append(f"tr '\\n' '\\0' < {_TREE_FILES} | xargs -0 rm -f --")
    lines.append(f"chown -R {SANDBOX_UID}:{SANDBOX_UID} {WORKDIR}")
    return "\n".join(lines) + "\n"


def host_pip_settings() -> tuple[dict[str, str], Path | None]:
    """The host pip's index, proxy and timeout settings as PIP_* variables, and its CA bundle.

    Read with `pip config list` (files and environment, as pip itself would); `file://` indexes
    and local folders are dropped, since the container cannot see them."""
    done = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"],
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    env: dict[str, str] = {}
    cert: Path | None = None
    if done.returncode != 0:  # the build then uses pip's defaults; say why, it may not reach them
        log.warning(
            "`pip config list` failed, the environment build uses pip's defaults: %s", done.stderr[-500:]
        )
    for line in done.stdout.splitlines():
        key, sep, value = line.partition("=")
        if not sep:
            continue
        name = key.rpartition(".")[2]
        value = value.strip().strip("'\"")
        if name == "cert" and Path(value).is_file():
            cert = Path(value)
        elif name in _PIP_KEYS:
            kept = " ".join(v for v in value.split() if not v.startswith(("file:", "/", ".")))
            if kept:
                env[f"PIP_{name.upper().replace('-', '_')}"] = kept
    return env, cert


def _build(
    client: docker.DockerClient,
    plan: EnvPlan,
    tree: Path,
    tag: str,
    base: str,
    on_line: OnLine,
    cancel: threading.Event,
) -> None:
    pip_env, cert = host_pip_settings() if plan.network else ({}, None)
    env = {**pip_env, **dict(plan.env), "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PIP_NO_INPUT": "1"}
    env.update({k: v for k, v in os.environ.items() if k in _PROXY_VARS})
    if cert is not None:
        env.update({"PIP_CERT": _CA_PATH, "REQUESTS_CA_BUNDLE": _CA_PATH, "SSL_CERT_FILE": _CA_PATH})
    container = client.containers.create(
        base,
        ["sh", "-c", build_script(plan)],
        working_dir=WORKDIR,
        environment=env,
        network_mode="bridge" if plan.network else "none",
        labels=docker_engine.labels("env-build"),
    )
    try:
        with tree_archive(tree, WORKDIR.lstrip("/"), SANDBOX_UID) as archive:
            container.put_archive("/", archive)
        own = {
            "tree-files": "".join(f"{rel}\n" for path, rel in iter_tree(tree) if not path.is_dir()).encode()
        }
        if cert is not None:
            own["ca.crt"] = cert.read_bytes()
        container.put_archive("/", files_archive(own, "etc/swe-lsp", uid=0))
        container.start()
        code, step, tail = _follow(container, plan, on_line, cancel)
        if cancel.is_set():
            raise BuildCancelled(f"the environment build was cancelled at step '{step}'")
        if code != 0:
            raise EnvironmentBuildError(plan, step, code, tail)
        repository, _, version = tag.partition(":")
        changes = [
            f"ENV VIRTUAL_ENV={VENV}",
            f"ENV PATH={VENV}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            *(f"ENV {k}={v}" for k, v in plan.env),
            f"WORKDIR {WORKDIR}",
        ]
        container.commit(repository=repository, tag=version, changes=changes)
    finally:
        docker_engine.remove_container(container)


def _follow(
    container: docker.models.containers.Container, plan: EnvPlan, on_line: OnLine, cancel: threading.Event
) -> tuple[int | None, str, str]:
    """Stream the build's log to `on_line` until it ends, times out or `cancel` is set;
    (exit code, last step, tail). A build that is stopped is removed at once."""
    tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
    step = plan.steps[0].name if plan.steps else "setup"
    logged, finished = threading.Event(), threading.Event()
    outcome: dict[str, int] = {}

    def pump() -> None:
        nonlocal step
        buffer = b""
        try:
            for chunk in container.logs(stream=True, follow=True):
                buffer += chunk
                *lines, buffer = buffer.split(b"\n")
                for raw in lines:
                    line = raw.decode("utf-8", "replace").rstrip()
                    mark = _STEP_LINE.match(line)
                    if mark:
                        step = mark[3]
                        on_line(f"environment step {mark[1]}/{mark[2]}: {step}")
                        continue
                    tail.append(line)
                    on_line(line)
        except Exception:  # the stream ends when the container is removed (timeout, cancel)
            pass
        finally:
            logged.set()

    def wait() -> None:
        try:
            outcome["code"] = int(container.wait()["StatusCode"])
        except Exception:  # removed under it
            pass
        finally:
            finished.set()

    threading.Thread(target=pump, name="swe-lsp-env-build-log", daemon=True).start()
    threading.Thread(target=wait, name="swe-lsp-env-build-wait", daemon=True).start()
    if wait_for(finished, BUILD_TIMEOUT_S, cancel) is not Ending.FINISHED:
        docker_engine.remove_container(container)
    logged.wait(10)
    return outcome.get("code"), step, "\n".join(tail)
