"""Ranking against wrong candidates: does the search's final ranking put the right fix first?

    SWE_LSP_BENCH_MIRRORS=/work/.mirror python bench/ranking.py [--model NAME] [--judge NAME]
        [--backend B] [--samples N] [--others N] [--repos a/b,...] [--per-repo N] [--limit N]
        [--instances ID,...] [--verify] [--out FILE.json]

For each SWE-bench instance, `bench/ceiling.py`'s oracle run (under `--model`'s limits) gives the
gold fix as the search writes it. It is mixed with wrong candidates of two kinds:

- other fixes: the gold patches of other instances of the same repository that apply to this base
  commit (nearest in date first, at most `--others`): real fixes, of other bugs;
- the judge model's own fixes (`--judge`, the embedded model by default): its patches for this
  instance, written by the real patch stage (`generate_patches`, the judge's manifest limits and
  constraint, `--samples` samples) from the gold locations: wrong fixes at the right place, the
  hardest kind to tell from the right one. A sample that happens to be the gold fix is counted as
  a vote for it, as the search merges equal fixes.

The pool (in an order shuffled per instance, so that ties do not favour the gold) is ranked as the
search ranks its final patches: the judge scores every diff as the ORM does (`BackendORM` through
`Runtime.orm`; the embedded model has no ORM adapter, so it is the P(Yes) judge), then
`swe_lsp.search.ranking.rank` per strategy. With `--verify` (Docker; the environments
`bench/environments.py` builds), every pool candidate is also verified by the search's
`SandboxVerifier` with the oracle's reproduction, and ranked with its verdict (`exec`, and
`devsearch` with verification). Per instance: the pool and the gold's rank per strategy; summary:
the share of instances whose gold is ranked first per strategy, beside chance (the mean of 1/pool
size). Results: bench/results/ranking.json (or `--out`).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from ceiling import environment, oracle_run, reader  # noqa: E402
from localize import add_selection_args, selected_rows  # noqa: E402

from swe_lsp.errors import SweLspError  # noqa: E402
from swe_lsp.llm import Backend, Manifest, get_manifest, open_backend  # noqa: E402
from swe_lsp.patch import Patch, dedup_key  # noqa: E402
from swe_lsp.search.context import JobContext, SearchConfig  # noqa: E402
from swe_lsp.search.model import LocationSet, Outcome, PatchCandidate  # noqa: E402
from swe_lsp.search.patching import generate_patches, merge_duplicates  # noqa: E402
from swe_lsp.search.ranking import rank  # noqa: E402
from swe_lsp.search.roles import BackendORM, BackendPolicy, BackendPRM  # noqa: E402
from swe_lsp.search.runtime import Roles, Runtime  # noqa: E402
from swe_lsp.settings import SearchSettings, Settings  # noqa: E402
from swe_lsp.workspace.index import RepoIndex  # noqa: E402
from trainer.runs import patched_texts  # noqa: E402

RESULTS = HERE / "results" / "ranking.json"
MODELS = HERE.parent / ".cache" / "test-models"
GOLD = "gold"


def _date(row: dict[str, Any]) -> float:
    return datetime.fromisoformat(row["created_at"].replace("Z", "+00:00")).timestamp()


def other_fixes(
    row: dict[str, Any],
    rows: Sequence[dict[str, Any]],
    read: Callable[[str], str | None],
    gold_key: str,
    most: int,
) -> list[PatchCandidate]:
    """Up to `most` gold patches of other instances of `row`'s repository that apply to its base
    commit and are not its fix, nearest in date first, as candidates diffed by the server's writer."""
    mine = sorted(
        (r for r in rows if r["repo"] == row["repo"] and r["instance_id"] != row["instance_id"]),
        key=lambda r: abs(_date(r) - _date(row)),
    )
    out: list[PatchCandidate] = []
    for other in mine:
        if len(out) >= most:
            break
        new = patched_texts(other["patch"], read)
        if new is None:
            continue
        originals = {p: read(p) for p in new}
        key = dedup_key(new, originals)
        if key == gold_key:
            continue
        patch = Patch.from_texts(originals, new)
        empty = LocationSet(f"other:{other['instance_id']}", "", patch.files, ())
        kept = {p: t for p, t in new.items() if t is not None}
        out.append(
            PatchCandidate(
                f"other:{other['instance_id']}", "", patch.diff, patch.files, originals, kept, key, empty
            )
        )
    return out


