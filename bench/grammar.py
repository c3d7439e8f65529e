"""What the decoding constraints cost to compile, under a model's limits, on real repositories.

    SWE_LSP_BENCH_MIRRORS=/work/.mirror python bench/grammar.py [--model NAME] [--per-repo N]
        [--repos a/b,...] [--instances ID,...] [--out FILE.json]

The strong limits let understanding name any source file (django: about 2,700 paths in one regex),
localization name any symbol of 30 files, and a patch quote any run of the shown lines. A
constrained decoder compiles each request's regex before the first token (vLLM hands it to
xgrammar), so a grammar that takes seconds to compile is seconds added to every request. For each
instance, `bench/ceiling.py`'s oracle run records every request's constraint, exactly as the search
built it; each regex is then compiled by xgrammar's `GrammarCompiler` (one thread, no cache) over
the embedded model's tokenizer (49k tokens; a 32B model's 152k-token vocabulary costs more per
state). Per stage: the regex length and the compile time (median, max). Results:
bench/results/grammar.json (or `--out`).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from ceiling import oracle_run  # noqa: E402
from localize import add_selection_args, selected_rows  # noqa: E402

from swe_lsp.llm import get_manifest  # noqa: E402
from swe_lsp.llm.prepare import prepare  # noqa: E402

RESULTS = HERE / "results" / "grammar.json"
MODELS = HERE.parent / ".cache" / "test-models"


def compiler(tokenizer_model: str) -> Any:
    """xgrammar's compiler over `tokenizer_model`'s tokenizer: one thread, no cache, so every
    compile is measured cold, as a new request's grammar is."""
    import xgrammar as xgr
    from transformers import AutoTokenizer

    path = prepare(get_manifest(tokenizer_model), MODELS).path
    tokenizer = AutoTokenizer.from_pretrained(str(path))
    return xgr.GrammarCompiler(
        xgr.TokenizerInfo.from_huggingface(tokenizer), max_threads=1, cache_enabled=False
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--model", default="swe-reasoner-32b", help="the limits the constraints are built under"
    )
    parser.add_argument("--tokenizer", default="smollm2-135m", help="whose tokenizer xgrammar compiles over")
    add_selection_args(parser)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args()
    if not os.environ.get("SWE_LSP_BENCH_MIRRORS"):
        sys.exit("set SWE_LSP_BENCH_MIRRORS to the folder of git mirrors (see bench/localize.py)")
    rows = selected_rows(args)
    grammar = compiler(args.tokenizer)
    records: list[dict[str, Any]] = []
    for n, row in enumerate(rows, 1):
        run = oracle_run(row, args.model)
        compiled = []
        for stage, constraint in run.constraints:
            if constraint.kind != "regex":
                continue
            started = time.perf_counter()
            grammar.compile_regex(constraint.pattern)
            compiled.append(
                {
                    "stage": stage,
                    "chars": len(constraint.pattern),
                    "seconds": round(time.perf_counter() - started, 3),
                }
            )
        records.append({"instance_id": row["instance_id"], "repo": row["repo"], "compiled": compiled})
        worst = max((c["seconds"] for c in compiled), default=0.0)
        print(
            f"[{n}/{len(rows)}] {row['instance_id']}: {len(compiled)} grammars, worst {worst} s",
            file=sys.stderr,
        )
    by_stage: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for r in records:
        for c in r["compiled"]:
            by_stage[c["stage"]].append(c)
    summary = {
        stage: {
            "grammars": len(cs),
            "chars_median": int(statistics.median(c["chars"] for c in cs)),
            "chars_max": max(c["chars"] for c in cs),
            "seconds_median": round(statistics.median(c["seconds"] for c in cs), 3),
            "seconds_max": max(c["seconds"] for c in cs),
        }
        for stage, cs in sorted(by_stage.items())
    }
    doc = {
        "what": "xgrammar compile time of the search's decoding constraints (oracle run), per stage",
        "model_limits": args.model,
        "tokenizer": args.tokenizer,
        "data": args.data.name,
        "summary": summary,
        "instances": records,
    }
    args.out.write_text(json.dumps(doc, indent=1) + "\n")
    print(json.dumps(summary, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
