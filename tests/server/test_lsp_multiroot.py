"""A multi-root window: a job belongs to the folder of the file it was raised in, its candidate
applies there, and every folder's jobs are listed; a folder added later gets jobs too."""

from __future__ import annotations

from pathlib import Path

from calc_workspace import BUGGY, make_calc_workspace
from lsp_client import editor_session
from lsprotocol import types

FIX = "add subtracts [edit calc.py a_-_b a_+_b]"


async def test_jobs_belong_to_the_folder_of_their_file(tmp_path: Path) -> None:
    first = make_calc_workspace(tmp_path / "first").resolve()
    second = make_calc_workspace(tmp_path / "second").resolve()
    third = make_calc_workspace(tmp_path / "third").resolve()
    async with editor_session(first, "vscode", folders=[first, second]) as ed:
        uri = ed.open(str(second / "calc.py"))
        job_id = (await ed.command("swe-lsp.resolveIssue", {"issue": FIX, "uri": uri}))["jobId"]
        assert (await ed.wait_job(job_id, ("done", "failed")))["state"] == "done"
        assert (await ed.command("swe-lsp.applyCandidate", {"jobId": job_id, "rank": 0}))["applied"]
        assert (second / "calc.py").read_text() == BUGGY.replace("a - b", "a + b")
        assert (first / "calc.py").read_text() == BUGGY

        # A folder added to the window: its file's job runs there.
        ed.client.workspace_did_change_workspace_folders(
            types.DidChangeWorkspaceFoldersParams(
                event=types.WorkspaceFoldersChangeEvent(
                    added=[types.WorkspaceFolder(uri=third.as_uri(), name="third")], removed=[]
                )
            )
        )
        later = ed.open(str(third / "calc.py"))
        other = (await ed.command("swe-lsp.resolveIssue", {"issue": FIX, "uri": later}))["jobId"]
        assert (await ed.wait_job(other, ("done", "failed")))["state"] == "done"
        # Without a file, a job belongs to the first folder.
        plain = (await ed.command("swe-lsp.resolveIssue", {"issue": "no file"}))["jobId"]
        assert (await ed.wait_job(plain, ("done", "failed")))["state"] == "done"

        listed = {j["jobId"]: j["workspace"] for j in (await ed.request("swe-lsp/jobs", {}))["jobs"]}
        assert listed == {job_id: str(second), other: str(third), plain: str(first)}
