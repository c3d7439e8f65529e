"""Behaviour every sandbox kind shares: verifying patches, timeouts, cancellation, output caps."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
from sandbox_helpers import CalcRepo

from swe_lsp.sandbox import verify_candidate
from swe_lsp.sandbox.base import Sandbox
from swe_lsp.sandbox.runners import PytestRunner

PYTEST = PytestRunner().argv()


def test_known_good_patch_is_verified(sandbox: Sandbox, calc_repo: CalcRepo) -> None:
    tests = PytestRunner().argv(PytestRunner().select(calc_repo.path, list(calc_repo.good)))
    runs = verify_candidate(sandbox, calc_repo.path, calc_repo.good, calc_repo.repro, tests)
    assert runs.repro_before is not None and runs.repro_before.exit_code == 1, runs.repro_before
    assert runs.repro_after is not None and runs.repro_after.ok, runs.repro_after
    assert "fixed" in runs.repro_after.stdout
    assert runs.tests is not None and runs.tests.ok, runs.tests
    assert "1 passed" in runs.tests.stdout


def test_known_bad_patch_is_rejected(sandbox: Sandbox, calc_repo: CalcRepo) -> None:
    runs = verify_candidate(sandbox, calc_repo.path, calc_repo.bad, calc_repo.repro, PYTEST)
    assert runs.repro_before is not None and runs.repro_before.exit_code == 1
    assert runs.repro_after is not None and runs.repro_after.exit_code == 1
    assert "AssertionError: 6" in runs.repro_after.stderr
    assert runs.tests is not None and runs.tests.exit_code == 1
    assert "1 failed, 1 passed" in runs.tests.stdout


def test_files_a_script_writes_do_not_reach_the_regression_tests(
    sandbox: Sandbox, calc_repo: CalcRepo
) -> None:
    # A reproduction written from tests puts a test file in place; one that fails for another reason
    # must not be read as a regression of the patch (the search validates the script beforehand).
    script = (
        "import pathlib\n"
        "pathlib.Path('tests/test_written.py').write_text('def test_new():\\n    assert False\\n')\n"
        + calc_repo.repro
    )
    runs = verify_candidate(sandbox, calc_repo.path, calc_repo.good, script, PYTEST, repro_before=False)
    assert runs.repro_after is not None and runs.repro_after.ok, runs.repro_after
    assert runs.tests is not None and runs.tests.ok and "test_written" not in runs.tests.stdout, runs.tests
    assert runs.repro_before is None


def test_user_tree_is_never_written(sandbox: Sandbox, calc_repo: CalcRepo) -> None:
    before = sorted(p.relative_to(calc_repo.path) for p in calc_repo.path.rglob("*"))
    with sandbox.session(calc_repo.path) as session:
        session.put_files({**calc_repo.good, "calc/text.py": None, "new/file.txt": b"x"})
        result = session.run("cat calc/ops.py new/file.txt; test -e calc/text.py || echo gone")
    assert result.ok, result
    assert "a + b" in result.stdout and result.stdout.rstrip().endswith("xgone")
    assert (calc_repo.path / "calc" / "ops.py").read_text().endswith("a - b\n")
    assert sorted(p.relative_to(calc_repo.path) for p in calc_repo.path.rglob("*")) == before


def test_hanging_script_is_killed_at_the_timeout(sandbox: Sandbox, calc_repo: CalcRepo) -> None:
    with sandbox.session(calc_repo.path) as session:
        hung = session.run(["python3", "-c", "import time; print('start', flush=True); time.sleep(600)"], 1.5)
        assert hung.timed_out and not hung.cancelled
        assert hung.exit_code is None
        assert "start" in hung.stdout
        again = session.run(["python3", "-c", "print('still usable')"], 60)  # the session survives
        assert again.ok and "still usable" in again.stdout


def test_cancel_stops_a_run(sandbox: Sandbox, calc_repo: CalcRepo) -> None:
    cancel = threading.Event()
    with sandbox.session(calc_repo.path) as session:
        threading.Timer(0.5, cancel.set).start()
        result = session.run(["sleep", "600"], 300, cancel=cancel)
        assert result.cancelled and not result.timed_out and result.exit_code is None
        assert session.run(["true"]).cancelled  # a cancelled session runs nothing more


def test_output_is_truncated_head_and_tail_kept(sandbox: Sandbox, calc_repo: CalcRepo) -> None:
    script = "print('FIRST'); print('x' * 100000); print('LAST')"
    result = sandbox.run(calc_repo.path, ["python3", "-c", script], 60)
    assert result.ok and result.truncated
    assert result.stdout.startswith("FIRST") and result.stdout.rstrip().endswith("LAST")
    assert len(result.stdout.encode()) < 4096 + 200
    assert "bytes of output cut" in result.stdout


def test_exit_status_and_stderr_come_back(sandbox: Sandbox, calc_repo: CalcRepo) -> None:
    result = sandbox.run(calc_repo.path, "echo oops >&2; exit 3", 60)
    assert result.exit_code == 3 and not result.ok
    assert result.stderr.strip() == "oops" and not result.truncated


@pytest.fixture
def host_listener() -> Iterator[int]:
    """A real TCP server on the host's loopback that accepts connections until the test ends."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.2)
    stop = threading.Event()

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            conn.sendall(b"hello\n")
            conn.close()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join()
    server.close()


CONNECT = (
    "import socket, sys\n"
    "s = socket.create_connection(('127.0.0.1', int(sys.argv[1])), timeout=5)\n"
    "print(s.recv(10).decode())\n"
)


def test_listener_is_reachable_from_the_host(host_listener: int, tmp_path) -> None:
    # Makes the isolation test below meaningful: the same script does reach the server unsandboxed.
    from swe_lsp.sandbox.local_sandbox import LocalSandbox
    from swe_lsp.settings import SandboxSettings

    result = LocalSandbox(SandboxSettings()).run(tmp_path, ["python3", "-c", CONNECT, str(host_listener)], 30)
    assert result.ok and "hello" in result.stdout, result


def test_no_network_to_the_host(isolated_sandbox: Sandbox, host_listener: int, calc_repo: CalcRepo) -> None:
    result = isolated_sandbox.run(calc_repo.path, ["python3", "-c", CONNECT, str(host_listener)], 30)
    assert result.exit_code == 1, result
    assert "hello" not in result.stdout
    assert "Error" in result.stderr  # ConnectionRefused or unreachable network, never a connection
