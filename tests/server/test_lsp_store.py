"""The job store: it survives a killed server, and it feeds `swe-lsp jobs export`; settings from
the editor; malformed params fuzzed with hypothesis."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from calc_workspace import BUGGY
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from lsp_client import editor_session, wait_until_pid_gone
from lsprotocol import types
from pygls.exceptions import JsonRpcException

from swe_lsp.patch import Patch, content_hash
from swe_lsp.search.job import Candidate, Evidence, Issue, JobReport
from swe_lsp.server.store import JobStore, default_path

EDIT = "[edit calc.py a_-_b a_+_b]"


async def test_store_survives_a_killed_server(workspace: Path) -> None:
    async with editor_session(workspace, "neovim") as ed:
        done = (await ed.command("swe-lsp.resolveIssue", {"issue": EDIT}))["jobId"]
        assert (await ed.wait_job(done, ("done", "failed")))["state"] == "done"
        running = (await ed.command("swe-lsp.resolveIssue", {"issue": "[block]"}))["jobId"]
        await ed.wait_job(running, ("running",))
        worker = (await ed.command("swe-lsp.debugInfo"))["server"]["workerPid"]
        ed.client._server.kill()  # kill -9
        await ed.client._server.wait()
    assert wait_until_pid_gone(worker), "the worker outlived its killed server"

    async with editor_session(workspace, "vscode") as ed:
        jobs = {j["jobId"]: j for j in (await ed.request("swe-lsp/jobs", {}))["jobs"]}
        assert jobs[done]["state"] == "done" and jobs[done]["candidates"] == 1
        assert jobs[running]["state"] == "interrupted"
        listed = await ed.request("swe-lsp/candidates", {"jobId": done})
        assert listed["candidates"][0]["editError"] is None
        assert (await ed.command("swe-lsp.applyCandidate", {"jobId": done, "rank": 0})) == {"applied": True}
    assert (workspace / "calc.py").read_text() == BUGGY.replace("a - b", "a + b")


def _seed_finished_job(workspace: Path, job_id: str) -> None:
    """A finished job as a restarted server finds it: two real candidates made by the patch package."""
    store = JobStore(default_path())
    store.add_job(job_id, str(workspace), Issue("add() subtracts"))
    cands = []
    for rank, fix in enumerate(["a + b", "b + a"]):
        patch = Patch.from_texts({"calc.py": BUGGY}, {"calc.py": BUGGY.replace("a - b", fix)})
        cands.append(
            Candidate(
                rank,
                patch.diff,
                patch.files,
                {"calc.py": content_hash(BUGGY)},
                1.0 - rank / 10,
                Evidence(verified=rank == 0, orm_score=0.5),
            )
        )
    store.update_job(job_id, state="running")
    store.finish_job(JobReport(job_id, "done", tuple(cands)), {"calc.py": BUGGY})
    store.close()


async def test_seeded_job_apply_and_feedback_export(workspace: Path, tmp_path: Path) -> None:
    _seed_finished_job(workspace, "seeded1")
    async with editor_session(workspace, "vscode") as ed:
        listed = await ed.request("swe-lsp/candidates", {"jobId": "seeded1"})
        assert [c["rank"] for c in listed["candidates"]] == [0, 1]
        assert (await ed.command("swe-lsp.applyCandidate", {"jobId": "seeded1", "rank": 0})) == {
            "applied": True
        }
        # The second candidate now sees a changed file: refused, naming it.
        second = await ed.command("swe-lsp.applyCandidate", {"jobId": "seeded1", "rank": 1})
        assert second["applied"] is False and "calc.py" in second["failureReason"]
        assert (await ed.command("swe-lsp.discardJob", {"jobId": "seeded1"}))["discarded"] is True
        assert (await ed.request("swe-lsp/jobs", {}))["jobs"] == []
    out = tmp_path / "pairs.jsonl"
    run = subprocess.run(
        [sys.executable, "-m", "swe_lsp", "jobs", "export", "--feedback", str(out)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    (pair,) = [json.loads(line) for line in out.read_text().splitlines()]
    assert pair["prompt"] == "add() subtracts"
    assert "+    return a + b" in pair["chosen"] and "+    return b + a" in pair["rejected"]
    listing = subprocess.run(
        [sys.executable, "-m", "swe_lsp", "jobs", "list", "--all"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert "seeded1" in listing.stdout


def test_store_refuses_a_newer_schema(tmp_path: Path) -> None:
    path = tmp_path / "jobs.sqlite3"
    JobStore(path).close()
    import sqlite3

    with sqlite3.connect(path) as db:
        db.execute("PRAGMA user_version=99")
    with pytest.raises(Exception, match="newer swe-lsp"):
        JobStore(path)


async def test_invalid_settings_are_shown_and_the_last_good_stay(workspace: Path) -> None:
    async with editor_session(
        workspace,
        "vscode",
        init_options={"search": {"budget": 0}},
        configuration={"": {"swe-lsp": {"search": {"beam": 3}}}},
    ) as ed:
        info = (await ed.command("swe-lsp.debugInfo"))["server"]
        assert any("search.budget" in m.message for m in ed.client.messages)
        assert info["settings"]["search"]["budget"] == 4  # the default: the bad value is not in force
        ed.client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings={"swe-lsp": {"search": {"beam": 5}}})
        )
        ed.client.workspace_did_change_configuration(
            types.DidChangeConfigurationParams(settings={"swe-lsp": {"sandbox": {"kind": "vm"}}})
        )
        info = (await ed.command("swe-lsp.debugInfo"))["server"]
        assert info["settings"]["search"]["beam"] == 5
        assert info["settings"]["sandbox"]["kind"] == "auto"
        assert any("sandbox.kind" in m.message for m in ed.client.messages)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8),
    lambda children: (
        st.lists(children, max_size=3)
        | st.dictionaries(
            st.sampled_from(["jobId", "rank", "hunks", "issue", "all", "uri", "range", "x"]),
            children,
            max_size=4,
        )
    ),
    max_leaves=8,
)


async def test_custom_methods_fuzzed_never_crash(workspace: Path) -> None:
    _seed_finished_job(workspace, "fuzz")
    async with editor_session(workspace, "neovim") as ed:
        calls: list[tuple[str, object]] = []

        @settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
        @given(
            method=st.sampled_from(["swe-lsp/jobs", "swe-lsp/candidates", "swe-lsp/candidateDiff"]),
            params=_json,
        )
        def collect(method: str, params: object) -> None:
            calls.append((method, params))

        collect()
        for method, params in calls:
            try:
                await ed.request(method, params)
            except JsonRpcException as exc:
                assert exc.code == -32602, (method, params, exc)
        for name in ("swe-lsp.cancel", "swe-lsp.applyCandidate", "swe-lsp.discardJob"):
            for _, params in calls[:20]:
                try:
                    await ed.command(name, params)
                except JsonRpcException as exc:
                    assert exc.code == -32602, (name, params, exc)
        assert ed.applied == []
        # Still answering, with the seeded job intact.
        listed = await ed.request("swe-lsp/candidates", {"jobId": "fuzz"})
        assert len(listed["candidates"]) == 2
    assert os.environ.get("XDG_DATA_HOME")
