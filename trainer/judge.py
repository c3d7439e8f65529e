"""How `swe-train reject` judges one instance's synthesized trajectories (`judge_instance`, run by
the sequential loop and by a Ray task alike).

Each stage output is checked against the instance's ground truth, each check counted apart:
understanding (the chosen files contain the gold files), localization (the locations point at each
function, method or module-level block the gold patch changes, at that grain: a bare file or an
enclosing class is too coarse, `checks.check_localization`), reproduction (the script reproduces on
the base commit and not with the gold patch, in the sandbox), patch (the patch passes its
reproduction script and the instance's tests, in the sandbox). The environment check runs the
instance's tests with the gold patch and drops the instance when they fail. Tests run and are graded
as the SWE-bench harness runs and grades them (`trainer.swebench_env`: its environment, its test
command, its log parser). The complexity check (`--one-shot FILE`) drops the instances the base
model already solves in one shot without reasoning: FILE holds its attempts, SWE-bench predictions
(`instance_id`, `model_patch`; several per instance allowed), e.g. the `predictions-n1.jsonl` of
`swe-train eval --model BASE --budgets 1`, or that run's `results.jsonl`, whose `resolved` verdicts
are taken as they are. The correct prefix of each trajectory is kept.

Every diff that becomes a PRM step or an ORM completion, the gold patch first, is written by the
server's own diff writer (`trainer.gold.served_diff`): a gold patch's section headers and context
widths would otherwise tell "chosen" from "rejected" by their form. A gold patch that does not apply
to its base commit gives no pair and no positive (counted as `gold_unrenderable`).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from swe_lsp.errors import SweLspError
from swe_lsp.search.localize import resolve_labels as search_resolve_labels
from swe_lsp.search.model import Location
from swe_lsp.search.prompts import MAX_STEP_CHARS
from swe_lsp.search.prompts import render_locations as render_step
from swe_lsp.search.records import StepRecord, read_trajectory
from swe_lsp.workspace import FileIndex
from swe_lsp.workspace.extract import extract
from trainer.checks import (
    Verdict,
    accepted_steps,
    check_complexity,
    check_localization,
    check_patch,
    check_reproduction,
    check_understanding,
)
from trainer.gold import Gold, gold_of, served_diff
from trainer.instances import Instance, read_jsonl
from trainer.repos import checkout_repo, file_at, instance_git_dir
from trainer.runs import Runner, all_tests_pass, failed_summary, patched_texts
from trainer.swebench_env import test_command
from trainer.synth import STEP as SYNTH

STEP = "reject"
CHECKS = ("environment", "complexity", "understanding", "localization", "reproduction", "patch")
_REFINED = re.compile(r"(\.r\d+)+$")
NOT_CHECKED = "not checked"


@dataclass
class Tally:
    """Per check: outputs checked and passed; plus the step and row counts written."""

    checks: dict[str, dict[str, int]] = field(
        default_factory=lambda: {c: {"checked": 0, "passed": 0} for c in CHECKS}
    )
    counts: dict[str, int] = field(default_factory=dict)

    def add(self, check: str, verdict: Verdict) -> Verdict:
        if not verdict.reason.startswith(NOT_CHECKED):
            self.checks[check]["checked"] += 1
            self.checks[check]["passed"] += verdict.passed
        return verdict

    def count(self, key: str, n: int = 1) -> None:
        self.counts[key] = self.counts.get(key, 0) + n


@dataclass(frozen=True)
class OneShot:
    """One attempt of the base model at an instance, in one shot and without reasoning: its patch,
    and whether it resolved the instance when that is already known (None: score it here)."""

    patch: str
    resolved: bool | None = None


def read_one_shot(path: Path) -> dict[str, list[OneShot]]:
    """The base model's one-shot attempts per instance, from SWE-bench predictions or from the
    `results.jsonl` of `swe-train eval` (whose `resolved`, when not null, is kept)."""
    out: dict[str, list[OneShot]] = {}
    for row in read_jsonl(path):
        resolved = row.get("resolved")
        attempt = OneShot(str(row.get("model_patch") or ""), resolved if isinstance(resolved, bool) else None)
        out.setdefault(str(row["instance_id"]), []).append(attempt)
    return out


def resolve_labels(labels: Sequence[str], read_base: Callable[[str], str | None]) -> list[Location]:
    """Location labels (`path::Name`, `path:a-b`, `path`) as spans at the base commit, read and
    resolved by the search's own resolver (a short name unique in its file included) against the
    entries the index would hold for the base commit's files; a label that does not resolve is
    left out."""
    entries: dict[str, FileIndex | None] = {}

    def entry_of(path: str) -> FileIndex | None:
        if path not in entries:
            text = read_base(path)
            entries[path] = extract(path, text.encode("utf-8"))[0] if text is not None else None
        return entries[path]

    return search_resolve_labels(labels, entry_of)


def render_locations(locations: Sequence[Location], read_base: Callable[[str], str | None]) -> str:
    """A location set as the server renders it for the PRM, from the base commit's files."""

    def read_lines(path: str) -> list[str] | None:
        text = read_base(path)
        return text.splitlines() if text is not None else None

    return render_step(locations, read_lines)


