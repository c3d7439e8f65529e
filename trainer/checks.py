"""Development-contextualized rejection sampling: one pure check per stage (SWE-Reasoner, 3.2).

Each check takes what a step produced and the ground truth, and returns a `Verdict` (passed or
not, and why). `accepted_steps` then keeps the correct prefix of each trajectory: a step is kept
when it passed and every step it grew from passed, so a trajectory whose patch failed still gives
its correct understanding and localization steps.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from swe_lsp.sandbox import RunResult
from swe_lsp.search.records import StepRecord
from swe_lsp.search.verification import reproduced, resolved
from trainer.gold import Gold


@dataclass(frozen=True)
class Verdict:
    """A check's result: whether the step passed, and why (or why not)."""

    passed: bool
    reason: str = ""


def check_understanding(chosen: Sequence[str], gold: Gold) -> Verdict:
    """The files chosen contain every file the gold patch changes."""
    missing = [f for f in gold.files if f not in set(chosen)]
    if not gold.files:
        return Verdict(False, "the gold patch changes no file")
    return Verdict(not missing, f"missing {', '.join(missing)}" if missing else "all gold files chosen")


def check_localization(locations: Sequence[tuple[str, int, int]], gold: Gold) -> Verdict:
    """The locations `(file, start, end)` point at every function, method or block the gold patch
    changes, at its grain: each gold target has a location in its file that spans at least one of
    its changed lines and lies within the target's grain (`GoldTarget.grain`: the innermost
    enclosing definition, or the module-level block). A bare file path or the class around a
    changed method contains the fix without pointing at it: the patch stage then shows only part
    of a large file, and a PRM that learned to accept such answers would prefer vague ones (the
    method's check compares the patch's locations with the developer's). A finer location (a line
    span inside the changed function) points at it."""
    if not gold.targets:
        return Verdict(False, "the gold patch has no located change")
    missed, coarse = [], []
    for target in gold.targets:
        covering = [
            (start, end)
            for f, start, end in locations
            if f == target.file and any(start <= line <= end for line in target.lines)
        ]
        low, high = target.grain
        if any(low <= start and end <= high for start, end in covering):
            continue
        name = f"{target.file}::{target.name}" if target.name else f"{target.file}:{target.start}"
        (coarse if covering else missed).append(name)
    reasons = [f"not covered: {', '.join(missed)}"] if missed else []
    if coarse:
        reasons.append(f"only coarser locations contain: {', '.join(coarse)}")
    if reasons:
        return Verdict(False, "; ".join(reasons))
    return Verdict(True, "every gold change pointed at")


def check_reproduction(before: RunResult | None, after_gold: RunResult | None) -> Verdict:
    """The script reproduces the issue on the base commit and no longer with the gold patch."""
    if before is None:
        return Verdict(False, "no usable script")
    if not reproduced(before):
        return Verdict(False, f"does not reproduce on the base commit (exit {before.exit_code})")
    if not resolved(after_gold):
        code = after_gold.exit_code if after_gold else None
        return Verdict(False, f"still reproduces with the gold patch (exit {code})")
    return Verdict(True, "reproduces on the base commit, resolved by the gold patch")


def check_patch(script_after: RunResult | None, script_valid: bool, tests_passed: bool | None) -> Verdict:
    """The model's patch passes its reproduction script (when the script is a valid one) and the
    instance's tests (`tests_passed`, graded per test; None when there are none to run); with
    neither, nothing shows it correct."""
    if not script_valid and tests_passed is None:
        return Verdict(False, "neither a valid reproduction script nor tests to check the patch")
    if script_valid and not resolved(script_after):
        return Verdict(False, "the reproduction script still fails with the patch")
    if tests_passed is False:
        return Verdict(False, "the instance's tests fail with the patch")
    return Verdict(
        True,
        "passes "
        + " and ".join(
            w
            for w, on in (("its reproduction script", script_valid), ("the tests", tests_passed is not None))
            if on
        ),
    )


def check_complexity(one_shot_solved: Iterable[bool]) -> Verdict:
    """Keep an instance only when the base model does not solve it in one shot without reasoning."""
    solved = sum(bool(s) for s in one_shot_solved)
    return Verdict(
        solved == 0, f"solved in one shot {solved} time(s)" if solved else "not solved in one shot"
    )


def step_key(record: StepRecord) -> tuple[str, str]:
    """A step's identity in a trajectory: (stage, candidate id)."""
    return record.stage, record.candidate_id


# The step whose answer a stage's prompt was built from: a reproduction script is written from the
# location set (its prompt holds no patch), a refinement from the patch (or refinement) it refines.
PARENT_STAGE = {"localize": "understand", "patch": "localize", "repro": "localize", "refine": "patch"}
_REFINED = re.compile(r"\.r\d+$")


def accepted_steps(
    records: Sequence[StepRecord], verdicts: Mapping[tuple[str, str], Verdict]
) -> list[StepRecord]:
    """The correct prefix of every path: the records whose own verdict and whose ancestors'
    verdicts all passed, in order. Every round of a multi-round step shares its final verdict
    (its tool-call rounds led to its answer). A step without a verdict is not accepted."""
    parents = {step_key(r): r.parent_id for r in records}

    def ok(stage: str, cid: str, depth: int = 0) -> bool:
        verdict = verdicts.get((stage, cid))
        if verdict is None or not verdict.passed or depth > 16:
            return False
        parent_stage = PARENT_STAGE.get(stage)
        if parent_stage is None:
            return True
        parent = parents.get((stage, cid))
        if parent is None:
            return False
        if stage == "refine" and _REFINED.search(parent):
            parent_stage = "refine"
        return ok(parent_stage, parent, depth + 1)

    return [r for r in records if ok(r.stage, r.candidate_id)]
