"""`swe-train reject`: development-contextualized rejection sampling of the synthesized trajectories.

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

Outputs in `OUT/reject/`:
- `sft.jsonl`: accepted steps (`instance_id, stage, candidate_id, round, messages, think, answer`);
- `labels.jsonl`: PRM rows (`instance_id, stage, candidate_id, issue, step, label, reason, source`)
  for every final understand/localize/patch output that was checked, plus the gold steps as
  positives (source "gold"; `--no-gold-steps` leaves them out);
- `pairs.jsonl`: ORM pairs (`instance_id, issue, chosen, rejected, source`): the gold patch and the
  patches that passed over the patches that failed;
- `report.json`: per check, how many outputs were checked and passed;
- `instances.jsonl`: each instance's judgment (its rows and tallies), appended as it finishes, which
  the files above are made from. A rerun reuses a judgment whose inputs are unchanged (the
  instance's trajectories, the sandbox on or off, the gold-steps option, its one-shot attempts:
  `judgment_key`) and judges the rest, so it resumes (delete the file to judge everything again,
  e.g. after the checks themselves changed); `--ray` judges one instance per Ray task
  (`trainer.fanout`).

Every diff that becomes a PRM step or an ORM completion, the gold patch first, is written by the
server's own diff writer (`trainer.gold.served_diff`): a gold patch's section headers and context
widths would otherwise tell "chosen" from "rejected" by their form. A gold patch that does not apply
to its base commit gives no pair and no positive (counted as `gold_unrenderable`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import re
from collections.abc import Callable, Mapping, Sequence
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
from trainer import provenance
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
from trainer.instances import Instance, read_instances, read_jsonl, write_jsonl
from trainer.repos import checkout_repo, file_at, instance_git_dir
from trainer.resume import ResultLog
from trainer.runs import Runner, all_tests_pass, failed_summary, patched_texts
from trainer.swebench_env import LOG_BYTES, test_command
from trainer.synth import STEP as SYNTH

STEP = "reject"
CHECKS = ("environment", "complexity", "understanding", "localization", "reproduction", "patch")
_REFINED = re.compile(r"(\.r\d+)+$")
NOT_CHECKED = "not checked"
JUDGED = "instances.jsonl"


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


def judgment_key(
    inst: Instance, trajectories: Mapping[str, bytes], sandbox: bool, gold_steps: bool, attempts: Any
) -> str:
    """What an instance's judgment depends on, as a digest: its trajectories' bytes (by sample
    path), whether a sandbox ran, the gold-steps option and its one-shot attempts. A judgment on
    disk with the same key is reused; a new sample from `synth`, or other options, redo it. (The
    sandbox's kind and timeout are not in it: a rerun with another sandbox reuses the verdicts.)"""
    digest = hashlib.sha256()
    for name in sorted(trajectories):
        digest.update(name.encode() + b"\0" + hashlib.sha256(trajectories[name]).digest())
    options = [inst.instance_id, sandbox, gold_steps, attempts]
    digest.update(json.dumps(options, default=lambda a: [a.patch, a.resolved]).encode())
    return digest.hexdigest()


def trajectories_of(out: Path, inst: Instance) -> dict[str, bytes]:
    """The instance's `trajectory.jsonl` files under `out/synth`, by path relative to its folder."""
    folder = out / SYNTH / inst.instance_id
    return {
        p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.glob("*/trajectory.jsonl"))
    }


def open_judgments(out: Path) -> ResultLog:
    """`OUT/reject/instances.jsonl`: one judged instance per line (its rows, its tallies, its
    `key`), appended as each finishes; the step's files are made from it (`finish`)."""
    return ResultLog(out / STEP / JUDGED, lambda r: r["instance_id"])


def reject(
    instances: Sequence[Instance],
    out: Path,
    runner: Runner,
    mirrors: Path | None = None,
    gold_steps: bool = True,
    advance: Callable[[str], None] = lambda _m: None,
    one_shot: Mapping[str, Sequence[OneShot]] | None = None,
) -> dict[str, Any]:
    """Judge every instance not yet judged with the same inputs (`judgment_key`), appending each
    to `instances.jsonl`; write the step's files from it; returns the report. With `one_shot`
    (instance id -> the base model's attempts), instances it solves are dropped."""
    log = open_judgments(out)
    for inst in instances:
        advance(inst.instance_id)
        attempts = None if one_shot is None else list(one_shot.get(inst.instance_id, ()))
        key = judgment_key(inst, trajectories_of(out, inst), runner.enabled, gold_steps, attempts)
        done = log.get(inst.instance_id)
        if done is not None and done.get("key") == key:
            continue
        row = judge_instance(inst, out, runner, mirrors, gold_steps, attempts)
        log.add([{**row, "key": key}])
    return finish(log, instances, runner.enabled)


