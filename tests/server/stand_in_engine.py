"""A stand-in for `swe_lsp.search.resolve`, run by the real engine worker (`serve --engine
stand_in_engine:resolve`), for the server's tests that must not depend on a model's luck: what it
does is steered by markers in the issue text.

- `[block]`: report the `localize` stage, then wait until cancelled (a cancel mid-stage).
- `[crash]`: the worker process dies (`os._exit(3)`) in the `patch` stage.
- `[edit PATH OLD NEW]`: return one candidate replacing OLD with NEW in PATH (`_` stands for a
  space), built by the real patch package from the snapshot's text (the open buffer, else the
  file), so that review and apply are exercised for real.
- `[ignore-cancel]`: with `[block]`, ignore the cancel (the server must kill the worker).
- `[note TEXT]`: the report carries TEXT (`_` for a space) as a note, as a search without a PRM does.
- `[slow]`: burn CPU for about two seconds per stage, and while blocked (the latency bench's job).
- `[child]`: start a child process first, as vLLM starts its engine core, that sleeps (and ignores
  SIGTERM, as a busy one may); its pid ends every progress message (`... child PID`).
Each job writes `<out_dir>/stand-in.pid` (the worker's pid), so tests can check the worker survived.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable

from swe_lsp.patch import Patch, content_hash
from swe_lsp.search.job import Candidate, Cost, Evidence, JobReport, Progress, ResolveRequest, StageCost

STAGES = ("snapshot", "index", "understand", "localize", "patch", "verify", "rank")


def _burn(seconds: float, cancel: threading.Event) -> None:
    end = time.monotonic() + seconds
    x = 0
    while time.monotonic() < end and not cancel.is_set():
        for i in range(10_000):
            x += i * i


def resolve(
    request: ResolveRequest,
    backend: object,
    settings: object,
    progress: Callable[[Progress], None],
    cancel: threading.Event,
) -> JobReport:
    text = request.issue.text
    if request.out_dir is not None:
        request.out_dir.mkdir(parents=True, exist_ok=True)
        (request.out_dir / "stand-in.pid").write_text(str(os.getpid()))
    child = None
    if "[child]" in text:
        code = "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(600)"
        child = subprocess.Popen([sys.executable, "-c", code])
    for i, stage in enumerate(STAGES):
        if cancel.is_set():
            return JobReport(request.job_id, "cancelled")
        message = f"{stage} {i + 1}/{len(STAGES)}" + (f" child {child.pid}" if child else "")
        progress(Progress(request.job_id, stage, message, i / len(STAGES)))
        if "[slow]" in text:
            _burn(2.0, cancel)
        if stage == "localize" and "[block]" in text:
            if "[ignore-cancel]" in text:
                time.sleep(3600)
            if "[slow]" in text:
                _burn(3600, cancel)  # the bench's busy worker: CPU-bound until cancelled
            cancel.wait()
            return JobReport(request.job_id, "cancelled")
        if stage == "patch" and "[crash]" in text:
            os._exit(3)
    candidates = []
    match = re.search(r"\[edit (\S+) (\S+) (\S+)\]", text)
    if match:
        path, old, new = (g.replace("_", " ") if i else g for i, g in enumerate(match.groups()))
        original = request.buffers.get(path)
        if original is None:
            original = (request.workspace / path).read_bytes().decode("utf-8")
        patch = Patch.from_texts({path: original}, {path: original.replace(old, new)})
        candidates.append(
            Candidate(
                rank=0,
                diff=patch.diff,
                files=patch.files,
                base_hashes={path: content_hash(original)},
                score=0.9,
                evidence=Evidence(verified=True, reproduced=True, repro_before_exit=1, repro_after_exit=0),
                summary=f"replace {old} with {new}",
            )
        )
    cost = Cost({"patch": StageCost(10, 20, 1, 0.0, 0.1)}, wall_seconds=0.5)
    notes = tuple(n.replace("_", " ") for n in re.findall(r"\[note (\S+)\]", text))
    return JobReport(request.job_id, "done", tuple(candidates), cost, notes=notes)


resolve.needs_backend = False  # type: ignore[attr-defined]
