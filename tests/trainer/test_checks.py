"""Step 3's checks, each with hand-made passing and failing cases, and the correct-prefix rule."""

from __future__ import annotations

from pathlib import Path

from swe_lsp.llm import Message
from swe_lsp.sandbox import CandidateRuns, RunResult
from swe_lsp.sandbox.local_sandbox import LocalSandbox
from swe_lsp.search.records import StepRecord
from swe_lsp.search.reproduction import ReproOutcome, classify
from swe_lsp.settings import SandboxSettings
from trainer.checks import (
    Verdict,
    accepted_steps,
    check_complexity,
    check_localization,
    check_patch,
    check_reproduction,
    check_understanding,
)
from trainer.gold import gold_of
from trainer.runs import Runner

BASE = {
    "pkg/core.py": "import os\n\n\nclass Box:\n    def put(self, x):\n        return x\n\n"
    "    def take(self):\n        return None\n\n\ndef helper():\n    return 1\n",
    "pkg/util.py": "A = 1\nB = 2\n",
}
GOLD = (
    "--- a/pkg/core.py\n+++ b/pkg/core.py\n@@ -8,2 +8,2 @@\n     def take(self):\n-        return None\n"
    "+        return 0\n--- a/pkg/util.py\n+++ b/pkg/util.py\n@@ -1,2 +1,2 @@\n-A = 1\n+A = 3\n B = 2\n"
)


def _gold():
    return gold_of(GOLD, BASE.get)


def _run(code: int | None, out: str = "", timed_out: bool = False) -> RunResult:
    return RunResult(code, out, "", timed_out=timed_out)


def test_gold_maps_changed_lines_to_the_innermost_symbol_or_a_block() -> None:
    gold = _gold()
    assert gold.files == ("pkg/core.py", "pkg/util.py")
    assert [(t.file, t.name, t.lines, t.grain) for t in gold.targets] == [
        ("pkg/core.py", "Box.take", (9,), (8, 9)),
        ("pkg/util.py", None, (1,), (1, 2)),  # a file without definitions is one module-level block
    ]


def test_understanding_needs_every_gold_file() -> None:
    assert check_understanding(["pkg/util.py", "pkg/core.py", "x.py"], _gold()).passed
    verdict = check_understanding(["pkg/core.py"], _gold())
    assert not verdict.passed and "pkg/util.py" in verdict.reason


def test_a_module_level_block_lies_between_the_definitions_around_it() -> None:
    base = "import os\n\nX = 1\n\n\ndef f():\n    return X\n\n\nY = 2\nZ = 3\n"
    diff = "--- a/m.py\n+++ b/m.py\n@@ -3 +3 @@\n-X = 1\n+X = 4\n@@ -11 +11 @@\n-Z = 3\n+Z = 5\n"
    gold = gold_of(diff, {"m.py": base}.get)
    assert [(t.name, t.lines, t.grain) for t in gold.targets] == [
        (None, (3,), (1, 5)),
        (None, (11,), (8, 11)),
    ]
    assert check_localization([("m.py", 1, 5), ("m.py", 10, 11)], gold).passed
    assert not check_localization([("m.py", 1, 11)], gold).passed  # the whole file holds f too


def test_localization_needs_every_gold_target_pointed_at_its_grain() -> None:
    exact = [("pkg/core.py", 8, 9), ("pkg/util.py", 1, 2)]
    assert check_localization(exact, _gold()).passed
    inside = [("pkg/core.py", 9, 9), ("pkg/util.py", 1, 1)]  # finer than the method: points at it
    assert check_localization(inside, _gold()).passed
    whole_class = [("pkg/core.py", 4, 9), ("pkg/util.py", 1, 2)]
    verdict = check_localization(whole_class, _gold())
    assert not verdict.passed and "coarser" in verdict.reason and "Box.take" in verdict.reason
    whole_file = [("pkg/core.py", 1, 13), ("pkg/util.py", 1, 2)]
    assert not check_localization(whole_file, _gold()).passed
    wrong_method = [("pkg/core.py", 5, 6), ("pkg/util.py", 1, 2)]
    verdict = check_localization(wrong_method, _gold())
    assert not verdict.passed and "not covered: pkg/core.py::Box.take" in verdict.reason
    assert not check_localization([("pkg/core.py", 8, 9)], _gold()).passed  # util.py's block missed