def judge_fixes(
    rt: Runtime,
    manifest: Manifest,
    row: dict[str, Any],
    index: RepoIndex,
    locations: LocationSet,
    samples: int,
) -> list[PatchCandidate]:
    """The judge model's own patches for `row` from the gold `locations`, through the real patch
    stage under the judge's limits, equal fixes merged."""
    cfg = SearchConfig.from_settings(
        SearchSettings(), budget=samples, beam=1, limits=manifest.limits, profile=manifest.prompts
    )
    ctx = JobContext(row["problem_statement"], index, cfg.limits)
    with rt.in_stage("patch", "the judge's patches"):
        sampled = generate_patches(rt, ctx, cfg, [locations], [samples])
    return [replace(c, id=f"judge:{c.id}") for c in merge_duplicates(sampled)]


def gold_rank(ranked: Sequence[Outcome]) -> int:
    """The gold's 1-based position in `ranked`."""
    return next(i for i, o in enumerate(ranked, 1) if o.patch.id == GOLD)


def run_instance(
    row: dict[str, Any],
    rows: Sequence[dict[str, Any]],
    args: argparse.Namespace,
    backend: Backend,
    judge: Manifest,
    sandbox: Any,
) -> dict[str, Any]:
    """One instance's pool, its ORM scores and the gold's rank per strategy."""
    run = oracle_run(row, args.model)
    record: dict[str, Any] = {"instance_id": row["instance_id"], "repo": row["repo"]}
    if run.candidate is None or run.locations is None:
        return {**record, "error": "the gold fix does not get through the search (bench/ceiling.py)"}
    gold = replace(run.candidate, id=GOLD)
    roles = Roles(BackendPolicy(backend, judge), BackendPRM(backend, judge), BackendORM(backend, judge))
    rt = Runtime(f"rank-{row['instance_id']}", roles, threading.Event(), lambda _p: None)
    started = time.monotonic()
    others = other_fixes(row, rows, reader(run.tree), gold.key, args.others)
    judged = judge_fixes(rt, judge, row, run.index, run.locations, args.samples) if args.samples else []
    wrong = [c for c in judged if c.key != gold.key]
    gold = replace(gold, votes=gold.votes + sum(c.votes for c in judged if c.key == gold.key))
    pool = [gold, *others, *wrong]
    random.Random(row["instance_id"]).shuffle(pool)
    with rt.in_stage("verify", "scoring the pool"):
        scores = rt.orm(row["problem_statement"], [c.diff for c in pool])
    outcomes = [Outcome(c, orm=s) for c, s in zip(pool, scores, strict=True)]
    ranks = {s: gold_rank(rank(outcomes, s)) for s in ("devsearch", "vote")}
    record.update(
        pool=len(pool),
        others=len(others),
        judge_samples=args.samples,
        judge_fixes=len(wrong),
        judge_wrote_gold=len(judged) - len(wrong),
        orm={c.id: round(s, 4) for c, s in zip(pool, scores, strict=True)},
        rank=ranks,
        model_seconds=round(time.monotonic() - started, 1),
    )
    if sandbox is not None:
        record["verify"] = verified_ranks(row, outcomes, sandbox)
        if "rank" in record["verify"]:
            record["rank"].update(record["verify"].pop("rank"))
    return record


def verified_ranks(row: dict[str, Any], outcomes: list[Outcome], sandbox: Any) -> dict[str, Any]:
    """Every pool candidate verified in the instance's environment, and the gold's rank with the
    verdicts (`exec`; `devsearch+verify`: verified first, then by ORM score)."""
    started = time.monotonic()
    try:
        with environment(row, sandbox) as env:
            verdicts = {o.patch.id: env.verify(o.patch) for o in outcomes}
            reproduced = env.reproduction.script is not None
    except SweLspError as exc:
        return {"error": str(exc).splitlines()[0][:300], "seconds": round(time.monotonic() - started, 1)}
    checked = [replace(o, verification=verdicts[o.patch.id]) for o in outcomes]
    return {
        "reproduced": reproduced,
        "verified": sorted(i for i, v in verdicts.items() if v.verified),
        "rank": {
            "exec": gold_rank(rank(checked, "exec")),
            "devsearch+verify": gold_rank(rank(checked, "devsearch")),
        },
        "seconds": round(time.monotonic() - started, 1),
    }


