"""The pipeline's ceiling: what Dev-Search lets through when the model is perfect.

    SWE_LSP_BENCH_MIRRORS=/work/.mirror python bench/ceiling.py [--model NAME] [--repos a/b,...]
        [--per-repo N] [--limit N] [--data FILE.jsonl] [--out FILE.json]

For each SWE-bench instance (default: ../shared/swebench/lite_dev.jsonl), the base commit is
materialized and indexed as `bench/localize.py` does, and the real search code (`search()`, the
devsearch strategy, n = k = 1) runs with `bench/oracle.py`'s policy, which answers each stage from
the gold patch in the first form that stage's decoding constraint accepts. The limits are those of
the model manifest `--model` (the search reads them from there as it does in the server). Per
instance and stage it records whether the right answer got through:

- understand: the gold files were among the files offered, and the oracle's answer was accepted and
  became the file set passed on;
- localize: the gold change regions were written as locations the constraint accepts, and they
  resolved;
- patch: the gold edits were written as blocks the constraint accepts, they applied, and the
  candidate is the gold fix (the same dedup key: the same AST for Python files).

With `--verify` (Docker; the instances' environments as `bench/environments.py` builds them), the
candidate that got through is also run end to end: the search's own verifier (`SandboxVerifier`)
with the oracle's reproduction (the instance's tests with its test patch, run on the original tree
first: kept only if it reproduces) and the regression tests the verifier selects, before/after per
test; and the instance's FAIL_TO_PASS/PASS_TO_PASS tests, graded as the harness grades them.
Ranking against wrong candidates is `bench/ranking.py`'s. Results: bench/results/ceiling.json (or
`--out`).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import threading
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from localize import CACHE, add_selection_args, materialize, selected_rows  # noqa: E402
from oracle import GoldAnswers, OraclePolicy, UniformScorer, reproduction_script  # noqa: E402

from swe_lsp.llm import get_manifest  # noqa: E402
from swe_lsp.llm.limits import Limits  # noqa: E402
from swe_lsp.patch import dedup_key  # noqa: E402
from swe_lsp.search.context import JobContext, SearchConfig  # noqa: E402
from swe_lsp.search.controller import search  # noqa: E402
from swe_lsp.search.model import LocationSet, PatchCandidate  # noqa: E402
from swe_lsp.search.runtime import Roles, Runtime  # noqa: E402
from swe_lsp.settings import SearchSettings  # noqa: E402
from swe_lsp.workspace.index import RepoIndex  # noqa: E402
from trainer.runs import patched_texts  # noqa: E402

RESULTS = HERE / "results" / "ceiling.json"
STAGES = ("understand", "localize", "patch")


@dataclass
class OracleRun:
    """One instance through the search with the oracle: its stage-by-stage record, the candidate
    that got through (None if none did), and the snapshot it was written against."""

    record: dict[str, Any]
    candidate: PatchCandidate | None
    tree: Path
    index: RepoIndex
    locations: LocationSet | None
    constraints: list[tuple[str, Any]] = field(default_factory=list)


def oracle_run(row: dict[str, Any], model: str) -> OracleRun:
    """Run the search on `row` with the oracle policy under `model`'s limits."""
    tree = materialize(row["repo"], row["base_commit"], CACHE / "trees" / row["repo"].replace("/", "+"))
    index = RepoIndex.build_or_load(tree, CACHE / "index", key=row["repo"])
    read = reader(tree)
    manifest = get_manifest(model)
    gold = GoldAnswers.from_patch(row["patch"], index, read, split=manifest.limits.search_lines or 6)
    new_texts = patched_texts(row["patch"], read)
    record: dict[str, Any] = {"instance_id": row["instance_id"], "repo": row["repo"], **gold.features}
    if new_texts is None:
        record["error"] = "the gold patch does not apply to the base commit"
        return OracleRun(record, None, tree, index, None)
    originals = {p: read(p) for p in new_texts}
    gold_key = dedup_key(new_texts, originals)
    cfg = SearchConfig.from_settings(SearchSettings(), budget=1, beam=1, limits=manifest.limits)
    ctx = JobContext(row["problem_statement"], index, cfg.limits)
    holder: dict[str, Runtime] = {}
    oracle = OraclePolicy(gold, stage=lambda: holder["rt"].stage)
    scorer = UniformScorer()
    rt = Runtime(row["instance_id"], Roles(oracle, scorer, scorer), threading.Event(), lambda _p: None)
    holder["rt"] = rt
    offered = {p for p, _ in ctx.file_choices()}
    missing = [f for f in gold.files if f not in offered]
    result = search(rt, ctx, cfg, None)
    by_stage: dict[str, list[Any]] = defaultdict(list)
    for r in rt.recorder.records:
        by_stage[r.stage].append(r)
    understood = any(
        r.outcome in ("sampled", "kept") and tuple(r.parsed or ()) == gold.files
        for r in by_stage["understand"]
    )
    located = any(r.outcome in ("sampled", "kept") for r in by_stage["localize"])
    patched = any(o.patch.key == gold_key for o in result.outcomes)
    patch_records = by_stage["patch"]
    stages = {
        "understand": {"ok": understood and not missing, "offered": not missing, "missing": missing[:5]},
        "localize": {"ok": understood and located and not missing},
        "patch": {
            "ok": understood and located and patched and not missing,
            "detail": next((r.detail for r in patch_records if r.detail), "")[:300],
            "outcome": next((r.outcome for r in patch_records), None),
        },
    }
    for stage in STAGES:
        stages[stage].update({k: v for k, v in oracle.log.get(stage, {}).items()})
    record = {**record, "stages": stages, "resolved_to_gold": stages["patch"]["ok"]}
    candidate = next((o.patch for o in result.outcomes if o.patch.key == gold_key), None)
    if not stages["patch"]["ok"]:
        candidate = None
    locations = candidate.locations if candidate is not None else None
    return OracleRun(record, candidate, tree, index, locations, oracle.constraints)


