"""`swe-lsp jobs`: the language server's job store from the command line.

- `swe-lsp jobs list [--all] [--json]`: jobs, newest first, with state and candidate count.
- `swe-lsp jobs show JOB_ID`: one job, its candidates and their diffs.
- `swe-lsp jobs export --feedback FILE`: the user's accepted/rejected pairs as JSON lines
  (`prompt`, `chosen`, `rejected` diffs, plus ids), the format the trainer's ORM (DPO) reads.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("jobs", help="list, show and export the language server's jobs")
    parser.add_argument("--store", type=Path, default=None, help="job store file (default: data dir)")
    jobs_sub = parser.add_subparsers(dest="jobs_command", metavar="ACTION", required=True)
    ls = jobs_sub.add_parser("list", help="jobs, newest first")
    ls.add_argument("--all", action="store_true", help="include discarded jobs")
    ls.add_argument("--json", action="store_true", help="machine-readable output")
    ls.set_defaults(run=_list)
    show = jobs_sub.add_parser("show", help="one job with its candidates")
    show.add_argument("job_id")
    show.set_defaults(run=_show)
    export = jobs_sub.add_parser("export", help="export user feedback for training")
    export.add_argument("--feedback", type=Path, required=True, metavar="FILE", help="JSON lines to write")
    export.set_defaults(run=_export)


def _store(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from swe_lsp.server.store import JobStore

    return JobStore(args.store)


def _list(args: argparse.Namespace) -> int:
    from swe_lsp.server.views import job_view

    store = _store(args)
    records = store.jobs(include_discarded=args.all)
    if args.json:
        print(json.dumps([job_view(r) for r in records], indent=2))
        return 0
    for r in records:
        when = time.strftime("%Y-%m-%d %H:%M", time.localtime(r.created))
        issue = " ".join(r.issue.text.split())[:60]
        print(f"{r.id}  {when}  {r.state:<11} {r.candidate_count:>2} cand.  {issue}")
    if not records:
        print("no jobs", file=sys.stderr)
    return 0


def _show(args: argparse.Namespace) -> int:
    from swe_lsp.errors import SweLspError

    store = _store(args)
    record = store.job(args.job_id)
    if record is None:
        raise SweLspError(f"no job {args.job_id!r} in {store.path}; `swe-lsp jobs list` shows them")
    print(f"job {record.id}: {record.state} ({record.message})\nworkspace {record.workspace}\n")
    print(record.issue.text, "\n")
    for cand in store.candidates(record.id):
        ev = cand.evidence
        print(f"--- candidate {cand.rank}: score {cand.score:.3f}, verified {ev.verified} --- {cand.summary}")
        print(cand.diff)
    return 0


def _export(args: argparse.Namespace) -> int:
    store = _store(args)
    count = 0
    args.feedback.parent.mkdir(parents=True, exist_ok=True)
    with args.feedback.open("w", encoding="utf-8") as fh:
        for pair in store.preference_pairs():
            fh.write(json.dumps(pair) + "\n")
            count += 1
    print(f"wrote {count} preference pair(s) to {args.feedback}", file=sys.stderr)
    return 0
