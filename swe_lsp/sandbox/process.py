"""Running a host process under a timeout and a cancel event, output capped: used by bwrap and local.

The process gets its own session (process group), so a kill at the timeout reaches its children
too; bwrap's PID namespace makes that complete, the local kind does its best.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import IO

from swe_lsp.sandbox.base import Ending, SandboxSession, result_of, wait_for
from swe_lsp.sandbox.result import OutputCap, RunResult
from swe_lsp.sandbox.tree import copy_tree, write_files
from swe_lsp.settings import SandboxSettings

log = logging.getLogger(__name__)

# After a kill, how long the output pipes may stay open (a daemonised grandchild holding them).
_DRAIN_S = 2.0
# What a wrapper makes of (argv, workdir): bwrap prefixes its own arguments; local adds nothing.
Wrapper = Callable[[list[str], Path], list[str]]


def run_process(
    argv: list[str],
    cwd: Path,
    env: Mapping[str, str],
    timeout_s: float,
    cancel: threading.Event | None,
    max_output_bytes: int,
) -> RunResult:
    """Run `argv` in `cwd` with exactly `env`; kill its process group at the timeout or on cancel."""
    start = time.monotonic()
    out, err = OutputCap(max_output_bytes), OutputCap(max_output_bytes)
    proc = subprocess.Popen(
        argv,
        cwd=cwd,
        env=dict(env),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    readers = [_pump(proc.stdout, out), _pump(proc.stderr, err)]
    finished = threading.Event()
    threading.Thread(target=lambda: (proc.wait(), finished.set()), daemon=True).start()
    ending = wait_for(finished, timeout_s, cancel)
    if ending is not Ending.FINISHED:
        _kill_group(proc)
    for reader in readers:
        reader.join(_DRAIN_S)
    return result_of(ending, lambda: proc.returncode, out, err, start)


def _pump(stream: IO[bytes] | None, sink: OutputCap) -> threading.Thread:
    def pump() -> None:
        assert stream is not None
        with stream:
            while chunk := stream.read1(65536):
                sink.write(chunk)

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    return thread


def _kill_group(proc: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()


def sandbox_env(workdir: Path, extra: Mapping[str, str] | None) -> dict[str, str]:
    """A small environment: the host's PATH and locale, HOME in the copy, the tree importable.

    The host's full environment is not passed on: it may hold tokens a test has no business
    seeing.
    """
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
        "HOME": str(workdir.parent / "home"),
        "TMPDIR": "/tmp",
        "PYTHONPATH": _pythonpath(workdir),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    env.update(extra or {})
    return env


def _pythonpath(workdir: Path) -> str:
    src = workdir / "src"
    return f"{workdir}:{src}" if src.is_dir() else str(workdir)


# Prints the build folder of each meson-python editable import hook the interpreter installs at
# start-up (`MesonpyMetaFinder`, from a `.pth` file in its site-packages).
_MESON_HOOKS = (
    "import sys\n"
    "for f in sys.meta_path:\n"
    "    if type(f).__name__ == 'MesonpyMetaFinder' and isinstance(getattr(f, '_build_path', None), str):\n"
    "        print(f._build_path)\n"
)
# How long that look may take: one interpreter start-up with its `.pth` files.
_HOOKS_TIMEOUT_S = 30.0


class ProcessSession(SandboxSession):
    """A tree copied into a private temporary folder; commands run there through `wrap`."""

    def __init__(self, tree: Path, settings: SandboxSettings, wrap: Wrapper) -> None:
        super().__init__(settings)
        self._wrap = wrap
        self._root = Path(tempfile.mkdtemp(prefix="swe-lsp-sandbox-"))
        self.workdir = self._root / "workspace"
        (self._root / "home").mkdir()
        self.copy_in(lambda: copy_tree(tree, self.workdir))
        self._hooks = self._editable_hooks()

    def _editable_hooks(self) -> dict[str, str]:
        """What keeps the host's editable import hooks off the copy. The copy runs the workspace's
        own Python, where a meson-python editable install (scikit-learn's, numpy's) puts a hook
        ahead of every path that imports the project from the user's workspace, rebuilding it
        there: the candidate's copy would never be imported, and `local` would write the user's
        build folder. meson-python's hook steps aside for the build folders `MESONPY_EDITABLE_SKIP`
        names (the variable it sets itself while it rebuilds); the copy holds what those builds
        made (`swe_lsp.generated.meson_outputs`)."""
        argv = self._wrap(["python3", "-c", _MESON_HOOKS], self.workdir)
        try:
            found = run_process(
                argv, self.workdir, sandbox_env(self.workdir, None), _HOOKS_TIMEOUT_S, None, 1 << 16
            )
        except OSError:
            return {}  # no python3 to start: the commands will say so themselves
        if not found.ok:  # the runs go on, but an editable hook, if any, may lead them to the workspace
            log.warning(
                "could not list the editable import hooks of the sandbox's python3: %s", found.stderr[-500:]
            )
            return {}
        builds = [line.strip() for line in found.stdout.splitlines() if line.strip()]
        return {"MESONPY_EDITABLE_SKIP": os.pathsep.join(builds)} if builds else {}

    def _run(
        self, argv: list[str], timeout_s: float, env: dict[str, str], cancel: threading.Event | None
    ) -> RunResult:
        """Run `argv` through the wrapper in the copy, as a process of its own session."""
        wrapped = self._wrap(argv, self.workdir)
        env = sandbox_env(self.workdir, {**self._hooks, **env})
        return run_process(wrapped, self.workdir, env, timeout_s, cancel, self.settings.max_output_bytes)

    def put_files(self, files: Mapping[str, bytes | None]) -> None:
        """Write the changed files into the copy."""
        write_files(self.workdir, files)

    def close(self) -> None:
        """Remove the temporary folder."""
        shutil.rmtree(self._root, ignore_errors=True)