def test_reproduction_must_fail_before_and_pass_with_the_gold_patch() -> None:
    assert check_reproduction(_run(1, "ISSUE REPRODUCED"), _run(0, "ISSUE RESOLVED")).passed
    assert not check_reproduction(_run(0, "ISSUE RESOLVED"), _run(0, "ISSUE RESOLVED")).passed  # no repro
    assert not check_reproduction(_run(1, "ISSUE REPRODUCED"), _run(1, "ISSUE REPRODUCED")).passed
    assert not check_reproduction(_run(1), _run(None, timed_out=True)).passed
    assert not check_reproduction(None, None).passed


def test_the_gold_check_reads_a_script_as_the_search_does(tmp_path: Path) -> None:
    """One verdict: the sandbox's runs carry none of their own, and the trainer's gold check reads a
    script's runs with the search's rule, so a script that fails without saying ISSUE REPRODUCED
    (a crash) is no reproduction for either."""
    assert not any(hasattr(CandidateRuns, name) for name in ("verified", "reproduced"))
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "m.py").write_text("X = 1\n")
    crash = "import pathlib\nassert 'X = 2' in pathlib.Path('m.py').read_text()\n"
    script = (
        "import pathlib, sys\n"
        "if 'X = 1' in pathlib.Path('m.py').read_text():\n"
        "    print('ISSUE REPRODUCED')\n    sys.exit(1)\n"
        "print('ISSUE RESOLVED')\n"
    )
    with LocalSandbox(SandboxSettings(kind="local", timeout_s=60)) as box:
        for text, reproduces in ((crash, False), (script, True)):
            before, after = Runner(box, 60).script(tree, text, {"m.py": "X = 2\n"})
            assert before is not None and before.exit_code == 1 and after is not None and after.ok
            assert (classify(before) is ReproOutcome.REPRODUCED) is reproduces
            assert check_reproduction(before, after).passed is reproduces


def test_patch_needs_its_script_and_the_tests_to_pass() -> None:
    assert check_patch(_run(0, "ISSUE RESOLVED"), True, True).passed
    assert check_patch(None, False, True).passed  # an invalid script: the tests decide
    assert not check_patch(_run(1, "ISSUE REPRODUCED"), True, True).passed
    assert not check_patch(_run(0, "ISSUE RESOLVED"), True, False).passed
    assert check_patch(_run(0, "ISSUE RESOLVED"), True, None).passed  # no tests: the script decides
    assert not check_patch(None, False, None).passed


def test_complexity_drops_what_the_base_model_solves_in_one_shot() -> None:
    assert check_complexity([False, False]).passed
    assert not check_complexity([False, True]).passed


def _rec(stage: str, cid: str, parent: str | None, rnd: int = 0) -> StepRecord:
    return StepRecord("j", stage, cid, parent, (Message("user", "q"),), "t", "a", round=rnd)


def test_accepted_steps_keep_the_correct_prefix_of_a_failed_trajectory() -> None:
    records = [
        _rec("understand", "u0", None),
        _rec("understand", "u1", None),
        _rec("localize", "u0.l0", "u0", 0),  # a tool-call round
        _rec("localize", "u0.l0", "u0", 1),
        _rec("localize", "u1.l0", "u1"),
        _rec("patch", "u0.l0.p0", "u0.l0"),
        _rec("repro", "u0.l0.p0", "u0.l0"),
        _rec("refine", "u0.l0.p0.r1", "u0.l0.p0"),
    ]
    ok, bad = Verdict(True), Verdict(False, "wrong")
    verdicts = {
        ("understand", "u0"): ok,
        ("understand", "u1"): bad,
        ("localize", "u0.l0"): ok,
        ("localize", "u1.l0"): ok,  # right, but grew from a wrong file set
        ("patch", "u0.l0.p0"): bad,
        ("repro", "u0.l0.p0"): ok,  # written from the locations, not the patch
        ("refine", "u0.l0.p0.r1"): ok,  # grew from a failed patch
    }
    kept = [(r.stage, r.candidate_id, r.round) for r in accepted_steps(records, verdicts)]
    assert kept == [
        ("understand", "u0", 0),
        ("localize", "u0.l0", 0),
        ("localize", "u0.l0", 1),
        ("repro", "u0.l0.p0", 0),
    ]
    verdicts["patch", "u0.l0.p0"] = ok
    assert ("refine", "u0.l0.p0.r1", 0) in [
        (r.stage, r.candidate_id, r.round) for r in accepted_steps(records, verdicts)
    ]
