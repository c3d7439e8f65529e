"""`swe-lsp serve`: run the language server on stdio (what editors start), or on TCP.

The process stays light: it never imports torch; the engine runs in a worker process started on the
first job. Logs go to stderr (the editor's output panel) or to `--log-file`.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path


def register(sub: argparse._SubParsersAction) -> None:
    parser = sub.add_parser("serve", help="run the language server (stdio by default)")
    parser.add_argument("--stdio", action="store_true", help="talk LSP on stdin/stdout (the default)")
    parser.add_argument("--tcp", metavar="HOST:PORT", default=None, help="listen on a TCP port instead")
    parser.add_argument("--log-file", type=Path, default=None, help="write logs here instead of stderr")
    parser.add_argument("--log-level", default="info", choices=["debug", "info", "warning", "error"])
    parser.add_argument("--store", type=Path, default=None, help="job store file (default: data dir)")
    parser.add_argument(
        "--engine",
        default=None,
        metavar="MODULE:FUNCTION",
        help="the engine entry point the worker runs (default: swe_lsp.search:resolve)",
    )
    parser.set_defaults(run=run)


def _host_port(value: str) -> tuple[str, int]:
    from swe_lsp.errors import SweLspError

    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise SweLspError(f"--tcp expects HOST:PORT (e.g. 127.0.0.1:2087), got {value!r}")
    return host, int(port)


class ExpectedErrors(logging.Filter):
    """pygls logs every failed request with its traceback. A request that fails with our own error
    (`SweLspError`: a stale candidate, a missing model) or with invalid parameters (a command run
    without its issue) is an expected case, and the client is answered with its message: one
    warning line, no traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        from pygls.exceptions import JsonRpcInvalidParams

        from swe_lsp.errors import SweLspError

        exc = record.exc_info[1] if record.exc_info else None
        if isinstance(exc, JsonRpcInvalidParams) or (
            exc is not None and isinstance(exc.__cause__, SweLspError)
        ):
            cause = exc.__cause__ if isinstance(exc.__cause__, SweLspError) else exc
            record.msg = f"{record.getMessage()}: {cause}"
            record.args = ()
            record.exc_info = record.exc_text = None
            record.levelno, record.levelname = logging.WARNING, "WARNING"
        return True


def run(args: argparse.Namespace) -> int:
    """Serve until the client says exit or goes away; the engine worker is stopped either way."""
    from swe_lsp.server import create_server

    handler: logging.Handler = (
        logging.FileHandler(args.log_file) if args.log_file else logging.StreamHandler(sys.stderr)
    )
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    logging.basicConfig(level=args.log_level.upper(), handlers=[handler], force=True)
    # pygls logs every message body at INFO; keep that for --log-level debug.
    if args.log_level != "debug":
        logging.getLogger("pygls").setLevel(logging.WARNING)
    logging.getLogger("pygls.protocol.json_rpc").addFilter(ExpectedErrors())
    server = create_server(engine_spec=args.engine, store_path=args.store)
    try:
        if args.tcp:
            server.start_tcp(*_host_port(args.tcp))
        else:
            server.start_io()
    finally:
        server.close()
    return 0
