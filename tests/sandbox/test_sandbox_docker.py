"""Docker-only behaviour: isolation settings, cleanup under cancellation, sweeping, the env layer."""

from __future__ import annotations

import shutil
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from sandbox_helpers import CalcRepo, settings

from swe_lsp.sandbox import docker_engine
from swe_lsp.sandbox.base_image import DEFAULT_BASE_IMAGE
from swe_lsp.sandbox.docker_sandbox import DockerSandbox
from swe_lsp.sandbox.errors import SandboxImageError

pytestmark = pytest.mark.docker


def test_container_is_isolated_and_labelled(docker_client, new_docker, calc_repo: CalcRepo) -> None:
    sandbox = new_docker(warm=0, memory="512m", cpus=0.5, pids=64)
    with sandbox.session(calc_repo.path, job_id="iso") as session:
        attrs = docker_client.api.inspect_container(session.container.id)
        whoami = session.run(["id", "-u"])
        interfaces = session.run(["cat", "/proc/net/dev"])
    host = attrs["HostConfig"]
    assert host["NetworkMode"] == "none"
    assert attrs["Mounts"] == [] and not host["Binds"]  # the workspace is copied, never mounted
    assert host["Memory"] == 512 * 1024**2 and host["PidsLimit"] == 64 and host["NanoCpus"] == 5 * 10**8
    assert host["CapDrop"] == ["ALL"]
    assert attrs["Config"]["Labels"][docker_engine.LABEL_JOB] == "iso"
    assert attrs["Config"]["Labels"][docker_engine.LABEL_OWNER] == docker_engine.owner()
    assert whoami.stdout.strip() == "1000"
    # Only loopback: with any network (bridge, host) there would be an eth0 or the host's devices.
    names = [line.split(":")[0].strip() for line in interfaces.stdout.splitlines()[2:]]
    assert names == ["lo"], interfaces.stdout
    sandbox.close()
    assert docker_engine.owned_containers(docker_client, "iso") == []  # removed on close


def test_memory_limit_kills_a_hog(new_docker, calc_repo: CalcRepo) -> None:
    sandbox = new_docker(warm=0, memory="128m")
    result = sandbox.run(calc_repo.path, ["python3", "-c", "x = bytearray(1024**3); print('alive')"], 120)
    assert result.exit_code not in (0, None) and "alive" not in result.stdout


def test_no_container_left_after_20_cancelled_runs(docker_client, new_docker, calc_repo: CalcRepo) -> None:
    sandbox = new_docker(warm=2)

    def cancelled_run(_: int) -> bool:
        cancel = threading.Event()
        with sandbox.session(calc_repo.path, job_id="cancel-20") as session:
            timer = threading.Timer(0.3, cancel.set)
            timer.start()
            result = session.run(["sleep", "600"], 300, cancel=cancel)
            timer.join()
        return result.cancelled

    with ThreadPoolExecutor(4) as pool:
        outcomes = list(pool.map(cancelled_run, range(20)))
    assert all(outcomes)
    sandbox.close()  # waits for the background removals and removes the warm containers
    assert docker_engine.owned_containers(docker_client) == []


def test_container_removed_when_the_caller_fails(docker_client, new_docker, calc_repo: CalcRepo) -> None:
    sandbox = new_docker(warm=0)
    with pytest.raises(RuntimeError), sandbox.session(calc_repo.path, job_id="boom"):
        raise RuntimeError("search stage crashed")
    sandbox.close()
    assert docker_engine.owned_containers(docker_client, "boom") == []


def test_prepare_warms_a_container_that_the_first_session_takes(
    docker_client, new_docker, calc_repo: CalcRepo
) -> None:
    sandbox = new_docker(warm=1)
    assert docker_engine.owned_containers(docker_client) == []
    sandbox.prepare(calc_repo.path)  # returns at once; the container starts in the background
    for _ in range(300):
        warm = docker_engine.owned_containers(docker_client, "warm")
        if warm:
            break
        time.sleep(0.1)
    assert len(warm) == 1
    with sandbox.session(calc_repo.path, job_id="prepared") as session:
        assert session.container.name == warm[0]  # taken warm, not started on the caller's path
        assert session.run(["python3", "-c", "print(2 + 3)"]).stdout.strip() == "5"
    sandbox.close()  # the refill started by the take is removed too
    assert docker_engine.owned_containers(docker_client) == []


def test_ready_says_whether_a_session_starts_without_a_build(
    new_docker, calc_repo: CalcRepo, tmp_path
) -> None:
    sandbox = new_docker(warm=0)
    with sandbox.session(calc_repo.path) as session:  # builds (or finds) its environment
        assert session.run(["true"]).exit_code == 0
    assert sandbox.ready(calc_repo.path)
    other = tmp_path / "other"
    shutil.copytree(calc_repo.path, other)
    (other / "requirements.txt").write_text("# a dependency file of its own: another environment\n")
    assert not sandbox.ready(other)  # and asking did not build it
    assert not sandbox.ready(other)


def _dead_pid() -> int:
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def test_sweep_removes_only_orphaned_swe_lsp_containers(docker_client) -> None:
    host = docker_engine.owner().rpartition(":")[0]
    orphan_labels = {docker_engine.LABEL_OWNER: f"{host}:{_dead_pid()}", docker_engine.LABEL_JOB: "crashed"}
    orphan = docker_client.containers.create(DEFAULT_BASE_IMAGE, ["sleep", "600"], labels=orphan_labels)
    live = docker_client.containers.create(
        DEFAULT_BASE_IMAGE, ["sleep", "600"], labels=docker_engine.labels("live")
    )
    foreign = docker_client.containers.create(DEFAULT_BASE_IMAGE, ["sleep", "600"], labels={"x": "y"})
    try:
        orphan.start()
        removed = docker_engine.sweep(docker_client)
        assert orphan.name in removed
        assert live.name not in removed and foreign.name not in removed
        remaining = {c.name for c in docker_client.containers.list(all=True)}
        assert orphan.name not in remaining
        assert {live.name, foreign.name} <= remaining
    finally:
        for container in (orphan, live, foreign):
            docker_engine.remove_container(container)


def test_missing_base_image_says_how_to_build(docker_client) -> None:
    with pytest.raises(SandboxImageError, match="pull or build"):
        DockerSandbox(settings(image="swe-lsp-test-no-such-image:0"), docker_client)
