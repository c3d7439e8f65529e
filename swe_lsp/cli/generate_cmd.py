"""`swe-lsp generate`: one real generation through the configured backend.

The quickest check that a model and backend work on this machine, and what `make demo` runs before
the full resolve exists: prepare the model, load it, sample, print the samples and their cost.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time
from pathlib import Path

from swe_lsp.cli.common import add_settings_flags, console, progress_bar, settings_from_args, stdout_to_stderr


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("generate", help="sample from the configured model (a smoke test of a backend)")
    add_settings_flags(parser)
    parser.add_argument("--prompt", required=True, help="the user message")
    parser.add_argument("--system", default="You are a careful senior software engineer.")
    parser.add_argument("-n", type=int, default=1, help="samples")
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--temperature", type=float, default=0.7)
    parser.add_argument("--stop", action="append", default=[], help="stop string (repeatable)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--choice", action="append", help="constrain the answer to these (repeatable)")
    group.add_argument("--regex", help="constrain the answer to this regular expression")
    group.add_argument(
        "--json-schema", type=Path, help="constrain the answer to JSON valid against this file"
    )
    parser.add_argument("--json", action="store_true", help="print a JSON object instead of text")
    parser.set_defaults(run=_run)


def _run(args: argparse.Namespace) -> int:
    from swe_lsp.llm import (
        Constraint,
        GenerateRequest,
        Message,
        SamplingConfig,
        get_manifest,
        open_backend,
    )

    settings = settings_from_args(args).settings
    manifest = get_manifest(settings.model.name, settings.models_dirs)
    constraint = None
    if args.choice:
        constraint = Constraint.choice(args.choice)
    elif args.regex:
        constraint = Constraint.regex(args.regex)
    elif args.json_schema:
        constraint = Constraint.json_schema(json.loads(args.json_schema.read_text()))
    quiet = stdout_to_stderr() if args.json else contextlib.nullcontext()
    with quiet:
        start = time.perf_counter()
        with progress_bar(f"load {manifest.name}") as update:
            backend = open_backend(manifest, settings.model, settings.cache_path(), update)
            update(f"{backend.name} ready", 1.0)
        loaded = time.perf_counter()
        with backend:
            request = GenerateRequest(
                (Message("system", args.system), Message("user", args.prompt)),
                SamplingConfig(
                    n=args.n, temperature=args.temperature, max_tokens=args.max_tokens, stop=tuple(args.stop)
                ),
                constraint,
            )
            with console.status(f"generating {args.n} sample(s) with {backend.name}"):
                (result,) = backend.generate([request])
    done = time.perf_counter()
    report = {
        "model": manifest.name,
        "backend": backend.name,
        "samples": [
            {"text": s.text, "finish_reason": s.finish_reason, "valid": s.valid} for s in result.samples
        ],
        "usage": vars(result.usage),
        "load_s": round(loaded - start, 2),
        "generate_s": round(done - loaded, 2),
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return 0
    for i, sample in enumerate(result.samples, 1):
        flag = "" if sample.valid else "  [violates the constraint]"
        print(f"--- sample {i} ({sample.finish_reason}){flag}\n{sample.text}")
    u = result.usage
    console.print(
        f"[dim]{manifest.name} on {backend.name}: {u.prompt_tokens} prompt + {u.completion_tokens} "
        f"completion tokens; load {report['load_s']} s, generate {report['generate_s']} s[/]"
    )
    return 0
