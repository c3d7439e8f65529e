"""Can the sandbox run real repositories' tests? Gold patches on SWE-bench Lite, per repository.

    SWE_LSP_BENCH_MIRRORS=/work/.mirror python bench/environments.py [--per-repo 3] [--repos a/b,...]
        [--instances ID,...] [--out bench/results/environments.json]

Verification is the signal Dev-Search ranks by, so it must tell right from wrong on the projects
users have. For a stratified sample of `../shared/swebench/lite_dev.jsonl` (every repository, at
least `--per-repo` instances where it has them, spread over its versions so that each runner form
is covered), each instance's environment is built through the sandbox (`DockerSandbox` with the
plan translated from the SWE-bench harness's spec for its repository version,
`trainer.swebench_env.plan_for`), and its FAIL_TO_PASS and PASS_TO_PASS tests are run twice:

- with the gold patch and the test patch: the environment is right when this resolves (graded per
  test by the harness's own log parser, `trainer.swebench_env.grade`);
- with the test patch only (the unpatched tree): it must not resolve, or the tests cannot tell a
  right patch from none.

Also recorded: the cold build time (the image was not there) and the cached one (looking the image
up and starting a session), and for every failure its reason (the build step and its log's last
line, or the tests that failed). The anchor is the harness itself, whose gold patches pass in
99.78% of its instance environments. Results are written after every instance, so a long run
can be read while it goes and resumed (`--resume` skips instances already in the file).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from swe_lsp.errors import SweLspError  # noqa: E402
from swe_lsp.settings import SandboxSettings  # noqa: E402
from trainer.instances import Instance, read_instances  # noqa: E402
from trainer.repos import checkout_repo, file_at, find_mirror  # noqa: E402
from trainer.runs import patched_texts  # noqa: E402

DATA = ROOT.parent / "shared" / "swebench" / "lite_dev.jsonl"
OUT = ROOT / "bench" / "results" / "environments.json"
WORK = ROOT / "bench" / ".cache" / "environments"
# Seconds one test run may take: django's and sympy's directives run whole test modules, which
# take minutes on one core; a hang is cut long before CI-scale time is lost.
TEST_TIMEOUT_S = 1800.0
# Memory for a test container: scikit-learn's and matplotlib's test modules need more than the
# product's 2 GiB default (chosen for one candidate's targeted tests on a laptop).
MEMORY = "8g"


# Django and SymPy are 61% of SWE-bench Verified (231 and 75 of 500) and each version changes its
# runner's setup (settings, requirement files, warnings): one instance per version of Django (7)
# and five of SymPy's sixteen versions, spread from the oldest.
MORE = {"django/django": 7, "sympy/sympy": 5}


def sample(
    instances: list[Instance], per_repo: int, repos: set[str] | None, more: dict[str, int] | None = None
) -> list[Instance]:
    """`per_repo` instances of each repository (`more` for the ones named there; all where it has
    fewer), taken round-robin over its versions (oldest first) so that every version, and so every
    runner form, is covered before any is taken twice."""
    more = MORE if more is None else more
    by_repo: dict[str, dict[str, list[Instance]]] = defaultdict(lambda: defaultdict(list))
    for inst in instances:
        if repos is None or inst.repo in repos:
            by_repo[inst.repo][inst.version].append(inst)
    chosen: list[Instance] = []
    for repo in sorted(by_repo):
        versions = [by_repo[repo][v] for v in sorted(by_repo[repo], key=_version_key)]
        taken: list[Instance] = []
        wanted = max(per_repo, more.get(repo, 0))
        while len(taken) < wanted and any(versions):
            for group in versions:
                if group and len(taken) < wanted:
                    taken.append(group.pop(0))
        chosen.extend(taken)
    return chosen


def installed_once(tree: Path, version: str) -> None:
    """The checkout as a user's workspace is once its project was installed in it (`pip install -e
    .`, without which its own tests do not run there): the version module its build declares
    (`swe_lsp.generated.version_files`, pytest's `src/_pytest/_version.py`) written, with the
    instance's version (`4.4` -> `4.4.0`), which the job's snapshot then carries and the build is
    told (`sandbox.environment.scm_version_env`)."""
    from swe_lsp.generated import version_files

    for rel in version_files(tree):
        (tree / rel).write_text(f"version = {version + '.0'!r}\n", encoding="utf-8")


def _version_key(version: str) -> tuple[int, ...]:
    return tuple(int(p) if p.isdigit() else 0 for p in version.split("."))


def run_instance(inst: Instance, sandbox: Any, mirrors: Path, own_plan: bool = False) -> dict[str, Any]:
    """Build, run gold and unpatched, grade both; one row of the results. With `own_plan` the
    environment is the one the product makes from the project's own files (what a user gets,
    `swe-lsp sandbox env`), not the one translated from the harness's spec."""
    from trainer.swebench_env import grade, plan_for, test_command

    git_dir = find_mirror(inst.repo, mirrors)
    row: dict[str, Any] = {"instance_id": inst.instance_id, "repo": inst.repo, "version": inst.version}
    work = WORK / inst.instance_id
    shutil.rmtree(work, ignore_errors=True)
    try:
        tree = checkout_repo(git_dir, inst.base_commit, work / "tree")
    except SweLspError as exc:  # a mirror that lacks a blob of this commit
        return {**row, "skipped": f"checkout: {str(exc).splitlines()[0][:300]}"}

    def read(path: str) -> str | None:
        return file_at(git_dir, inst.base_commit, path)

    gold = patched_texts(inst.patch, read) or {}
    tests = patched_texts(inst.test_patch, read) or {}
    if own_plan:
        installed_once(tree, inst.version)
    plan = sandbox.plan(tree) if own_plan else plan_for(inst, tree)
    sandbox.pin_plan(tree, plan)
    row.update(python=plan.python.chosen, python_note=plan.python.note, plan_notes=list(plan.notes))
    from swe_lsp.sandbox.env_layer import image_cached

    cold = not image_cached(sandbox.client, plan)
    start = time.monotonic()
    try:
        sandbox.image_for(tree)
    except SweLspError as exc:
        step = getattr(exc, "step", None)
        tail = getattr(exc, "tail", str(exc)).strip().splitlines()
        return {
            **row,
            "built": False,
            "build_s": round(time.monotonic() - start, 1),
            "reason": f"build failed at {step or 'setup'}: {_telling(tail)[:300]}",
            "log_tail": "\n".join(tail[-15:]),
        }
    row.update(built=True, build_cold=cold, build_s=round(time.monotonic() - start, 1))
    start = time.monotonic()
    sandbox.image_for(tree)
    row["cached_s"] = round(time.monotonic() - start, 2)
    argv = test_command(inst)
    env: dict[str, str] = {}
    if own_plan:  # the product's runner on the harness's test files, as a user's job would run them
        from swe_lsp.sandbox import detect_runner
        from trainer.swebench_env import test_directives

        runner = detect_runner(tree)
        argv, env = runner.argv(test_directives(inst)), dict(runner.env)
    row["test_command"] = " ".join(argv)[:500]
    for label, changed in (("gold", {**gold, **tests}), ("unpatched", tests)):
        start = time.monotonic()
        with sandbox.session(tree, job_id=f"bench-{inst.instance_id}") as session:
            session.put_files({p: (t.encode() if t is not None else None) for p, t in changed.items()})
            run = session.run(list(argv), TEST_TIMEOUT_S, env=env)
        log = run.stdout + "\n" + run.stderr
        verdict = grade(inst, log)
        failed = [t for t, ok in {**verdict.fail_to_pass, **verdict.pass_to_pass}.items() if not ok]
        row[label] = {
            "resolved": verdict.resolved,
            "exit": run.exit_code,
            "timed_out": run.timed_out,
            "seconds": round(time.monotonic() - start, 1),
            "parsed": verdict.parsed,
            "failed": failed[:10],
            "failed_count": len(failed),
        }
        if label == "gold" and not verdict.resolved:
            row["log_tail"] = log.strip()[-3000:]
            row["network_errors"] = any(marker in log for marker in NETWORK_ERRORS)
    row["reason"] = _reason(row)
    shutil.rmtree(work, ignore_errors=True)
    return row


# What a test prints when it needs a host the sandbox cannot reach (verification runs have no
# network, and this machine reaches only package registries): such failures are the tests', not
# the environment's, and are reported as such.
NETWORK_ERRORS = (
    "Failed to establish a new connection",
    "Name or service not known",
    "Temporary failure in name resolution",
    "Network is unreachable",
    "nodename nor servname",
)


def _telling(lines: list[str]) -> str:
    """The line of a build log that says what went wrong: the last error or exception line (pip
    ends with hints that repeat nothing), else the last line."""
    for line in reversed(lines):
        text = line.strip()
        if re.search(
            r"(Error|error:|ERROR|No matching distribution|Could not)", text
        ) and not text.startswith(
            ("error: metadata-generation-failed", "error: subprocess-exited-with-error", "note:", "hint:")
        ):
            return text
    return lines[-1].strip() if lines else ""


def _reason(row: dict[str, Any]) -> str | None:
    """Why the row falls short (None when gold resolves and the unpatched tree does not)."""
    gold, bare = row["gold"], row["unpatched"]
    if not gold["resolved"]:
        what = "timed out" if gold["timed_out"] else f"exit {gold['exit']}, {gold['parsed']} tests parsed"
        why = "tests need the internet, which the sandbox cuts off; " if row.get("network_errors") else ""
        return f"{why}gold fails {gold['failed_count']} test(s) ({what}): {', '.join(gold['failed'][:3])}"
    if bare["resolved"]:
        return "the unpatched tree passes FAIL_TO_PASS: the tests cannot tell a fix from none"
    return None


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per repository and overall: gold-pass and unpatched-fail fractions, build times."""

    def block(rs: list[dict[str, Any]]) -> dict[str, Any]:
        ran = [r for r in rs if "skipped" not in r]
        gold = sum(bool(r.get("gold", {}).get("resolved")) for r in ran)
        built = [r for r in ran if r.get("built")]
        bare_fail = sum(not r["unpatched"]["resolved"] for r in built)
        cold = [r["build_s"] for r in built if r.get("build_cold")]
        return {
            "instances": len(ran),
            "skipped": len(rs) - len(ran),
            "built": len(built),
            "gold_pass": gold,
            "gold_pass_rate": round(gold / len(ran), 3) if ran else None,
            "unpatched_fail": bare_fail,
            "unpatched_fail_rate": round(bare_fail / len(built), 3) if built else None,
            "cold_build_s_median": sorted(cold)[len(cold) // 2] if cold else None,
            "cached_s_median": sorted(r["cached_s"] for r in built)[len(built) // 2] if built else None,
        }

    by_repo: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_repo[row["repo"]].append(row)
    return {"overall": block(rows), "repos": {repo: block(rs) for repo, rs in sorted(by_repo.items())}}


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--per-repo", type=int, default=3)
    parser.add_argument("--repos", default=None, help="comma-separated owner/name")
    parser.add_argument("--instances", default=None, help="instance ids, comma-separated (not a sample)")
    parser.add_argument("--out", type=Path, default=OUT)
    parser.add_argument("--resume", action="store_true", help="keep rows already in --out, run the rest")
    parser.add_argument("--retry-failed", action="store_true", help="with --resume: run failed rows again")
    parser.add_argument(
        "--merge", type=Path, default=None, help="add the rows of another results file to --out, run nothing"
    )
    parser.add_argument(
        "--own-plan",
        action="store_true",
        help="build from the project's own files (as a user's workspace is), not the harness's spec",
    )
    args = parser.parse_args()
    if args.merge:  # runs split over processes (e.g. the compiled repositories apart) become one file
        docs = [json.loads(path.read_text()) for path in (args.out, args.merge)]
        rows = {r["instance_id"]: r for doc in docs for r in doc["instances"]}
        ordered = sorted(rows.values(), key=lambda r: (r["repo"], r["instance_id"]))
        started = time.time() - sum(doc["wall_s"] for doc in docs)
        print(json.dumps(_write(args.out, ordered, started)["summary"]["overall"], indent=2))
        return 0
    mirrors = Path(os.environ.get("SWE_LSP_BENCH_MIRRORS", "/work/.mirror"))
    everything = read_instances(DATA)
    if args.instances:
        wanted = set(args.instances.split(","))
        chosen = [i for i in everything if i.instance_id in wanted]
    else:
        chosen = sample(everything, args.per_repo, set(args.repos.split(",")) if args.repos else None)
    rows: list[dict[str, Any]] = []
    if args.resume and args.out.exists():
        rows = json.loads(args.out.read_text())["instances"]
        if args.retry_failed:  # only the failed rows of the instances chosen now are run again
            wanted = {i.instance_id for i in chosen}
            rows = [
                r for r in rows if r["instance_id"] not in wanted or not (r.get("reason") or "skipped" in r)
            ]
        done = {r["instance_id"] for r in rows}
        chosen = [i for i in chosen if i.instance_id not in done]

    from rich.progress import Progress

    from swe_lsp.sandbox.docker_sandbox import DockerSandbox
    from trainer.swebench_env import LOG_BYTES

    settings = SandboxSettings(
        kind="docker",
        timeout_s=TEST_TIMEOUT_S,
        memory=MEMORY,
        cpus=2.0,
        pids=4096,
        max_output_bytes=LOG_BYTES,
    )
    sandbox = DockerSandbox(settings, warm=0)
    started = time.time()
    with Progress(transient=False) as bar:
        task = bar.add_task("environments", total=len(chosen))
        sandbox.on_build_line = lambda line: bar.update(task, description=f"build: {line[:70]}")
        for inst in chosen:
            bar.update(task, description=inst.instance_id)
            try:
                row = run_instance(inst, sandbox, mirrors, args.own_plan)
            except Exception as exc:  # one broken instance must not end a run of hours
                row = {
                    "instance_id": inst.instance_id,
                    "repo": inst.repo,
                    "version": inst.version,
                    "built": False,
                    "reason": f"bench error: {type(exc).__name__}: {exc}"[:500],
                }
            rows.append(row)
            print(f"{inst.instance_id}: {row.get('reason') or 'ok'}", file=sys.stderr)
            _write(args.out, rows, started, args.own_plan)
            bar.advance(task)
    sandbox.close()
    summary = _write(args.out, rows, started, args.own_plan)
    print(json.dumps(summary["summary"]["overall"], indent=2))
    return 0


def _write(out: Path, rows: list[dict[str, Any]], started: float, own_plan: bool = False) -> dict[str, Any]:
    doc = {
        "what": "SWE-bench Lite gold patches through the sandbox's environments (bench/environments.py)",
        "plan": "the project's own files, as for a user's workspace" if own_plan else "the harness's spec",
        "data": "shared/swebench/lite_dev.jsonl",
        "machine": f"{os.cpu_count()} cores",
        "wall_s": round(time.time() - started),
        "summary": summarize(rows),
        "instances": rows,
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=1) + "\n")
    return doc


if __name__ == "__main__":
    sys.exit(main())