def reader(tree: Path) -> Callable[[str], str | None]:
    """A snapshot file's text by path (None when it cannot be read)."""

    def read(path: str) -> str | None:
        try:
            return (tree / path).read_text(encoding="utf-8", errors="surrogateescape")
        except (OSError, ValueError):
            return None

    return read


def run_instance(row: dict[str, Any], model: str, sandbox: Any = None) -> dict[str, Any]:
    """One instance through the search with the oracle; its stage-by-stage record (and, with a
    `sandbox`, the end-to-end verdicts of the candidate that got through)."""
    run = oracle_run(row, model)
    if sandbox is not None and run.candidate is not None:
        run.record["end_to_end"] = end_to_end(row, run.candidate, sandbox)
    return run.record


# A test run's limit: django's and sympy's selected modules take minutes on this machine's cores.
TEST_TIMEOUT_S = 1800.0


@dataclass
class Environment:
    """An instance's checkout in its pinned environment, with the search's verifier over it and the
    oracle's reproduction (validated on the original tree: `script` None if it did not reproduce)."""

    inst: Any
    tree: Path
    runner: Any
    tests: dict[str, str | None]
    verifier: Any
    reproduction: Any

    def grade(self, candidate: PatchCandidate) -> bool:
        """Whether `candidate` resolves the instance as the harness grades it (FAIL_TO_PASS and
        PASS_TO_PASS with the test patch)."""
        from trainer.runs import graded

        _, ran = self.runner.patch(self.tree, self.inst, dict(candidate.new_texts), self.tests, None)
        grade = graded(self.inst, ran)
        return bool(grade and grade.resolved)

    def verify(self, candidate: PatchCandidate) -> Any:
        """The search's verdict on `candidate`, with the regression tests as the fix's author left
        them (the test patch written on both sides): an existing test whose expectation the fix
        changes is updated there, as in the harness."""
        tests = {path: None if text is None else text.encode() for path, text in self.tests.items()}
        return self.verifier.verify(candidate, self.reproduction, tests)