def _finals(records: Sequence[StepRecord], stage: str) -> dict[str, StepRecord]:
    """The last record of each candidate of `stage` (a localization's answer after its tool rounds)."""
    return {r.candidate_id: r for r in records if r.stage == stage}


class InstanceJudge:
    """Judges every trajectory of one instance and gathers its rows."""

    def __init__(self, inst: Instance, tree: Path, git_dir: Path, runner: Runner, tally: Tally) -> None:
        self.inst, self.tree, self.runner, self.tally = inst, tree, runner, tally
        self._cache: dict[str, str | None] = {}
        self._git_dir = git_dir
        self.gold: Gold = gold_of(inst.patch, self.read_base)
        # The gold patch as the server writes the same change (None: it does not apply).
        self.gold_diff = served_diff(inst.patch, self.read_base)
        self.gold_texts = patched_texts(inst.patch, self.read_base) or {}
        self.test_texts = patched_texts(inst.test_patch, self.read_base) or {}
        self.sft: list[dict[str, Any]] = []
        self.labels: list[dict[str, Any]] = []
        self.passing: list[str] = []
        self.failing: list[str] = []

    def read_base(self, path: str) -> str | None:
        """A file's text at the base commit (cached)."""
        if path not in self._cache:
            self._cache[path] = file_at(self._git_dir, self.inst.base_commit, path)
        return self._cache[path]

    def environment_ok(self) -> bool:
        """Whether the instance's tests pass with the gold patch (True when there are none to run)."""
        try:
            self.runner.pin(self.inst, self.tree)  # the reproduction scripts run there too
            run = self.runner.environment(self.tree, self.inst, self.gold_texts, self.test_texts)
        except SweLspError as exc:  # no spec for its version, or its environment does not build
            verdict = Verdict(False, f"environment: {str(exc).splitlines()[0]}")
            return self.tally.add("environment", verdict).passed
        if run is None:
            return True
        ok = all_tests_pass(self.inst, run)
        why = "the gold patch passes the tests" if ok else failed_summary(self.inst, run)
        return self.tally.add("environment", Verdict(ok, why)).passed

    def complexity(self, attempts: Sequence[OneShot]) -> Verdict:
        """The complexity check: passed (kept) unless one of the base model's one-shot attempts
        resolves the instance (its tests pass with the patch and the test patch)."""
        if not attempts:
            return Verdict(False, f"{NOT_CHECKED}: no one-shot attempt for this instance")
        solved = []
        for attempt in attempts:
            if attempt.resolved is not None:
                solved.append(attempt.resolved)
                continue
            changed = patched_texts(attempt.patch, self.read_base)
            if changed is None:  # empty, or does not apply: not a solution
                solved.append(False)
                continue
            if not self.runner.enabled or not test_command(self.inst):
                return Verdict(False, f"{NOT_CHECKED}: no sandbox or no tests to score the attempts")
            _, ran = self.runner.patch(self.tree, self.inst, changed, self.test_texts, None)
            solved.append(all_tests_pass(self.inst, ran))
        return check_complexity(solved)

    def judge(self, records: Sequence[StepRecord]) -> None:
        """Check every final step of one trajectory; keep its correct prefix and its labels."""
        verdicts: dict[tuple[str, str], Verdict] = {}
        rendered: dict[tuple[str, str], str] = {}
        for cid, r in _finals(records, "understand").items():
            files = [f for f in (r.parsed or []) if isinstance(f, str)]
            verdict = check_understanding(files, self.gold) if files else Verdict(False, r.outcome)
            verdicts["understand", cid] = self.tally.add("understanding", verdict)
            rendered["understand", cid] = "\n".join(files)
        for cid, r in _finals(records, "localize").items():
            locations = resolve_labels(r.parsed or [], self.read_base) if r.outcome != "rejected" else []
            spans = [(loc.file, loc.start, loc.end) for loc in locations]
            verdict = check_localization(spans, self.gold) if spans else Verdict(False, r.outcome)
            verdicts["localize", cid] = self.tally.add("localization", verdict)
            if "coarser locations" in verdict.reason and "not covered" not in verdict.reason:
                self.tally.count("localizations_too_coarse")
            rendered["localize", cid] = render_locations(locations, self.read_base)
        scripts: dict[str, tuple[str, bool]] = {}
        kept: tuple[str | None, bool] = (None, False)  # the job's validated script, reused by every patch
        for cid, r in _finals(records, "repro").items():
            verdict = self._repro(r.parsed)
            verdicts["repro", cid] = self.tally.add("reproduction", verdict)
            if isinstance(r.parsed, str):
                scripts[cid] = (r.parsed, verdict.passed)
                if r.outcome == "reproduced":
                    kept = (r.parsed, verdict.passed)
        for stage in ("patch", "refine"):
            for cid, r in _finals(records, stage).items():
                # Older trajectories hold one script per patch, under the patch's id.
                script, valid = scripts.get(_REFINED.sub("", cid), kept)
                verdict = self._patch(r.parsed, script, valid)
                verdicts[stage, cid] = self.tally.add("patch", verdict)
                # The search's diffs come back unchanged; anything else is written as the server would.
                diff = served_diff(r.parsed, self.read_base) if isinstance(r.parsed, str) else None
                rendered[stage, cid] = (diff or "")[:MAX_STEP_CHARS]
                if not verdict.reason.startswith(NOT_CHECKED) and diff is not None:
                    (self.passing if verdict.passed else self.failing).append(diff)
        for r in accepted_steps(records, verdicts):
            self.sft.append(
                {
                    "instance_id": self.inst.instance_id,
                    "stage": r.stage,
                    "candidate_id": r.candidate_id,
                    "round": r.round,
                    "messages": [{"role": m.role, "content": m.content} for m in r.messages],
                    "think": r.think,
                    "answer": r.answer,
                }
            )
        for (stage, cid), verdict in verdicts.items():
            # The PRM only ever sees what reaches it: a file set, resolved locations, an applicable patch.
            if not rendered.get((stage, cid)):
                continue
            if stage in ("understand", "localize", "patch") and not verdict.reason.startswith(NOT_CHECKED):
                self._label(stage, cid, rendered.get((stage, cid), ""), verdict, "synth")

    def _repro(self, script: Any) -> Verdict:
        if not isinstance(script, str):
            return Verdict(False, "no usable script")
        if not self.runner.enabled:
            return Verdict(False, f"{NOT_CHECKED}: no sandbox")
        return check_reproduction(*self.runner.script(self.tree, script, self.gold_texts))

    def _patch(self, diff: Any, script: str | None, script_valid: bool) -> Verdict:
        if not isinstance(diff, str) or not diff.strip():
            return Verdict(False, "no applicable patch")
        changed = patched_texts(diff, self.read_base)
        if changed is None:
            return Verdict(False, "the patch does not apply to the base commit")
        if not self.runner.enabled:
            return Verdict(False, f"{NOT_CHECKED}: no sandbox")
        after, tests = self.runner.patch(self.tree, self.inst, changed, self.test_texts, script)
        if not script_valid and tests is None:
            return Verdict(False, f"{NOT_CHECKED}: no valid script and no tests")
        return check_patch(after, script_valid, None if tests is None else all_tests_pass(self.inst, tests))

    def _label(self, stage: str, cid: str, step: str, verdict: Verdict, source: str) -> None:
        self.labels.append(
            {
                "instance_id": self.inst.instance_id,
                "stage": stage,
                "candidate_id": cid,
                "issue": self.inst.problem_statement,
                "step": step,
                "label": verdict.passed,
                "reason": verdict.reason,
                "source": source,
            }
        )

    def gold_steps(self) -> None:
        """The gold answer of each stage as a positive PRM row (the patch as the server writes it;
        none when the gold patch does not apply)."""
        gold_locations = [Location(t.file, t.start, t.end, t.name) for t in self.gold.targets]
        steps = [
            ("understand", "\n".join(self.gold.files)),
            ("localize", render_locations(gold_locations, self.read_base)),
        ]
        if self.gold_diff is not None:
            steps.append(("patch", self.gold_diff[:MAX_STEP_CHARS]))
        for stage, step in steps:
            self._label(stage, "gold", step, Verdict(True, "the gold patch"), "gold")

    def pairs(self) -> list[dict[str, Any]]:
        """ORM pairs: (gold or a passing patch) over each failing patch, every diff as the server
        writes it (a passing patch that is the gold fix is one chosen, not two)."""
        gold = [self.gold_diff] if self.gold_diff is not None else []
        chosen = list(dict.fromkeys([*gold, *self.passing]))
        return [
            {
                "instance_id": self.inst.instance_id,
                "issue": self.inst.problem_statement,
                "chosen": good,
                "rejected": bad,
                "source": "reject",
            }
            for bad in dict.fromkeys(self.failing)
            for good in chosen
            if good != bad
        ]


