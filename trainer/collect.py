"""`swe-train collect`: `<issue, pull request, codebase>` triples, filtered, into `collect/`.

Inputs, any mix of:
- `--swebench FILE.jsonl`: SWE-bench-format rows (see `trainer.instances`);
- `--git LIST.jsonl`: local pull requests, one per line:
  `{"git_dir": ".../repo", "commit": "<merge or fix commit>", "issue_file": "issue.md",
  "instance_id": "optional", "repo": "optional label"}`. The PR is `commit`'s first parent
  (`base_commit`) to `commit`; its test files go to `test_patch`, the rest to `patch`. A relative
  `git_dir` or `issue_file` is read relative to the list file.

Outputs, in `OUT/collect/`: `instances.jsonl` (kept instances) and `report.json` (per filter: seen,
dropped, example reasons; the environment check is deferred to `reject`'s sandbox).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from trainer import provenance
from trainer.filters import FILTERS, apply_filters, is_test_path, patch_files
from trainer.instances import DataError, Instance, read_instances, read_jsonl, write_jsonl
from trainer.repos import git, git_dir_of

STEP = "collect"


def from_git(entry: Mapping[str, Any], relative_to: Path) -> Instance:
    """The instance of one local pull request (a merge or fix commit and its issue text file)."""
    try:
        repo_path = relative_to / str(entry["git_dir"])
        commit = str(entry["commit"])
        issue_file = relative_to / str(entry["issue_file"])
    except KeyError as exc:
        raise DataError(f"a --git entry needs git_dir, commit and issue_file (missing {exc})") from None
    git_dir = git_dir_of(repo_path)
    full = str(git(git_dir, "rev-parse", "--verify", f"{commit}^{{commit}}")).strip()
    base = str(git(git_dir, "rev-parse", "--verify", f"{full}^1")).strip()
    files = [f for f in str(git(git_dir, "diff", "--name-only", base, full)).splitlines() if f]
    tests = [f for f in files if is_test_path(f)]
    code = [f for f in files if f not in tests]

    def diff(paths: list[str]) -> str:
        return (
            str(git(git_dir, "diff", "--no-color", "--no-ext-diff", base, full, "--", *paths))
            if paths
            else ""
        )

    if not issue_file.is_file():
        raise DataError(f"{issue_file}: no such issue file")
    name = repo_path.resolve().name
    return Instance(
        instance_id=str(entry.get("instance_id") or f"{name}-{full[:10]}"),
        repo=str(entry.get("repo") or name),
        base_commit=base,
        problem_statement=issue_file.read_text(encoding="utf-8"),
        patch=diff(code),
        test_patch=diff(tests),
        FAIL_TO_PASS=tuple(entry.get("FAIL_TO_PASS", ())),
        PASS_TO_PASS=tuple(entry.get("PASS_TO_PASS", ())),
        git_dir=str(git_dir.resolve()),
    )


def collect(swebench: list[Path], git_lists: list[Path], out: Path) -> dict[str, Any]:
    """Read every input, filter, write `out/collect/`; returns the report."""
    instances: list[Instance] = []
    for path in swebench:
        instances += read_instances(path)
    for path in git_lists:
        for entry in read_jsonl(path):
            instances.append(from_git(entry, path.parent))
    seen: set[str] = set()
    unique = []
    for inst in instances:
        if inst.instance_id not in seen:
            seen.add(inst.instance_id)
            unique.append(inst)
    kept, filters = apply_filters(unique, FILTERS)
    folder = out / STEP
    write_jsonl(folder / "instances.jsonl", (i.to_json() for i in kept))
    report = {
        "input": len(instances),
        "duplicates": len(instances) - len(unique),
        "filters": filters,
        "environment": "deferred to `swe-train reject` (the sandbox decides)",
        "kept": len(kept),
        "code_files": {i.instance_id: list(patch_files(i.patch)) for i in kept},
    }
    (folder / "report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    return report


def register(subparsers: Any) -> None:
    """Add the `collect` subcommand."""
    p = subparsers.add_parser("collect", help="issue/PR/codebase triples, filtered (step 1)")
    p.add_argument("--swebench", type=Path, action="append", default=[], help="SWE-bench-format JSONL")
    p.add_argument("--git", type=Path, action="append", default=[], help="JSONL list of local PRs")
    p.add_argument("--out", type=Path, required=True, help="the run folder")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run the step and print its report's counts."""
    if not args.swebench and not args.git:
        raise DataError("give at least one input: --swebench FILE.jsonl or --git LIST.jsonl")
    report = collect(args.swebench, args.git, args.out)
    provenance.record(args.out, STEP, {"swebench": args.swebench, "git": args.git})
    for name, entry in report["filters"].items():
        print(f"{name:<14} seen {entry['seen']:>6}  dropped {entry['dropped']:>6}")
    print(f"kept {report['kept']} of {report['input']} -> {args.out / STEP / 'instances.jsonl'}")
    return 0
