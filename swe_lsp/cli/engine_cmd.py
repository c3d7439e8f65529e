"""`swe-lsp engine`: the shared engine service (`model.shared_engine`) from the command line.

- `swe-lsp engine status [--json]`: whether it runs, its worker, how many windows are attached, the
  running job and the queue.
- `swe-lsp engine stop`: close its worker (and the loaded model) and stop it; attached windows see
  their running job fail and start a new service on their next job.
"""

from __future__ import annotations

import argparse
import dataclasses
import json


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("engine", help="status of the shared engine, or stop it")
    parser.add_argument("--engine", default=None, help=argparse.SUPPRESS)  # the tests' stand-in engines
    engine_sub = parser.add_subparsers(dest="engine_command", metavar="ACTION", required=True)
    status = engine_sub.add_parser("status", help="whether the shared engine runs, and what it does")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.set_defaults(run=_status)
    stop = engine_sub.add_parser("stop", help="stop the shared engine (its model is unloaded)")
    stop.set_defaults(run=_stop)


def _ask(args: argparse.Namespace, message: object) -> tuple[str, bool, object | None]:
    """The socket, whether a service listens there, and its answer (None: it closed instead)."""
    from swe_lsp.server.engine_service import request, socket_path

    path = socket_path(args.engine)
    try:
        return str(path), True, request(path, message)
    except (FileNotFoundError, ConnectionError):  # refused, or reset by a service on its way out
        return str(path), False, None


def _status(args: argparse.Namespace) -> int:
    from swe_lsp.server.worker import EngineStatus, StatusRequest

    path, running, status = _ask(args, StatusRequest())
    if not isinstance(status, EngineStatus):
        if args.json:
            print(json.dumps({"up": False, "socket": path}, indent=2))
        else:
            print(f"no shared engine runs (socket {path})")
        return 0
    if args.json:
        print(json.dumps({"up": running, **dataclasses.asdict(status)}, indent=2))
        return 0
    worker = f"worker pid {status.worker_pid}" if status.worker_pid else "no worker (nothing loaded)"
    print(f"shared engine pid {status.pid} on {status.socket}: {worker}, {status.clients} window(s) attached")
    print(f"running: {status.running or 'nothing'}; queued: {', '.join(status.queued) or 'nothing'}")
    print(
        f"it unloads the model {status.idle_stop_s:.0f} s after the last job, "
        "and stops when no window is attached either"
    )
    return 0


def _stop(args: argparse.Namespace) -> int:
    from swe_lsp.server.worker import StopEngine

    path, running, _ = _ask(args, StopEngine())
    print(f"stopped the shared engine on {path}" if running else f"no shared engine runs (socket {path})")
    return 0