def finish(log: ResultLog, instances: Sequence[Instance], sandbox: bool) -> dict[str, Any]:
    """The step's files from the judged instances of `instances` (in their order): the rows
    concatenated, the checks and counts summed. Returns the report."""
    tally = Tally()
    sft, labels, pairs = [], [], []
    for inst in instances:
        row = log.get(inst.instance_id)
        if row is None:  # its Ray task failed: left out until a rerun judges it
            continue
        for check, c in row["checks"].items():
            tally.checks[check]["checked"] += c["checked"]
            tally.checks[check]["passed"] += c["passed"]
        for key, n in row["counts"].items():
            tally.count(key, n)
        sft += row["sft"]
        labels += row["labels"]
        pairs += row["pairs"]
    folder = log.path.parent
    report = {
        "checks": tally.checks,
        "counts": tally.counts,
        "sft_steps": write_jsonl(folder / "sft.jsonl", sft),
        "prm_labels": write_jsonl(folder / "labels.jsonl", labels),
        "prm_positive": sum(bool(r["label"]) for r in labels),
        "orm_pairs": write_jsonl(folder / "pairs.jsonl", pairs),
        "sandbox": sandbox,
    }
    (folder / "report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report


def register(subparsers: Any) -> None:
    """Add the `reject` subcommand."""
    p = subparsers.add_parser("reject", help="rejection sampling of the trajectories (step 3)")
    p.add_argument("--out", type=Path, required=True, help="the run folder")
    p.add_argument("--sandbox", choices=["auto", "docker", "bwrap", "local", "none"], default="auto")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per sandbox run")
    p.add_argument("--mirrors", type=Path, default=None, help="folder of git mirrors (SWE-bench instances)")
    p.add_argument("--no-gold-steps", action="store_true", help="no gold answers as PRM positives")
    p.add_argument(
        "--one-shot",
        type=Path,
        default=None,
        help="the base model's one-shot attempts (predictions or eval results JSONL): drop what it solves",
    )
    from trainer.fanout import add_ray_arguments

    add_ray_arguments(p)
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Open the sandbox, judge with a progress bar (here, or as Ray tasks with
    `--ray`/`--ray-address`: `trainer.fanout`), print the per-check counts."""
    from contextlib import ExitStack

    from rich.progress import Progress

    from swe_lsp.sandbox import open_sandbox
    from swe_lsp.settings import load_settings
    from trainer.fanout import ray_options
    from trainer.ray_steps import reject_on_ray

    instances = read_instances(args.out / "collect" / "instances.jsonl")
    options = ray_options(args)
    box_settings = None
    if args.sandbox != "none":
        # The tests are graded per test from their whole log.
        box = {"kind": args.sandbox, "max_output_bytes": LOG_BYTES}
        box_settings = load_settings(None, {"sandbox": box}).settings.sandbox
    one_shot = read_one_shot(args.one_shot) if args.one_shot else None
    with ExitStack() as stack, Progress() as bar:
        task = bar.add_task("reject", total=len(instances))

        def advance(message: str) -> None:
            bar.update(task, advance=1, description=message)

        if options is not None:  # each task opens its own sandbox on its node
            report = reject_on_ray(
                instances,
                args.out,
                box_settings,
                args.timeout,
                options,
                args.mirrors,
                not args.no_gold_steps,
                advance,
                one_shot,
            )
        else:
            sandbox = stack.enter_context(open_sandbox(box_settings)) if box_settings is not None else None
            report = reject(
                instances,
                args.out,
                Runner(sandbox, args.timeout),
                args.mirrors,
                not args.no_gold_steps,
                advance,
                one_shot,
            )
    provenance.record(
        args.out,
        STEP,
        {
            "sandbox": args.sandbox,
            "timeout_s": args.timeout,
            "one_shot": str(args.one_shot) if args.one_shot else None,
            **({"ray": options.address or "local", "workers": options.workers} if options else {}),
        },
    )
    for name, c in report["checks"].items():
        print(f"{name:<14} checked {c['checked']:>6}  passed {c['passed']:>6}")
    dropped = {k: v for k, v in report["counts"].items() if k.startswith("instances_dropped")}
    if dropped:
        print(
            ", ".join(
                f"{k.removeprefix('instances_dropped_')}: {v} instance(s) dropped" for k, v in dropped.items()
            )
        )
    print(
        f"sft steps {report['sft_steps']}, PRM labels {report['prm_labels']}, ORM pairs {report['orm_pairs']}"
    )
    return 0
