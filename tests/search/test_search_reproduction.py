"""The issue's validated reproduction: how a run on the original tree is classified (the rule, and
real runs in the local sandbox), the bounded retries with the run's log, one kept script reused for
every candidate with its original-tree run done once, and candidates judged by the tests alone,
with the reason, when no script reproduces."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest
from scripted import (
    FILE_ANSWERS,
    GOOD_PATCH,
    GOOD_REPRO,
    LOCATE,
    OTHER_PATCH,
    DiffVerifier,
    answer,
    outcomes,
    run_job,
)

from swe_lsp.sandbox import RunResult
from swe_lsp.sandbox.local_sandbox import LocalSandbox
from swe_lsp.search import read_trajectory
from swe_lsp.search.reproduction import ReproOutcome, classify, crash_cause
from swe_lsp.search.verification import SandboxVerifier
from swe_lsp.settings import SandboxSettings

R = ReproOutcome
CAUGHT = "Traceback (most recent call last):\nZeroDivisionError: division by zero\n"
NAME_ERROR = (
    "Traceback (most recent call last):\n"
    '  File "/w/.swe_lsp/repro.py", line 3, in <module>\n'
    "    print(averge([]))\n"
    "NameError: name 'averge' is not defined\n"
)


@pytest.mark.parametrize(
    ("run", "expected"),
    [
        (RunResult(1, "ISSUE REPRODUCED\n", ""), R.REPRODUCED),
        (RunResult(2, "", "ISSUE REPRODUCED\n"), R.REPRODUCED),  # the marker on stderr counts too
        # A caught traceback printed before the verdict is the script's own report, not a crash.
        (RunResult(1, "ISSUE REPRODUCED\n", CAUGHT), R.REPRODUCED),
        (RunResult(0, "ISSUE RESOLVED\n", ""), R.NOT_REPRODUCED),
        (RunResult(0, "", ""), R.NOT_REPRODUCED),  # ran clean, no verdict: the bug did not show
        (RunResult(1, "", NAME_ERROR), R.CRASHED),  # a name the script invented
        (RunResult(1, "", "  File x\n    def (:\nSyntaxError: invalid syntax\n"), R.CRASHED),
        (RunResult(1, "", "ModuleNotFoundError: No module named 'nope'\n"), R.CRASHED),
        (RunResult(1, "", ""), R.CRASHED),  # a bare sys.exit(1): no verdict
        (RunResult(1, "ISSUE RESOLVED\n", ""), R.CRASHED),
        (RunResult(1, "ISSUE REPRODUCED\nISSUE RESOLVED\n", ""), R.CRASHED),  # contradictory
        (RunResult(0, "ISSUE REPRODUCED\n", ""), R.CRASHED),  # the marker, but exit 0
        (RunResult(None, "ISSUE REPRODUCED\n", "", timed_out=True), R.TIMED_OUT),
        (RunResult(None, "", "", cancelled=True), R.CANCELLED),
    ],
)
def test_the_classification_rule(run: RunResult, expected: ReproOutcome) -> None:
    assert classify(run) is expected


def test_a_crash_names_its_exception() -> None:
    assert crash_cause(RunResult(1, "", NAME_ERROR)) == "NameError: name 'averge' is not defined"
    assert "without printing ISSUE REPRODUCED" in crash_cause(RunResult(1, "", ""))


def _tiny_repo(root: Path) -> Path:
    """A one-module package whose mean([]) divides by zero (the issue)."""
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("def mean(xs):\n    return sum(xs) / len(xs)\n")
    return root


SCRIPTS = {
    R.REPRODUCED: (
        "import sys\nfrom pkg import mean\ntry:\n    mean([])\nexcept ZeroDivisionError:\n"
        "    print('ISSUE REPRODUCED')\n    sys.exit(1)\nprint('ISSUE RESOLVED')\n"
    ),
    R.NOT_REPRODUCED: "from pkg import mean\nassert mean([2, 4]) == 3\nprint('ISSUE RESOLVED')\n",
    R.CRASHED: "import sys\nfrom pkg import average\nprint('ISSUE REPRODUCED')\nsys.exit(1)\n",
    R.TIMED_OUT: "import time\ntime.sleep(30)\nprint('ISSUE REPRODUCED')\n",
}


@pytest.mark.parametrize("expected", list(SCRIPTS))
def test_real_runs_on_the_original_tree(expected: ReproOutcome, tmp_path: Path) -> None:
    tree = _tiny_repo(tmp_path / "repo")
    timeout = 2.0 if expected is R.TIMED_OUT else 60.0
    settings = SandboxSettings(kind="local", timeout_s=timeout)
    with LocalSandbox(settings) as box:
        verifier = SandboxVerifier(box, tree, "true", timeout, threading.Event(), "j")
        run = verifier.reproduce(SCRIPTS[expected])
    assert classify(run) is expected, run
    if expected is R.CRASHED:
        assert "ImportError: cannot import name 'average'" in crash_cause(run)
    assert not (tree / ".swe_lsp").exists()  # the script ran in a copy


def _scripts(repro: list[str], retry: list[str] | None = None) -> dict[str, list[str]]:
    out = {
        "understand": FILE_ANSWERS[:1],
        "localize": LOCATE,
        "patch": [answer(OTHER_PATCH), answer(GOOD_PATCH)],
        "repro": repro,
    }
    if retry is not None:
        out["repro_retry"] = retry
    return out


NEVER = "```python\nimport sys\nprint('ISSUE RESOLVED')\n```"  # never reproduces
CRASHES = "```python\nimport sys\nfrom statsmini import averge\nsys.exit(1)\n```"


@pytest.mark.parametrize("retries", [0, 2])
def test_a_script_that_never_reproduces_is_retried_a_bounded_number_of_times(
    workspace: Path, tmp_path: Path, retries: int
) -> None:
    verifier = DiffVerifier(runs={"ISSUE RESOLVED": RunResult(0, "ISSUE RESOLVED\n", "", duration_s=0.2)})
    run = run_job(
        workspace,
        tmp_path,
        _scripts([answer(NEVER)]),
        verifier=verifier,
        budget=2,
        beam=2,
        repro_retries=retries,
        max_refinements=0,
    )
    assert run.report.state == "done", run.report.error
    asked = [s for s, _ in run.policy.calls if s.startswith("repro")]
    assert asked == ["repro"] + ["repro_retry"] * retries
    assert len(verifier.reproduced_scripts) == 1 + retries
    # Written from the best candidate's locations: GOOD_PATCH (ORM 0.95) is u0.l0's second patch
    # (the two samples of each earlier stage gave the same answer: one file set, one location set).
    repro = outcomes(run, "repro")
    assert repro == {f"u0.l0.repro{i}": "not_reproduced" for i in range(1 + retries)}
    # Candidates are still verified (by the tests alone), none passes, and each says why.
    assert verifier.verified_ids and all(r.script is None for r in verifier.reproductions)
    for candidate in run.report.candidates:
        assert not candidate.evidence.verified
        assert candidate.evidence.repro_script is None
    assert '"kept": false' in (run.out / "cost.json").read_text()


def test_no_kept_script_means_the_tests_alone_judge_with_the_reason(tmp_path: Path) -> None:
    """With the real verifier: no candidate is verified, the tests still ran, and the note says
    why there is no script (the last attempt's outcome)."""
    from swe_lsp.search.model import LocationSet, PatchCandidate, Reproduction

    tree = _tiny_repo(tmp_path / "repo")
    test = "from pkg import mean\n\n\ndef test_mean():\n    assert mean([2, 4]) == 3\n"
    (tree / "test_pkg.py").write_text(test)
    fixed = "def mean(xs):\n    return sum(xs) / len(xs) if xs else 0.0\n"
    locations = LocationSet("u0.l0", "u0", ("pkg/__init__.py",), ())
    patch = PatchCandidate(
        "u0.l0.p0", "u0.l0", "diff", ("pkg/__init__.py",), {}, {"pkg/__init__.py": fixed}, "k", locations
    )
    none = Reproduction(None, "crashed", 3, 1, reason="no reproduction script reproduced the issue: crashed")
    command = f"{sys.executable} -m pytest -q -p no:cacheprovider"
    with LocalSandbox(SandboxSettings(kind="local", timeout_s=60)) as box:
        verifier = SandboxVerifier(box, tree, command, 60, threading.Event(), "j")
        verdict = verifier.verify(patch, none)
    assert not verdict.verified and verdict.reproduced is False and verdict.repro_after_exit is None
    assert verdict.tests_exit == 0 and not verdict.regression
    assert any(n.startswith("judged by the tests only: no reproduction script") for n in verdict.notes)


def test_a_crashed_script_is_retried_with_its_log_and_then_kept(workspace: Path, tmp_path: Path) -> None:
    crash = RunResult(1, "", NAME_ERROR.replace("averge", "statsmini.averge"), duration_s=0.1)
    verifier = DiffVerifier(runs={"averge": crash})
    run = run_job(
        workspace,
        tmp_path,
        _scripts([answer(CRASHES)], [answer(GOOD_REPRO)]),
        verifier=verifier,
        budget=2,
        beam=2,
        early_stop_score=1.0,
        max_refinements=0,
    )
    assert run.report.state == "done", run.report.error
    retry = next(r for r in run.policy.requests if "did not reproduce the issue" in r.prompt[-1].content)
    last = retry.prompt[-1].content
    assert "crashed for another reason" in last and "NameError" in last  # the outcome and the log
    # History pruning: the retry holds the first prompt, the failed answer and the log, no more.
    assert len(retry.prompt) == 4 and "averge" in retry.prompt[2].content
    assert outcomes(run, "repro") == {"u0.l0.repro0": "crashed", "u0.l0.repro1": "reproduced"}
    records = [r for r in read_trajectory(run.out / "trajectory.jsonl") if r.stage == "repro"]
    assert [r.round for r in records] == [0, 1] and {r.parent_id for r in records} == {"u0.l0"}
    assert "NameError" in records[0].detail
    # One kept script, the same for both candidates; no original-tree run per candidate.
    assert len(verifier.reproduced_scripts) == 2
    assert len(verifier.verified_ids) == 2
    kept = {r.script for r in verifier.reproductions}
    assert len(kept) == 1 and "ZeroDivisionError" in (kept.pop() or "")
    assert all(c.evidence.reproduced for c in run.report.candidates)


def test_the_kept_script_runs_once_on_the_original_tree_then_once_per_candidate(
    workspace: Path, tmp_path: Path
) -> None:
    """In a real (local) sandbox, through the job's own sandbox: the script logs every run of it to
    a file outside the copies. Two candidates: one original-tree run (validation), then one run per
    candidate with its patch; before, every candidate ran it on the original tree again."""
    runs_log = tmp_path / "runs.log"
    script = GOOD_REPRO.replace(
        "import sys\n",
        f"import sys, atexit\natexit.register(lambda: open({str(runs_log)!r}, 'a').write('run\\n'))\n",
        1,
    )
    run = run_job(
        workspace,
        tmp_path,
        _scripts([answer(script)]),
        sandbox={"kind": "local", "timeout_s": 120, "test_command": "true"},
        budget=2,
        beam=2,
        early_stop_score=1.0,
        max_refinements=0,
    )
    assert run.report.state == "done", run.report.error
    assert runs_log.read_text().splitlines() == ["run"] * 3
    good, other = run.report.candidates
    assert good.evidence.verified and "raise ValueError" in good.diff
    assert not other.evidence.verified
    for c in (good, other):  # the validation's original-tree run, shared
        assert c.evidence.reproduced and c.evidence.repro_before_exit == 1
        assert c.evidence.repro_script is not None and "atexit" in c.evidence.repro_script
    assert good.evidence.repro_after_exit == 0 and other.evidence.repro_after_exit == 1