def judge_instance(
    inst: Instance,
    out: Path,
    runner: Runner,
    mirrors: Path | None = None,
    gold_steps: bool = True,
    attempts: Sequence[OneShot] | None = None,
) -> dict[str, Any]:
    """Judge one instance's trajectories (under `out/synth`; its checkout goes under
    `out/reject/.work`): its rows of `sft.jsonl`, `labels.jsonl` and `pairs.jsonl`, and its share
    of the report's `checks` and `counts`. `attempts` None: no complexity check. The one function
    both the sequential loop and a Ray task (`trainer.fanout`) run per instance."""
    tally = Tally()
    row: dict[str, Any] = {"instance_id": inst.instance_id, "sft": [], "labels": [], "pairs": []}
    samples = sorted((out / SYNTH / inst.instance_id).glob("*/trajectory.jsonl"))
    if not samples:
        tally.count("instances_without_trajectories")
        return {**row, "checks": tally.checks, "counts": tally.counts}
    git_dir = instance_git_dir(inst, mirrors)
    tree = out / STEP / ".work" / inst.instance_id
    if runner.enabled:
        checkout_repo(git_dir, inst.base_commit, tree)
    judge = InstanceJudge(inst, tree, git_dir, runner, tally)
    if judge.gold_diff is None:
        tally.count("gold_unrenderable")
    elif judge.gold_diff != inst.patch:
        tally.count("gold_rerendered")
    if not judge.environment_ok():
        tally.count("instances_dropped_environment")
        return {**row, "checks": tally.checks, "counts": tally.counts}
    if attempts is not None:
        verdict = tally.add("complexity", judge.complexity(attempts))
        if not verdict.passed and not verdict.reason.startswith(NOT_CHECKED):
            tally.count("instances_dropped_complexity")
            return {**row, "checks": tally.checks, "counts": tally.counts}
    for path in samples:
        judge.judge(read_trajectory(path))
        tally.count("trajectories")
    if gold_steps:
        judge.gold_steps()
    tally.count("instances")
    row.update(sft=judge.sft, labels=judge.labels, pairs=judge.pairs())
    return {**row, "checks": tally.checks, "counts": tally.counts}
