"""`swe-lsp models list | show NAME | prepare NAME | plan NAME | serve NAME`."""

from __future__ import annotations

import argparse
import contextlib
import json

from swe_lsp.cli.common import console, positive_int, progress_bar
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
    plan = verbs.add_parser("plan", help="what fits on a GPU: memory budget and the vLLM arguments it gives")
    plan.add_argument("name")
    plan.add_argument(
        "--gpu-mem",
        default=None,
        help="memory of one GPU, e.g. 80GiB, 24GB (default: this machine's GPU, else 80GiB as an example)",
    )
    plan.add_argument(
        "--gpus", type=positive_int, default=None, help="GPUs to plan for (default: this machine's, else 1)"
    )
    plan.add_argument("--json", action="store_true", help="one JSON document on stdout")
    plan.set_defaults(run=_plan)
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


EXAMPLE_GPU = "80GiB"
"""What `models plan` plans for on a machine without a GPU: the one 80 GB GPU the 32B manifests are
written for (an A100/H100 80GB)."""


def _plan(args: argparse.Namespace) -> int:
    from swe_lsp.llm.manifest import get_manifest
    from swe_lsp.llm.memory_plan import parse_memory
    from swe_lsp.llm.model_plan import GpuInfo, gpus_from_nvidia_smi, plan_groups

    settings = load_settings().settings
    manifest = get_manifest(args.name, settings.models_dirs)
    found = gpus_from_nvidia_smi() if args.gpu_mem is None or args.gpus is None else None
    if args.gpu_mem is not None:
        memory, where = parse_memory(args.gpu_mem), "--gpu-mem"
    elif found is not None:
        memory, where = found.memory_bytes, f"detected: {found.name}"
    else:
        memory, where = parse_memory(EXAMPLE_GPU), f"no GPU found: {EXAMPLE_GPU} as an example"
    gpus = args.gpus or (found.count if found is not None else 1)
    plans = plan_groups(manifest, settings.model, settings.cache_path(), GpuInfo(gpus, memory))
    if len(plans) == 1:  # one engine: the plan as it always was
        plan, source = plans[0].plan, plans[0].source
        assert plan is not None, "a one-engine manifest served here always has a plan"
        if args.json:
            doc = {"model": manifest.name, "config": source, "gpu_source": where, **plan.as_dict()}
            print(json.dumps(doc, indent=2))
        else:
            print(f"model        {manifest.name} (config: {source})")
            print(f"gpu source   {where}")
            print(plan.as_text())
        return 0
    # Roles on different models: one plan per engine, each inside its share of the GPU.
    if args.json:
        engines = [
            {
                "roles": list(p.group.roles),
                "engine": p.group.manifest.name,
                "config": p.source,
                "gpu_share": p.share,
                "plan": p.plan.as_dict() if p.plan is not None else None,
            }
            for p in plans
        ]
        print(json.dumps({"model": manifest.name, "gpu_source": where, "engines": engines}, indent=2))
        return 0
    print(f"model        {manifest.name} ({len(plans)} engines)")
    print(f"gpu source   {where}")
    for p in plans:
        print(f"\nroles        {', '.join(p.group.roles)} ({p.group.manifest.name})")
        if p.plan is None:
            print(f"engine       {p.source}: planned where it is served")
            continue
        print(f"config       {p.source}")
        if p.share is not None:
            print(f"gpu share    {p.share:.3f} of the GPU (memory_plan.share_gpu)")
        print(p.plan.as_text())
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
    model = settings.model
    if args.max_model_len:
        model = model.model_copy(update={"max_model_len": args.max_model_len})
    max_len = model.max_model_len or manifest.context_length
    engine = None
    if cuda:  # the memory plan's arguments (the flag and the settings win inside it)
        from swe_lsp.llm.model_plan import engine_args_for, gpus_from_torch

        gpu = gpus_from_torch()
        engine = engine_args_for(manifest, model, settings.cache_path(), gpu) if gpu is not None else None
        if engine is not None:
            console.print("vllm arguments from the memory plan: " + " ".join(engine.serve_flags()))
    console.print(f"starting vllm serve for {manifest.name} (log: {log})")
    with vllm_server(prepared, log, args.host, args.port, max_len, eager, kv, engine=engine) as url:
        base, adapters = served_names(manifest)
        console.print(f"[green]serving[/] {base} at {url}; adapters: {adapters or 'none'}")
        console.print(f'use it with: SWE_LSP_MODEL__NAME={manifest.name} SWE_LSP_MODEL__BASE_URL="{url}"')
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
    return 0