def summarize(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Per strategy: the share of instances whose gold fix is ranked first (and the mean
    reciprocal rank), beside chance; per repository the same for the ORM order."""
    ok = [r for r in records if "error" not in r and r["pool"] > 1]
    out: dict[str, Any] = {
        "instances": len(records),
        "ranked": len(ok),
        "mean_pool": round(sum(r["pool"] for r in ok) / max(len(ok), 1), 2),
        "chance_first": round(sum(1 / r["pool"] for r in ok) / max(len(ok), 1), 3),
    }
    strategies = sorted({s for r in ok for s in r["rank"]})
    for s in strategies:
        mine = [r for r in ok if s in r["rank"]]
        out[s] = {
            "n": len(mine),
            "first": round(sum(r["rank"][s] == 1 for r in mine) / max(len(mine), 1), 3),
            "mrr": round(sum(1 / r["rank"][s] for r in mine) / max(len(mine), 1), 3),
            "chance_first": round(sum(1 / r["pool"] for r in mine) / max(len(mine), 1), 3),
        }
    out["per_repo"] = {
        repo: {
            "n": len(mine),
            "orm_first": round(sum(r["rank"]["devsearch"] == 1 for r in mine) / len(mine), 3),
            "chance_first": round(sum(1 / r["pool"] for r in mine) / len(mine), 3),
        }
        for repo in sorted({r["repo"] for r in ok})
        if (mine := [r for r in ok if r["repo"] == repo])
    }
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default="swe-reasoner-32b", help="the limits the gold fix meets")
    parser.add_argument("--judge", default="smollm2-135m", help="writes wrong fixes, scores")
    parser.add_argument("--backend", default="auto")
    parser.add_argument("--samples", type=int, default=4, help="the judge's patch samples per instance")
    parser.add_argument("--others", type=int, default=4, help="other instances' fixes per instance")
    add_selection_args(parser)
    parser.add_argument("--verify", action="store_true", help="also verify every pool candidate (Docker)")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if not os.environ.get("SWE_LSP_BENCH_MIRRORS"):
        sys.exit("set SWE_LSP_BENCH_MIRRORS to the folder of git mirrors (see bench/localize.py)")
    every = [json.loads(line) for line in args.data.read_text().splitlines() if line.strip()]
    rows = selected_rows(args)
    sandbox = None
    if args.verify:
        from ceiling import docker_sandbox

        sandbox = docker_sandbox()
    judge = get_manifest(args.judge)
    settings = Settings.model_validate(
        {"cache_dir": str(MODELS), "model": {"name": args.judge, "backend": args.backend, "seed": 0}}
    )
    started = time.monotonic()
    records: list[dict[str, Any]] = []
    with open_backend(judge, settings.model, MODELS) as backend:
        for n, row in enumerate(rows, 1):
            record = run_instance(row, every, args, backend, judge, sandbox)
            records.append(record)
            print(
                f"[{n}/{len(rows)}] {row['instance_id']}: pool {record.get('pool')} "
                f"ranks {record.get('rank')} {record.get('error', '')}",
                file=sys.stderr,
                flush=True,
            )
            # Written after every instance, so a long run that is stopped keeps what it measured.
            doc = {
                "what": "the gold fix mixed with wrong ones (other instances' fixes, the judge's own "
                "patches): the share of instances whose gold the search's ranking puts first",
                "model_limits": args.model,
                "judge": args.judge,
                "backend": args.backend,
                "data": args.data.name,
                "complete": n == len(rows),
                "wall_s": round(time.monotonic() - started, 1),
                "summary": summarize(records),
                "instances": records,
            }
            args.out.write_text(json.dumps(doc, indent=1) + "\n")
    print(json.dumps(summarize(records), indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
