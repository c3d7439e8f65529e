"""`swe-lsp.debugInfo` -> `{text, report, server}`: what `swe-lsp doctor` prints, plus the server's
own state (client, capabilities it acts on, settings in force, engine worker, jobs, index and
each folder's learned ranker).

Execution: event loop, async: the doctor report runs `nvidia-smi` and asks Docker (up to a few
seconds), so it runs in a thread while the loop keeps answering.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import sys
from typing import TYPE_CHECKING, Any

from swe_lsp.server.api.commands import command
from swe_lsp.server.protocol import DEBUG_INFO

if TYPE_CHECKING:
    from swe_lsp.server.server import SweLspServer


def server_state(ls: SweLspServer) -> dict[str, Any]:
    """The server's side of the report."""
    jobs = ls._jobs
    return {
        "pid": os.getpid(),
        "client": ls.session.client_name,
        "clientFeatures": dataclasses.asdict(ls.session.client),
        "workspace": str(ls.root) if ls.root else None,
        "settings": ls.session.settings.model_dump(mode="json"),
        "workspaceTrusted": ls.session.loaded.trusted,
        "ignoredSettings": list(ls.session.loaded.ignored),
        "store": str(ls.store.path),
        "engine": ls.engine_spec or "swe_lsp.search:resolve",
        "workerPid": ls.worker_pid,
        "sharedEngine": str(getattr(jobs.engine, "socket", "")) or None if jobs else None,
        "workerExits": jobs.worker_exits if jobs else 0,
        "runningJob": jobs.running if jobs else None,
        "queuedJobs": list(jobs.queued()) if jobs else [],
        "environmentCheck": ls.env_checks.running,
        "index": {
            "state": ls.indexer.state,
            "files": ls.indexer.files,
            "pid": ls.indexer.pid,
            "ranker": ls.indexer.ranker,
            "semantic": ls.indexer.semantic,
        },
        "torchImported": "torch" in sys.modules,
    }


def register(server: SweLspServer) -> None:
    @command(server, DEBUG_INFO)
    async def debug_info(ls: SweLspServer, raw: list[Any]) -> dict[str, Any]:
        from swe_lsp.doctor import collect

        report = await asyncio.to_thread(collect, ls.session.loaded)
        state = server_state(ls)
        text = report.as_text() + "\n" + "\n".join(f"{k:<13} {v}" for k, v in state.items())
        return {"text": text, "report": report.as_dict(), "server": state}