@contextmanager
def environment(row: dict[str, Any], sandbox: Any) -> Iterator[Environment]:
    """Check `row` out under bench/.cache/ceiling, pin its environment, and write and validate the
    oracle's reproduction; removed on exit. Raises `SweLspError` when it cannot be built or run."""
    from swe_lsp.search.model import Reproduction
    from swe_lsp.search.reproduction import ReproOutcome, classify
    from swe_lsp.search.verification import SandboxVerifier
    from trainer.instances import Instance
    from trainer.repos import checkout_repo, file_at, find_mirror
    from trainer.runs import Runner
    from trainer.swebench_env import fail_to_pass_command

    inst = Instance.from_json(row)
    git_dir = find_mirror(inst.repo, Path(os.environ["SWE_LSP_BENCH_MIRRORS"]))
    work = CACHE / "ceiling" / inst.instance_id
    shutil.rmtree(work, ignore_errors=True)
    try:
        tree = checkout_repo(git_dir, inst.base_commit, work / "tree")
        runner = Runner(sandbox, TEST_TIMEOUT_S)
        runner.pin(inst, tree)
        tests = patched_texts(inst.test_patch, lambda p: file_at(git_dir, inst.base_commit, p)) or {}
        verifier = SandboxVerifier(sandbox, tree, None, TEST_TIMEOUT_S, threading.Event(), "ceiling")
        script = reproduction_script(tests, fail_to_pass_command(inst))
        run = verifier.reproduce(script)
        outcome = classify(run)
        kept = script if outcome is ReproOutcome.REPRODUCED else None
        log = (run.stdout + run.stderr)[-2000:]
        reproduction = Reproduction(kept, str(outcome), 1, run.exit_code, log, "" if kept else f"{outcome}")
        yield Environment(inst, tree, runner, tests, verifier, reproduction)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def end_to_end(row: dict[str, Any], candidate: PatchCandidate, sandbox: Any) -> dict[str, Any]:
    """The candidate in the instance's environment: the search's verifier's verdict, and the
    harness's grade of FAIL_TO_PASS/PASS_TO_PASS with the test patch."""
    from swe_lsp.errors import SweLspError

    started = time.monotonic()
    try:
        with environment(row, sandbox) as env:
            resolved = env.grade(candidate)
            verdict = env.verify(candidate)
            reproduced = env.reproduction.script is not None
    except SweLspError as exc:
        return {"error": str(exc).splitlines()[0][:300], "seconds": round(time.monotonic() - started, 1)}
    return {
        "resolved": resolved,
        "reproduced": reproduced,
        "verified": verdict.verified,
        "verify_notes": list(verdict.notes)[:3],
        "seconds": round(time.monotonic() - started, 1),
    }


def loss(r: dict[str, Any], limits: Limits) -> str | None:
    """Why an instance's right answer did not get through, as one cause (None: it did)."""
    s = r["stages"]
    if not s["understand"]["offered"]:
        return "understand: a gold file is not among the files the model may choose"
    if not s["understand"]["ok"]:
        return f"understand: the answer is not accepted ({r['files']} files)"
    if not s["localize"]["ok"]:
        return "localize: no location form accepted or resolved"
    if s["patch"]["ok"]:
        return None
    if s["patch"].get("form") is None:
        if r["new_files"] and not limits.new_files:
            return "patch: the fix creates a file"
        blocks = r["split_blocks"] if limits.search_lines else r["minimal_blocks"]
        if blocks > limits.max_blocks:
            return "patch: the fix needs more blocks than allowed"
        return "patch: the fix edits lines the prompt does not show (the import header, code past the window)"
    if s["patch"].get("outcome") == "ambiguous":
        return "patch: the SEARCH the constraint allows is not unique in the file"
    patch = s["patch"]
    return f"patch: accepted ({patch['form']}) but {patch.get('outcome')}: {patch.get('detail', '')[:80]}"


