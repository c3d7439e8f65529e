"""Jobs through the real server and the real engine worker (running the stand-in engine): code
actions, the command, progress, candidates, review documents, apply, cancel, worker death."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import pytest
from calc_workspace import BUGGY
from lsp_client import Editor, editor_session, wait_until_pid_gone
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from swe_lsp.server.store import JobStore

EDIT = "[edit calc.py a_-_b a_+_b]"


def _kinds(reports: list) -> list[str]:
    return [type(r).__name__ for r in reports]


@pytest.mark.parametrize("client", ["neovim", "vscode"])
async def test_code_actions_offer_resolve_issue(workspace: Path, client: str) -> None:
    async with editor_session(workspace, client) as ed:
        uri = ed.open("calc.py")
        doc = types.TextDocumentIdentifier(uri=uri)

        def params(start: tuple[int, int], end: tuple[int, int], diags=()) -> types.CodeActionParams:
            return types.CodeActionParams(
                text_document=doc,
                range=types.Range(start=types.Position(*start), end=types.Position(*end)),
                context=types.CodeActionContext(diagnostics=list(diags)),
            )

        plain = await ed.client.text_document_code_action_async(params((0, 0), (0, 0)))
        assert [a.title for a in plain] == ["Resolve issue..."]
        assert plain[0].command.command == "swe-lsp.resolveIssue"
        assert "issue" not in plain[0].command.arguments[0]
        assert not plain[0].is_preferred

        todo = await ed.client.text_document_code_action_async(params((6, 4), (6, 4)))
        issues = [a.command.arguments[0].get("issue") for a in todo]
        assert "TODO: handle None arguments" in issues
        assert [a.is_preferred for a in todo] == [True, None]  # the TODO's, then "Resolve issue..."

        selection = await ed.client.text_document_code_action_async(params((2, 11), (2, 16)))
        assert selection[0].command.arguments[0]["issue"] == "a - b"

        diag = types.Diagnostic(
            range=types.Range(start=types.Position(2, 4), end=types.Position(2, 16)),
            message="add() subtracts",
            source="pytest",
        )
        fixes = await ed.client.text_document_code_action_async(params((2, 4), (2, 4), [diag]))
        quick = [a for a in fixes if a.kind == types.CodeActionKind.QuickFix]
        assert quick and "add() subtracts" in quick[0].command.arguments[0]["issue"]
        assert quick[0].is_preferred

        # Nothing heavy happened: no worker, no torch in the server.
        info = await ed.command("swe-lsp.debugInfo")
        assert info["server"]["workerPid"] is None
        assert info["server"]["torchImported"] is False
        assert "swe-lsp" in info["text"]


async def test_a_plain_client_gets_only_actions_that_carry_their_issue(workspace: Path) -> None:
    """A client that cannot ask for text (plain `vim.lsp.config`, eglot) is not offered the bare
    action; the word at point (eglot's range) is a cursor; the TODO's action is the default one."""
    async with editor_session(workspace, "neovim", issue_prompt=False) as ed:
        uri = ed.open("calc.py")

        async def actions(start: tuple[int, int], end: tuple[int, int]) -> list:
            return await ed.client.text_document_code_action_async(
                types.CodeActionParams(
                    text_document=types.TextDocumentIdentifier(uri=uri),
                    range=types.Range(start=types.Position(*start), end=types.Position(*end)),
                    context=types.CodeActionContext(diagnostics=[]),
                )
            )

        assert await actions((0, 0), (0, 0)) == []  # nothing carries an issue here
        on_word = await actions((6, 6), (6, 10))  # "TODO" itself, as eglot sends the word at point
        assert [a.title for a in on_word] == ["Resolve issue: TODO: handle None arguments"]
        assert on_word[0].is_preferred
        assert await actions((2, 11), (2, 12)) == []  # the symbol "a" at point: a cursor
        selection = await actions((2, 11), (2, 16))  # "a - b": more than a word
        assert [a.command.arguments[0]["issue"] for a in selection] == ["a - b"]
        # Run anyway without an issue: a clear error, not a traceback in the server's log.
        with pytest.raises(JsonRpcException, match="'issue' is required"):
            await ed.command("swe-lsp.resolveIssue", {"uri": uri})


async def test_content_provider_is_registered_after_initialized(workspace: Path) -> None:
    async with editor_session(workspace, "vscode") as ed:
        for _ in range(100):
            if ed.registrations:
                break
            await asyncio.sleep(0.05)
        methods = [r.method for p in ed.registrations for r in p.registrations]
        assert methods == ["workspace/textDocumentContent"]
        options = ed.registrations[0].registrations[0].register_options
        assert options["schemes"] == ["swe-lsp"]


@pytest.mark.parametrize("client", ["neovim", "vscode"])
async def test_resolve_review_and_apply(workspace: Path, client: str) -> None:
    async with editor_session(workspace, client) as ed:
        started = await ed.command("swe-lsp.resolveIssue", {"issue": f"add subtracts {EDIT}"})
        job_id = started["jobId"]
        final = await ed.wait_job(job_id, ("done", "failed", "cancelled"))
        assert final["state"] == "done", final
        assert final["candidates"] == 1

        # Progress: one server-created token, begin ... report ... end, in order.
        token = f"swe-lsp/job/{job_id}"
        for _ in range(100):
            if _kinds(ed.client.progress_reports.get(token, []))[-1:] == ["WorkDoneProgressEnd"]:
                break
            await asyncio.sleep(0.05)
        kinds = _kinds(ed.client.progress_reports[token])
        assert kinds[0] == "WorkDoneProgressBegin" and kinds[-1] == "WorkDoneProgressEnd"
        assert "WorkDoneProgressReport" in kinds
        assert ed.client.progress_reports[token][0].cancellable is True
        reports = [r for r in ed.client.progress_reports[token] if r.kind == "report"]
        assert any("localize (4/7)" in (r.message or "") for r in reports)
        assert [r.percentage for r in reports] == sorted(r.percentage for r in reports)

        jobs = await ed.request("swe-lsp/jobs", {})
        assert [j["jobId"] for j in jobs["jobs"]] == [job_id]
        assert jobs["jobs"][0]["cost"]["modelCalls"] == 1

        listed = await ed.request("swe-lsp/candidates", {"jobId": job_id})
        (cand,) = listed["candidates"]
        assert cand["evidence"]["verified"] is True
        assert "-    return a - b" in cand["diff"] and "+    return a + b" in cand["diff"]
        assert cand["edit"]["documentChanges"][0]["textDocument"]["uri"].endswith("/calc.py")
        assert cand["editError"] is None
        assert [h["id"] for h in cand["hunks"]] == ["calc.py#0"]

        diff = await ed.request("swe-lsp/candidateDiff", {"jobId": job_id, "rank": 0})
        assert diff["diff"] == cand["diff"]

        docs = cand["documents"]["calc.py"]
        new = await ed.client.workspace_text_document_content_async(
            types.TextDocumentContentParams(uri=docs["candidate"])
        )
        base = await ed.client.workspace_text_document_content_async(
            types.TextDocumentContentParams(uri=docs["base"])
        )
        assert base.text == BUGGY
        assert new.text == BUGGY.replace("a - b", "a + b")

        # Nothing was written before the explicit apply.
        assert (workspace / "calc.py").read_text() == BUGGY
        assert ed.applied == []
        result = await ed.command("swe-lsp.applyCandidate", {"jobId": job_id, "rank": 0})
        assert result == {"applied": True}
        assert (workspace / "calc.py").read_text() == BUGGY.replace("a - b", "a + b")
        (params,) = ed.applied
        assert params.label == f"swe-lsp: apply candidate 0 of job {job_id}"


async def test_client_created_token_is_honoured(workspace: Path) -> None:
    async with editor_session(workspace, "vscode") as ed:
        ed.client.progress_reports["my-token"] = []
        started = await ed.command("swe-lsp.resolveIssue", {"issue": "x", "workDoneToken": "my-token"})
        await ed.wait_job(started["jobId"], ("done",))
        for _ in range(100):
            if _kinds(ed.client.progress_reports["my-token"])[-1:] == ["WorkDoneProgressEnd"]:
                break
            await asyncio.sleep(0.05)
        kinds = _kinds(ed.client.progress_reports["my-token"])
        assert kinds[0] == "WorkDoneProgressBegin" and kinds[-1] == "WorkDoneProgressEnd"
        assert f"swe-lsp/job/{started['jobId']}" not in ed.client.progress_reports


async def test_a_finished_jobs_message_carries_the_reports_notes(workspace: Path) -> None:
    """How the search ran differently from the method (no PRM: kept by vote) reaches the editor."""
    async with editor_session(workspace, "vscode") as ed:
        started = await ed.command("swe-lsp.resolveIssue", {"issue": "x [note prm:_none,_kept_by_vote]"})
        job = await ed.wait_job(started["jobId"], ("done",))
        assert job["message"] == "0 candidate(s) (prm: none, kept by vote)", job


@pytest.mark.parametrize("how", ["command", "progress-cancel"])
async def test_cancel_mid_stage_keeps_the_worker(workspace: Path, how: str) -> None:
    async with editor_session(workspace, "vscode") as ed:
        job_id = (await ed.command("swe-lsp.resolveIssue", {"issue": "hard one [block]"}))["jobId"]
        running = await ed.wait_job(job_id, ("running",))
        while running["stage"] != "localize":
            running = await ed.wait_job(job_id, ("running",))
            if running["stage"] != "localize":
                await asyncio.sleep(0.05)
        pid = (await ed.command("swe-lsp.debugInfo"))["server"]["workerPid"]
        assert pid is not None
        if how == "command":
            answer = await ed.command("swe-lsp.cancel", {"jobId": job_id})
            assert answer["jobId"] == job_id
        else:
            ed.client.window_work_done_progress_cancel(
                types.WorkDoneProgressCancelParams(token=f"swe-lsp/job/{job_id}")
            )
        final = await ed.wait_job(job_id, ("done", "failed", "cancelled"))
        assert final["state"] == "cancelled"

        # The same worker runs the next job.
        second = (await ed.command("swe-lsp.resolveIssue", {"issue": "easy"}))["jobId"]
        assert (await ed.wait_job(second, ("done", "failed", "cancelled")))["state"] == "done"
        info = (await ed.command("swe-lsp.debugInfo"))["server"]
        assert info["workerPid"] == pid and info["workerExits"] == 0
    assert (workspace / "calc.py").read_text() == BUGGY
    assert wait_until_pid_gone(pid), "the worker outlived the server"


async def _engine_child(ed: Editor, issue: str) -> tuple[int, int]:
    """Start a job whose engine started a child process (as vLLM does); its pid and the worker's."""
    job_id = (await ed.command("swe-lsp.resolveIssue", {"issue": issue}))["jobId"]
    running = await ed.wait_job(job_id, ("running",))
    while " child " not in (running["message"] or ""):
        await asyncio.sleep(0.05)
        running = await ed.wait_job(job_id, ("running",))
    worker = (await ed.command("swe-lsp.debugInfo"))["server"]["workerPid"]
    return int(running["message"].rsplit(maxsplit=1)[1]), worker


@pytest.mark.parametrize("issue", ["[child] [block]", "[child] [block] [ignore-cancel]"])
async def test_no_engine_process_outlives_a_shutdown(workspace: Path, issue: str) -> None:
    """`shutdown` mid-job: the worker and every process its engine started end, also when the
    job cannot be interrupted."""
    async with editor_session(workspace, "neovim") as ed:
        child, worker = await _engine_child(ed, issue)
    assert wait_until_pid_gone(worker, 30), "the worker outlived the server"
    assert wait_until_pid_gone(child, 30), "the engine's child process outlived the server"


async def test_no_engine_process_outlives_a_killed_server(workspace: Path) -> None:
    """The editor goes away without a word (the server is killed): the worker sees its pipe close
    and ends itself and its engine's processes, though the job ignores its cancel."""
    async with editor_session(workspace, "vscode") as ed:
        child, worker = await _engine_child(ed, "[child] [block] [ignore-cancel]")
        server = (await ed.command("swe-lsp.debugInfo"))["server"]["pid"]
        os.kill(server, signal.SIGKILL)
        assert wait_until_pid_gone(worker, 30), "the worker outlived its server"
        assert wait_until_pid_gone(child, 30), "the engine's child process outlived the worker"


async def test_cancel_is_answered_at_once_while_the_engine_cannot_stop(workspace: Path) -> None:
    """A job inside a step that cannot be interrupted (`[ignore-cancel]`, as a long generation):
    the user's cancel ends it for them at once; the next job waits for the engine, which is killed
    after the grace period and restarted for it."""
    async with editor_session(workspace, "neovim") as ed:
        stuck = (await ed.command("swe-lsp.resolveIssue", {"issue": "[block] [ignore-cancel]"}))["jobId"]
        running = await ed.wait_job(stuck, ("running",))
        while running["stage"] != "localize":
            await asyncio.sleep(0.05)
            running = await ed.wait_job(stuck, ("running",))
        answer = await ed.command("swe-lsp.cancel", {"jobId": stuck})
        assert answer == {"jobId": stuck, "state": "cancelled"}
        cancelled = await ed.wait_job(stuck, ("cancelled",))
        assert cancelled["message"].startswith("cancelled (the engine is stopping")
        info = (await ed.command("swe-lsp.debugInfo"))["server"]
        assert info["workerExits"] == 0 and info["runningJob"] == stuck  # the engine has not stopped yet
        after = (await ed.command("swe-lsp.resolveIssue", {"issue": "after"}))["jobId"]
        assert (await ed.wait_job(after, ("queued",)))["message"] == "queued (1 ahead)"
        assert (await ed.wait_job(after, ("done", "failed", "cancelled"), timeout=120))["state"] == "done"
        final = (await ed.request("swe-lsp/jobs", {}))["jobs"]
        assert next(j for j in final if j["jobId"] == stuck)["state"] == "cancelled"


async def test_queued_jobs_wait_and_can_be_cancelled(workspace: Path) -> None:
    async with editor_session(workspace, "neovim") as ed:
        first = (await ed.command("swe-lsp.resolveIssue", {"issue": "[block]"}))["jobId"]
        second = (await ed.command("swe-lsp.resolveIssue", {"issue": "second"}))["jobId"]
        third = (await ed.command("swe-lsp.resolveIssue", {"issue": "third"}))["jobId"]
        queued = await ed.wait_job(second, ("queued",))
        assert queued["message"].startswith("queued")
        assert (await ed.command("swe-lsp.cancel", {"jobId": second}))["state"] == "cancelled"
        await ed.command("swe-lsp.cancel", {"jobId": first})
        assert (await ed.wait_job(first, ("cancelled", "done", "failed")))["state"] == "cancelled"
        assert (await ed.wait_job(third, ("cancelled", "done", "failed")))["state"] == "done"


async def test_worker_death_fails_the_job_and_the_queue_goes_on(workspace: Path) -> None:
    async with editor_session(workspace, "neovim") as ed:
        doomed = (await ed.command("swe-lsp.resolveIssue", {"issue": "[crash]"}))["jobId"]
        after = (await ed.command("swe-lsp.resolveIssue", {"issue": "fine"}))["jobId"]
        failed = await ed.wait_job(doomed, ("done", "failed", "cancelled"))
        assert failed["state"] == "failed"
        assert "exited unexpectedly" in failed["error"]
        assert (await ed.wait_job(after, ("done", "failed", "cancelled")))["state"] == "done"
        info = (await ed.command("swe-lsp.debugInfo"))["server"]
        assert info["workerExits"] == 1 and info["workerPid"] is not None


async def test_stale_apply_is_refused_and_nothing_is_written(workspace: Path) -> None:
    async with editor_session(workspace, "vscode") as ed:
        job_id = (await ed.command("swe-lsp.resolveIssue", {"issue": EDIT}))["jobId"]
        assert (await ed.wait_job(job_id, ("done", "failed")))["state"] == "done"
        # The user edits calc.py in the editor after the snapshot.
        ed.open("calc.py", BUGGY.replace("Add two numbers", "Sum"), version=7)
        listed = await ed.request("swe-lsp/candidates", {"jobId": job_id})
        assert listed["candidates"][0]["edit"] is None
        assert "calc.py" in listed["candidates"][0]["editError"]
        result = await ed.command("swe-lsp.applyCandidate", {"jobId": job_id, "rank": 0})
        assert result["applied"] is False and "calc.py changed" in result["failureReason"]
        assert ed.applied == []
        assert (workspace / "calc.py").read_text() == BUGGY
        messages = [m.message for m in ed.client.messages]
        assert any("calc.py changed" in m for m in messages)


async def test_open_buffer_is_the_snapshot_and_apply_carries_its_version(workspace: Path) -> None:
    edited = BUGGY.replace("Add two numbers", "Sum")
    async with editor_session(workspace, "vscode") as ed:
        ed.open("calc.py", edited, version=4)
        job_id = (await ed.command("swe-lsp.resolveIssue", {"issue": EDIT}))["jobId"]
        assert (await ed.wait_job(job_id, ("done", "failed")))["state"] == "done"
        # The editor refuses the edit, or answers with an error (eglot, when the user declines):
        # answered, recorded as declined, reported, nothing written.
        ed.refuse_edits = "no"
        refused = await ed.command("swe-lsp.applyCandidate", {"jobId": job_id, "rank": 0})
        assert refused == {"applied": False, "failureReason": "user said no"}
        ed.refuse_edits = "error"
        errored = await ed.command("swe-lsp.applyCandidate", {"jobId": job_id, "rank": 0})
        assert errored["applied"] is False and "User cancelled server edit" in errored["failureReason"]
        store = JobStore()
        try:
            declined = [(f.action, f.detail) for f in store.feedback(job_id)]
        finally:
            store.close()
        assert [a for a, _ in declined] == ["declined", "declined"]
        assert "User cancelled server edit" in declined[1][1]
        ed.refuse_edits = None
        result = await ed.command(
            "swe-lsp.applyCandidate", {"jobId": job_id, "rank": 0, "hunks": ["calc.py#0"]}
        )
        assert result == {"applied": True}
        (params,) = ed.applied
        change = params.edit.document_changes[0]
        assert change.text_document.version == 4
        # The fake editor writes to disk what the (unsaved) buffer became.
        assert (workspace / "calc.py").read_text() == BUGGY.replace("a - b", "a + b")


async def test_unknown_jobs_and_bad_arguments_are_invalid_params(workspace: Path) -> None:
    async with editor_session(workspace, "neovim") as ed:
        for name, args in [
            ("swe-lsp.resolveIssue", []),
            ("swe-lsp.resolveIssue", [{"uri": "file:///x"}]),
            ("swe-lsp.resolveIssue", [{"issue": "x", "budget": "lots"}]),
            ("swe-lsp.cancel", [{"jobId": "nope"}]),
            ("swe-lsp.applyCandidate", [{"jobId": "nope", "rank": 0}]),
            ("swe-lsp.applyCandidate", [{"jobId": "nope", "rank": -1}]),
            ("swe-lsp.discardJob", ["nope"]),
            ("swe-lsp.noSuchCommand", []),
        ]:
            with pytest.raises(JsonRpcException) as err:
                await ed.command(name, *args)
            assert err.value.code == -32602, (name, args, err.value)
        with pytest.raises(JsonRpcException) as err:
            await ed.client.workspace_text_document_content_async(
                types.TextDocumentContentParams(uri="swe-lsp:/nope/0/calc.py")
            )
        assert err.value.code == -32602
        # Still alive and answering.
        assert (await ed.request("swe-lsp/jobs", None))["jobs"] == []
