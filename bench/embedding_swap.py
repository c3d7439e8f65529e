"""What another embedding model would change in the product's ranking, on its own candidates (issue 14).

    SWE_LSP_BENCH_MIRRORS=/work/.mirror python bench/embedding_swap.py --model DIR [--name NAME] [--first N]

The symbol stage re-weighs its best candidates by their similarity to the issue under
all-MiniLM-L6-v2 (`retrieval.SEMANTIC_WEIGHT`), and the files' last step reads their best
symbol's (`retrieval.FILE_SEMANTIC_WEIGHT`). A user can name another local sentence-transformers
folder (`search.embedding_model`: a code-retrieval model they trust); this bench says what that
model would change before anyone serves it. It reads `bench/symbol_tune.py`'s dumps (the product's
candidates with their default-model similarities; it does not make them), embeds each dumped
candidate's text (`semantic.symbol_text`, read at the instance's base commit from the mirror: the
text the product embeds) and the issue's windows with the named model, and replays the symbol and
file stages with those similarities in place of the dumped ones (`symbol_tune.replay`,
`replay_files`), the example's calls weighed where `bench/trace_signal.py` traced it, as the README's
whole-table row is. Scored over every instance rank_history cached and on two halves by instance id
(a model is only worth serving if it gains on both); instances without a dump keep the product's
own ranking. Naming the default model's folder gives back the dumped similarities (to 1e-5) and
every instance's ranking unchanged (`unchanged` in the summary): the check that the texts and
windows are the product's.

Embedding is the cost: 400 candidates per instance, about 7 s an instance on this 2-core CPU for a
MiniLM-sized model (24 min for the 199 dumped instances), far less on a GPU. Similarities are
cached under bench/.cache/embedding-swap/, by the model folder's files (names, sizes, times: a model
trained again into the same folder is embedded again) and by the dump they were computed for (a
dump made again is too), so a rerun only replays. Summary:
bench/results/embedding_swap-<name>.json (`--name`, else the folder's name).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from localize import CACHE, DATA, FILE_KS, SYMBOL_KS, mirror, recall  # noqa: E402
from rank_history import STORE  # noqa: E402
from symbol_tune import DUMPS, replay, replay_files  # noqa: E402
from trace_signal import TRACES, boosted, with_trace  # noqa: E402

from swe_lsp.workspace import retrieval  # noqa: E402
from swe_lsp.workspace.semantic import load_semantic, symbol_text  # noqa: E402

SWAPS = CACHE / "embedding-swap"


def source_lines(repo: str, commit: str, path: str, read: dict[tuple[str, str], list[str]]) -> list[str]:
    """`path`'s lines at `commit`, read from the mirror once per instance (`read` holds them)."""
    if (commit, path) not in read:
        shown = subprocess.run(
            ["git", "--git-dir", str(mirror(repo)), "show", f"{commit}:{path}"],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
        read[(commit, path)] = shown.stdout.splitlines()
    return read[(commit, path)]


def model_key(folder: Path) -> str:
    """What the similarities of a model folder are kept under: its files' names, sizes and times
    (not their contents: a 7B embedding model's weights are 14 GB to read)."""
    files = sorted(p for p in folder.rglob("*") if p.is_file())
    listing = "\n".join(f"{p.relative_to(folder)} {p.stat().st_size} {p.stat().st_mtime_ns}" for p in files)
    return hashlib.sha256(f"{folder}\n{listing}".encode()).hexdigest()[:12]


def similarities(row: dict, dump: dict, model_folder: str, cached: Path) -> dict[int, float]:
    """Each dumped candidate that has a similarity (by its place in the dump) with its similarity to
    the issue's closest window under the named model; kept in `cached` with the dump's digest, and
    embedded again when the dump is not the one they were computed for."""
    digest = hashlib.sha256(json.dumps(dump, sort_keys=True).encode()).hexdigest()
    if cached.exists():
        kept = json.loads(cached.read_text())
        if kept.get("dump") == digest:
            return {int(i): s for i, s in kept["sims"].items()}
    read: dict[tuple[str, str], list[str]] = {}
    places = [i for i, c in enumerate(dump["cands"]) if "sim" in c]
    texts = []
    for i in places:
        c = dump["cands"][i]
        span = SimpleNamespace(file=c["file"], name=c["name"], start=c["start"], end=c["end"])
        texts.append(symbol_text(span, source_lines(row["repo"], row["base_commit"], c["file"], read)))
    sims = load_semantic(model_folder).similarities(row["problem_statement"], texts)
    found = {i: round(s, 5) for i, s in zip(places, sims, strict=True)}
    cached.parent.mkdir(parents=True, exist_ok=True)
    cached.write_text(json.dumps({"dump": digest, "sims": found}))
    return found


def ranked(dump: dict) -> tuple[list[str], list[str]]:
    """The product's files and functions replayed from `dump`, with the example's calls weighed where
    it was traced (the served weights)."""
    trace = TRACES / f"{dump['instance_id']}.json"
    dump = with_trace(dump, json.loads(trace.read_text()) if trace.exists() else {"called": []})
    files = replay_files(boosted([dump], 0.0, 0.0, showing=retrieval.SHOWING_FILE_WEIGHT)[0])
    return files, replay(boosted([dump], retrieval.EXECUTED_WEIGHT, 0.0)[0])


def scores(records: list[dict]) -> dict[str, float | None]:
    return {
        **{f"file@{k}": recall(records, "gold_files", "files", k) for k in FILE_KS},
        **{f"function@{k}": recall(records, "gold_symbols", "symbols", k) for k in SYMBOL_KS},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", required=True, help="a local sentence-transformers folder")
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--queries", type=int, default=400, help="rank_history's training size")
    parser.add_argument("--first", type=int, default=None, help="only the first N instances (a check)")
    parser.add_argument("--name", default=None, help="the summary's name (default: the folder's name)")
    args = parser.parse_args()
    folder = str(Path(args.model).resolve())
    key = model_key(Path(folder))
    rows = sorted(
        (json.loads(line) for line in args.data.read_text().splitlines() if line.strip()),
        key=lambda row: row["instance_id"],
    )[: args.first]  # by id: the halves alternate on it
    before, after = [], []
    for n, row in enumerate(rows, 1):
        record_path = STORE / f"instances-q{args.queries}" / f"{row['instance_id']}.json"
        if not record_path.exists():
            continue
        record = json.loads(record_path.read_text())
        gold = {"gold_files": record["gold_files"], "gold_symbols": record["gold_symbols"]}
        dump_path = DUMPS / f"{row['instance_id']}.json"
        if not dump_path.exists():  # no candidates dumped: the product's own ranking, both sides
            same = {**gold, "files": record["product_files"], "symbols": record["product_symbols"]}
            before.append(same)
            after.append(same)
            continue
        dump = json.loads(dump_path.read_text())
        files, symbols = ranked(dump)
        before.append({**gold, "files": files, "symbols": symbols})
        sims = similarities(row, dump, folder, SWAPS / key / f"{row['instance_id']}.json")
        cands = [{**c, "sim": sims[i]} if i in sims else c for i, c in enumerate(dump["cands"])]
        swapped = {**dump, "cands": cands}
        files, symbols = ranked(swapped)
        after.append({**gold, "files": files, "symbols": symbols})
        print(f"{n}/{len(rows)} {row['instance_id']}", file=sys.stderr, flush=True)
    files_k, top = max(FILE_KS), max(SYMBOL_KS)
    summary = {
        "model": args.model,
        "instances": len(before),
        # Instances whose best files and functions the named model leaves exactly as they were: all of
        # them when it is the default model's folder.
        "unchanged": sum(
            b["files"][:files_k] == a["files"][:files_k] and b["symbols"][:top] == a["symbols"][:top]
            for b, a in zip(before, after, strict=True)
        ),
        **{
            name: {"all": scores(part), "a": scores(part[0::2]), "b": scores(part[1::2])}
            for name, part in (("default model (dumped)", before), ("named model", after))
        },
    }
    out = HERE / "results" / f"embedding_swap-{args.name or Path(folder).name}.json"
    if args.first is None:
        out.write_text(json.dumps(summary, indent=1) + "\n")
    json.dump(summary, sys.stdout, indent=1)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
