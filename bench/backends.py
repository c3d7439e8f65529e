"""Time to first token and tokens/s for each backend on the embedded model, n=1 and n=4, with a
512-token prompt, all measured in one run (machines are noisy: compare within a run, not across).

    python bench/backends.py [--backends transformers,vllm,openai] [--max-tokens 128] [--repeats 3]

Writes bench/results/backends.json and the table between the `bench:backends` markers in README.md.
TTFT is the wall time of a 1-token generation (prefill plus one decode step). Throughput is
completion tokens over wall time for a 128-token generation (n=4: all four samples' tokens).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results" / "backends.json"

# About 512 tokens of real-looking context, as a localization prompt would carry.
CONTEXT = "\n".join(
    f"def handler_{i}(request, timeout={i}):\n    '''Handle request {i}.'''\n    return process(request, {i})"
    for i in range(15)
)


def measure(backend, repeats: int, max_tokens: int) -> dict:
    from swe_lsp.llm import GenerateRequest, Message, SamplingConfig

    prompt = (
        Message("system", "You are a careful senior software engineer."),
        Message("user", f"{CONTEXT}\n\nExplain in detail what this module does and how to test it."),
    )
    (warm,) = backend.generate([GenerateRequest(prompt, SamplingConfig(max_tokens=4))])
    row: dict = {"prompt_tokens": warm.usage.prompt_tokens}
    ttft = []
    for i in range(repeats):
        # A distinct first message defeats the prefix cache, so prefill is really measured.
        fresh = (Message("system", f"Run {i}. {prompt[0].content}"), prompt[1])
        start = time.perf_counter()
        backend.generate([GenerateRequest(fresh, SamplingConfig(max_tokens=1))])
        ttft.append(time.perf_counter() - start)
    row["ttft_s"] = round(statistics.median(ttft), 3)
    for n in (1, 4):
        rates, tokens = [], []
        for i in range(repeats):
            sampling = SamplingConfig(n=n, temperature=0.8 if n > 1 else 0.0, max_tokens=max_tokens, seed=i)
            start = time.perf_counter()
            (gen,) = backend.generate([GenerateRequest(prompt, sampling)])
            elapsed = time.perf_counter() - start
            rates.append(gen.usage.completion_tokens / elapsed)
            tokens.append(gen.usage.completion_tokens)
        row[f"tok_s_n{n}"] = round(statistics.median(rates), 1)
        row[f"completion_tokens_n{n}"] = int(statistics.median(tokens))
    return row


def open_engine(name: str, stack: contextlib.ExitStack, cache: Path):
    from swe_lsp.llm import get_manifest, open_backend, prepare
    from swe_lsp.llm.local_server import vllm_server
    from swe_lsp.settings import ModelSettings

    manifest = get_manifest("smollm2-135m")
    settings = ModelSettings(backend=name, threads=int(os.environ["OMP_NUM_THREADS"]), max_model_len=2048)
    if name == "openai":
        log = Path(tempfile.mkdtemp()) / "vllm-serve.log"
        url = stack.enter_context(vllm_server(prepare(manifest, cache), log))
        settings = settings.model_copy(update={"base_url": url})
    start = time.perf_counter()
    backend = open_backend(manifest, settings, cache)
    stack.callback(backend.close)
    return backend, time.perf_counter() - start


def write_readme(rows: dict) -> None:
    readme = ROOT / "README.md"
    text = readme.read_text()
    begin, end = "<!-- bench:backends -->", "<!-- /bench:backends -->"
    if begin not in text:
        return
    lines = [
        "| backend | load (s) | TTFT, 512-token prompt (s) | tok/s n=1 | tok/s n=4 (all samples) |",
        "|---|---|---|---|---|",
    ]
    for name, r in rows.items():
        if "error" in r:
            lines.append(f"| {name} | failed: {r['error'][:60]} | | | |")
            continue
        lines.append(f"| {name} | {r['load_s']} | {r['ttft_s']} | {r['tok_s_n1']} | {r['tok_s_n4']} |")
    table = "\n".join(lines)
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    readme.write_text(f"{head}{begin}\n{table}\n{end}{tail}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backends", default="transformers,vllm,openai")
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cache", type=Path, default=ROOT / ".cache" / "test-models")
    args = parser.parse_args()
    rows: dict[str, dict] = {}
    load_before = os.getloadavg()
    for name in args.backends.split(","):
        print(f"== {name}", file=sys.stderr, flush=True)
        with contextlib.ExitStack() as stack:
            try:
                backend, load_s = open_engine(name, stack, args.cache)
                rows[name] = {"load_s": round(load_s, 1), **measure(backend, args.repeats, args.max_tokens)}
            except Exception as exc:  # one engine failing must not lose the others' numbers
                rows[name] = {"error": f"{type(exc).__name__}: {exc}"[:500]}
        print(json.dumps(rows[name]), file=sys.stderr, flush=True)
    base = rows.get("transformers", {}).get("tok_s_n1")
    for r in rows.values():
        if base and "tok_s_n1" in r:
            r["tok_s_n1_vs_transformers"] = round(r["tok_s_n1"] / base, 2)
    result = {
        "benchmark": "backends",
        "model": "smollm2-135m",
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "threads": os.environ["OMP_NUM_THREADS"],
            # Other work on the machine moves these numbers: compare backends within one run only.
            "load_average_before_after": [round(load_before[0], 1), round(os.getloadavg()[0], 1)],
        },
        "openai_load_note": "openai load_s excludes starting `vllm serve` (the server is already up)",
        "date": time.strftime("%Y-%m-%d"),
        "max_tokens": args.max_tokens,
        "repeats": args.repeats,
        "backends": rows,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    write_readme(rows)
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
