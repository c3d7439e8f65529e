"""`swe-lsp.checkEnvironment {tests?, workDoneToken?}` -> the environment check's JSON, when it
ends: what the sandbox makes of the workspace (Python and why, dependency files, install steps,
test runner and why, the cached image), the build (reused or built, or the failing step and the
end of its log), each test's status and the counts, a one-line `summary` and the whole report as
`text`; `checkId` names it. The same document as `swe-lsp sandbox test --json`. It tells the user,
before a job, whether candidates can be verified in this project.

Progress: `$/progress` on the client's `workDoneToken`, else a server-created token, with the
build's log lines. Cancel: `swe-lsp.cancelEnvironmentCheck`, or `window/workDoneProgress/cancel`;
the answer is then `cancelled: true`. A second check while one runs: `RequestFailed`. No sandbox
here (no Docker, no bwrap): `RequestFailed` with what to install.

Execution: event loop, async; the check runs in a thread of its own (`server/env_checks.py`),
never on the loop and never in the engine worker; the files checked are the workspace's on disk.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from swe_lsp.server.api.commands import command
from swe_lsp.server.params import CheckEnvironmentArgs, invalid
from swe_lsp.server.protocol import CHECK_ENVIRONMENT

if TYPE_CHECKING:
    from swe_lsp.server.server import SweLspServer


def register(server: SweLspServer) -> None:
    @command(server, CHECK_ENVIRONMENT)
    async def check_environment(ls: SweLspServer, raw: list[Any]) -> dict[str, Any]:
        args = CheckEnvironmentArgs.parse(raw, CHECK_ENVIRONMENT)
        root = ls.root
        if root is None or not root.is_dir():
            raise invalid(f"{CHECK_ENVIRONMENT}: the server has no workspace folder; open a folder first")
        return await ls.env_checks.run(root, ls.session.settings.sandbox, args.tests, args.work_done_token)
