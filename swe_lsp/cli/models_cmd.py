"""`swe-lsp models list | show NAME | prepare NAME`."""

from __future__ import annotations

import argparse
import contextlib
import json

from swe_lsp.cli.common import console, progress_bar
from swe_lsp.settings import load_settings


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("models", help="list, inspect and prepare model manifests")
    verbs = parser.add_subparsers(dest="verb", metavar="VERB", required=True)
    verbs.add_parser("list", help="known models and whether they are prepared").set_defaults(run=_list)
    show = verbs.add_parser("show", help="one manifest in full")
    show.add_argument("name")
    show.set_defaults(run=_show)
    prep = verbs.add_parser("prepare", help="convert/cache a model so the engines can load it")
    prep.add_argument("name")
    prep.set_defaults(run=_prepare)
    serve = verbs.add_parser("serve", help="run `vllm serve` for a model and its adapters (shared engine)")
    serve.add_argument("name")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--max-model-len", type=int, default=None)
    serve.set_defaults(run=_serve)


def _list(_args: argparse.Namespace) -> int:
    from swe_lsp.llm.manifest import list_manifests
    from swe_lsp.llm.prepare import is_prepared

    settings = load_settings().settings
    rows = [("NAME", "BASE", "POLICY", "PRM", "ORM", "PREPARED", "DESCRIPTION")]
    for name, m in sorted(list_manifests(settings.models_dirs).items()):
        roles = [m.roles[r].kind for r in ("policy", "prm", "orm")]
        ready = "yes" if is_prepared(m, settings.cache_path()) else "no"
        rows.append((name, m.base.kind, *roles, ready, m.description))
    widths = [max(len(r[i]) for r in rows) for i in range(6)]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)) + "  " + row[6])
    return 0


def _show(args: argparse.Namespace) -> int:
    from swe_lsp.llm.manifest import get_manifest

    settings = load_settings().settings
    manifest = get_manifest(args.name, settings.models_dirs)
    print(json.dumps(manifest.model_dump(mode="json"), indent=2))
    return 0


def _prepare(args: argparse.Namespace) -> int:
    from swe_lsp.llm.manifest import get_manifest
    from swe_lsp.llm.prepare import prepare

    settings = load_settings().settings
    manifest = get_manifest(args.name, settings.models_dirs)
    with progress_bar(f"prepare {manifest.name}") as update:
        prepared = prepare(manifest, settings.cache_path(), update)
    where = prepared.path or f"(served by an endpoint: {manifest.base.model})"
    console.print(f"[green]ready[/]: {manifest.name} -> {where}")
    return 0


def _serve(args: argparse.Namespace) -> int:
    import signal
    import tempfile
    from pathlib import Path

    from swe_lsp.llm.local_server import served_names, vllm_server
    from swe_lsp.llm.manifest import get_manifest
    from swe_lsp.llm.prepare import prepare

    settings = load_settings().settings
    manifest = get_manifest(args.name, settings.models_dirs)
    with progress_bar(f"prepare {manifest.name}") as update:
        prepared = prepare(manifest, settings.cache_path(), update)
    log = Path(tempfile.mkstemp(prefix="swe-lsp-vllm-", suffix=".log")[1])
    from swe_lsp.llm.factory import has_cuda

    cuda = has_cuda()
    eager = settings.model.enforce_eager if settings.model.enforce_eager is not None else not cuda
    kv = None if cuda else settings.model.kv_cache_gib
    max_len = args.max_model_len or settings.model.max_model_len or manifest.context_length
    console.print(f"starting vllm serve for {manifest.name} (log: {log})")
    with vllm_server(prepared, log, args.host, args.port, max_len, eager, kv) as url:
        base, adapters = served_names(manifest)
        console.print(f"[green]serving[/] {base} at {url}; adapters: {adapters or 'none'}")
        console.print(f'use it with: SWE_LSP_MODEL__NAME={manifest.name} SWE_LSP_MODEL__BASE_URL="{url}"')
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
    return 0
