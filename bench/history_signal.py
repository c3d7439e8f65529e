"""Does the repository's own history help localization? A measurement for issue 14, before a ranker.

    SWE_LSP_BENCH_MIRRORS=/work/.mirror python bench/history_signal.py [--commits N] [--out FILE]

For each SWE-bench instance whose `bench/localize.py` record is cached (the current retrieval code's
`bench/.cache/localize/<version>/`), the commits before the instance's base commit (the last
`--commits`, no merges: strictly the past of the snapshot, never the fix) give each file a history
document: the messages of the commits that changed it. Signals per candidate file:
- `history`: BM25 of the issue against the history documents of every file the commits touched
  (identifiers split, as the fair baseline does);
- `fixes`: how many of those commits changed the file.
Our top 10 files are re-ranked by reciprocal-rank fusion of our order and the history order (each
signal's order alone is reported too). Only the top 10 are stored, so recall@10 cannot move: the
question is whether history moves the right file up. Results: bench/results/history_signal.json.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from localize import CACHE, DATA, code_version, mirror, recall  # noqa: E402

from swe_lsp.workspace.bm25 import BM25  # noqa: E402
from swe_lsp.workspace.tokens import code_terms  # noqa: E402

RESULTS = HERE / "results" / "history_signal.json"
# Reciprocal-rank fusion's constant (the usual 60): a rank's weight falls slowly, so neither list
# decides alone.
RRF_K = 60


def history(git_dir: Path, commit: str, most: int) -> list[tuple[str, list[str]]]:
    """(message, changed paths) of the last `most` non-merge commits reachable from `commit`."""
    out = subprocess.run(
        ["git", "--git-dir", str(git_dir), "log", "--no-merges", f"-n{most}", "--name-only",
         "--format=%x00%B%x01", commit],
        capture_output=True, text=True, errors="replace", check=True,
    ).stdout  # fmt: skip
    commits = []
    for block in out.split("\0")[1:]:
        message, _, files = block.partition("\x01")
        commits.append((message.strip(), [f for f in files.split("\n") if f.strip()]))
    return commits


def signals(issue: str, commits: list[tuple[str, list[str]]]) -> tuple[dict[str, float], Counter[str]]:
    """Per file: BM25 of the issue against its commits' messages, and its commit count."""
    docs: dict[str, Counter[str]] = {}
    fixes: Counter[str] = Counter()
    for message, files in commits:
        terms = code_terms(message)
        for f in files:
            docs.setdefault(f, Counter()).update(terms)
            fixes[f] += 1
    paths = list(docs)
    scores = BM25([docs[p] for p in paths]).scores(code_terms(issue))
    return dict(zip(paths, scores, strict=True)), fixes


def fused(ours: list[str], score: dict[str, float]) -> tuple[list[str], list[str]]:
    """Our top files re-ranked by the history score alone, and by RRF of both orders."""
    by_history = sorted(ours, key=lambda f: (-score.get(f, 0.0), ours.index(f)))
    rank_h = {f: i for i, f in enumerate(by_history)}
    rrf = sorted(ours, key=lambda f: -(1 / (RRF_K + ours.index(f)) + 1 / (RRF_K + rank_h[f])))
    return by_history, rrf


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--commits", type=int, default=5000, help="history depth before the base commit")
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    rows = {r["instance_id"]: r for r in map(json.loads, DATA.read_text().splitlines()) if r}
    store = CACHE / "localize" / code_version()
    records = []
    for n, path in enumerate(sorted(store.glob("*.json")), 1):
        record = json.loads(path.read_text())
        row = rows[record["instance_id"]]
        commits = history(mirror(row["repo"]), row["base_commit"], args.commits)
        score, fixes = signals(row["problem_statement"], commits)
        record["history_files"], record["rrf_files"] = fused(record["files"], score)
        record["fixes_files"] = sorted(record["files"], key=lambda f: (-fixes[f], record["files"].index(f)))
        records.append(record)
        print(f"[{n}] {record['instance_id']}: {len(commits)} commits", flush=True)
    summary = {
        "instances": len(records),
        "commits_before_base": args.commits,
        "code_version": code_version(),
        **{
            who: {f"file_recall@{k}": recall(records, "gold_files", key, k) for k in (1, 3, 5)}
            for who, key in (
                ("ours", "files"),
                ("history_only", "history_files"),
                ("commit_count_only", "fixes_files"),
                ("rrf", "rrf_files"),
            )
        },
    }
    args.out.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