def summarize(records: list[dict[str, Any]], limits: Limits) -> dict[str, Any]:
    """Per stage (cumulative: an instance counts at a stage only if it got through every earlier
    one) and per repository: the share that got through, and the causes of the losses."""
    ok = [r for r in records if "error" not in r]
    out: dict[str, Any] = {"instances": len(records), "skipped": len(records) - len(ok)}
    for stage in STAGES:
        out[stage] = round(sum(r["stages"][stage]["ok"] for r in ok) / max(len(ok), 1), 3)
    per_repo: dict[str, dict[str, Any]] = {}
    for repo in sorted({r["repo"] for r in ok}):
        mine = [r for r in ok if r["repo"] == repo]
        shares = {s: round(sum(r["stages"][s]["ok"] for r in mine) / len(mine), 3) for s in STAGES}
        per_repo[repo] = {"n": len(mine), **shares}
    out["per_repo"] = per_repo
    ran = [r["end_to_end"] for r in ok if "end_to_end" in r]
    if ran:
        out["end_to_end"] = {
            "ran": len(ran),
            "reproduced": sum(bool(e.get("reproduced")) for e in ran),
            "verified": sum(bool(e.get("verified")) for e in ran),
            "resolved": sum(bool(e.get("resolved")) for e in ran),
            "errors": sum("error" in e for e in ran),
        }
    causes = Counter(c for r in ok if (c := loss(r, limits)) is not None)
    out["losses"] = dict(causes.most_common())
    return out


def docker_sandbox() -> Any:
    """The Docker sandbox the end-to-end runs use: the instance tests' time limit, room for
    django's and sympy's test runs, logs kept as the harness keeps them."""
    from swe_lsp.sandbox.docker_sandbox import DockerSandbox
    from swe_lsp.settings import SandboxSettings
    from trainer.swebench_env import LOG_BYTES

    settings = SandboxSettings(
        kind="docker", timeout_s=TEST_TIMEOUT_S, memory="8g", cpus=2.0, pids=4096, max_output_bytes=LOG_BYTES
    )
    return DockerSandbox(settings, warm=0)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="smollm2-135m", help="the manifest whose limits apply")
    add_selection_args(parser)
    parser.add_argument("--verify", action="store_true", help="also run each candidate end to end (Docker)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    parser.add_argument(
        "--resummarize",
        action="store_true",
        help="recompute the summary of --out's instances, running nothing",
    )
    args = parser.parse_args()
    if not os.environ.get("SWE_LSP_BENCH_MIRRORS"):
        sys.exit("set SWE_LSP_BENCH_MIRRORS to the folder of git mirrors (see bench/localize.py)")
    rows = selected_rows(args)
    sandbox = None
    if args.verify:
        sandbox = docker_sandbox()
    if args.resummarize:
        doc = json.loads(args.out.read_text())
        doc["summary"] = summarize(doc["instances"], get_manifest(doc["model_limits"]).limits)
        args.out.write_text(json.dumps(doc, indent=1) + "\n")
        print(json.dumps(doc["summary"], indent=1))
        return 0
    started = time.monotonic()
    records: list[dict[str, Any]] = []
    summary: dict[str, Any] = {}
    for n, row in enumerate(rows, 1):
        record = run_instance(row, args.model, sandbox)
        records.append(record)
        stages = record.get("stages", {})
        marks = "".join("+" if stages.get(s, {}).get("ok") else "-" for s in STAGES)
        if e2e := record.get("end_to_end"):
            marks += " verified" if e2e.get("verified") else " unverified"
            marks += " resolved" if e2e.get("resolved") else f" unresolved {e2e.get('error', '')}"
        print(
            f"[{n}/{len(rows)}] {row['instance_id']}: {marks} {record.get('error', '')}",
            file=sys.stderr,
            flush=True,
        )
        # Written after every instance, so a long run that is stopped keeps what it measured.
        summary = summarize(records, get_manifest(args.model).limits)
        doc = {
            "what": "Dev-Search's stages with a gold-answering oracle policy (bench/oracle.py): the share "
            "of instances whose right answer gets through each stage (cumulative)",
            "model_limits": args.model,
            "data": str(args.data.name),
            "complete": n == len(rows),
            "wall_s": round(time.monotonic() - started, 1),
            "summary": summary,
            "instances": records,
        }
        args.out.write_text(json.dumps(doc, indent=1) + "\n")
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
