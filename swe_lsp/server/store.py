"""The job store: every job, its ranked candidates and their evidence, the snapshot texts the
candidates were made against, where the trajectory lies, and what the user did with the result.

SQLite (stdlib `sqlite3`) in WAL mode in the platformdirs data folder, so that a job finished before
a crash or a `kill -9` is still there after a restart, and so that `swe-lsp jobs export` can read it
while a server writes. Writes are single short transactions on the server's event loop (well under
a millisecond with WAL and `synchronous=NORMAL`); nothing here waits on the engine.

The schema is versioned with `PRAGMA user_version`: an older file is migrated in place, a newer one
(written by a later swe-lsp) is refused with a message rather than misread.
"""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import platformdirs

from swe_lsp.errors import SweLspError
from swe_lsp.patch import Patch, PatchApplyError, PatchParseError
from swe_lsp.search.job import Candidate, Cost, Evidence, Issue, JobReport, StageCost

SCHEMA_VERSION = 1
ACTIVE_STATES = ("queued", "running")

_SCHEMA = """
CREATE TABLE jobs (
    id TEXT PRIMARY KEY,
    workspace TEXT NOT NULL,
    issue TEXT NOT NULL,
    state TEXT NOT NULL,
    stage TEXT,
    message TEXT NOT NULL DEFAULT '',
    fraction REAL NOT NULL DEFAULT 0,
    cost TEXT,
    error TEXT,
    trajectory_path TEXT,
    snapshot_commit TEXT,
    owner_pid INTEGER,
    discarded INTEGER NOT NULL DEFAULT 0,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE TABLE candidates (
    job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    rank INTEGER NOT NULL,
    diff TEXT NOT NULL,
    files TEXT NOT NULL,
    base_hashes TEXT NOT NULL,
    score REAL NOT NULL,
    summary TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (job_id, rank)
);
CREATE TABLE evidence (
    job_id TEXT NOT NULL,
    rank INTEGER NOT NULL,
    verified INTEGER NOT NULL,
    reproduced INTEGER,
    orm_score REAL,
    detail TEXT NOT NULL,
    PRIMARY KEY (job_id, rank),
    FOREIGN KEY (job_id, rank) REFERENCES candidates(job_id, rank) ON DELETE CASCADE
);
CREATE TABLE base_texts (
    job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    path TEXT NOT NULL,
    text TEXT,
    PRIMARY KEY (job_id, path)
);
CREATE TABLE feedback (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    job_id TEXT NOT NULL REFERENCES jobs(id) ON DELETE CASCADE,
    rank INTEGER,
    action TEXT NOT NULL,
    hunks TEXT,
    detail TEXT NOT NULL DEFAULT '',
    at REAL NOT NULL
);
CREATE INDEX feedback_job ON feedback(job_id);
"""


class StoreError(SweLspError):
    """The job store cannot be opened or is from a newer swe-lsp."""


@dataclass(frozen=True)
class JobRecord:
    """A job as the store holds it: what was asked, where it stands, what it spent."""

    id: str
    workspace: str
    issue: Issue
    state: str
    stage: str | None
    message: str
    fraction: float
    cost: Cost
    error: str | None
    trajectory_path: str | None
    snapshot_commit: str | None
    discarded: bool
    created: float
    updated: float
    candidate_count: int = 0


@dataclass(frozen=True)
class Feedback:
    """One thing the user did with a job's result: `applied` (the editor accepted the edit),
    `declined` (the editor did not: the user said no, or it could not apply it; `detail` says what
    the editor answered), `refused_stale` (the server refused: files changed), `discarded` (the
    whole job). Stores written before `declined` existed hold `apply_failed` for it."""

    job_id: str
    rank: int | None
    action: str
    hunks: tuple[str, ...] | None
    detail: str
    at: float


def default_path() -> Path:
    """`jobs.sqlite3` in the platformdirs data folder (XDG_DATA_HOME on Linux)."""
    return Path(platformdirs.user_data_dir("swe-lsp")) / "jobs.sqlite3"


def _cost_to_json(cost: Cost) -> str:
    return json.dumps(asdict(cost))


def _cost_from_json(text: str | None) -> Cost:
    if not text:
        return Cost()
    data = json.loads(text)
    stages = {name: StageCost(**values) for name, values in data.get("stages", {}).items()}
    return Cost(stages=stages, wall_seconds=data.get("wall_seconds", 0.0))


def _evidence_from_json(text: str) -> Evidence:
    data = json.loads(text)
    data["notes"] = tuple(data.get("notes", ()))
    return Evidence(**data)


def _pid_alive(pid: int | None) -> bool:
    """Whether another live process has this pid. Our own pid counts as dead: `recover` runs before
    this process adds a job, so a job owned by our pid is a previous server's (pid reuse, as in a
    container where the server is always pid 1)."""
    if not pid or pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive, and not ours to judge
        return True
    return True


class JobStore:
    """The SQLite job store. One instance per process; not shared across threads."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path or default_path()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(self.path, isolation_level=None, timeout=5.0)
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except sqlite3.Error as exc:
            raise StoreError(f"cannot open the job store at {self.path}: {exc}") from exc

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"the job store at {self.path} was written by a newer swe-lsp (schema {version}, this one "
                f"reads {SCHEMA_VERSION}); upgrade swe-lsp or move the file away"
            )
        if version == 0:
            # executescript commits whatever is pending, so the script carries its own transaction.
            self._db.executescript(f"BEGIN IMMEDIATE;{_SCHEMA}PRAGMA user_version={SCHEMA_VERSION};COMMIT;")

    def close(self) -> None:
        """Close the connection (the WAL is checkpointed by SQLite)."""
        self._db.close()

    def _transaction(self) -> sqlite3.Connection:
        return _Transaction(self._db)  # type: ignore[return-value]

    # -- jobs -----------------------------------------------------------------------------

    def recover(self) -> list[str]:
        """Mark jobs that were queued or running in a server that is gone (crashed, killed) as
        `interrupted`; jobs of a live server (another editor window) are left alone."""
        rows = self._db.execute(
            f"SELECT id, owner_pid FROM jobs WHERE state IN ({','.join('?' * len(ACTIVE_STATES))})",
            ACTIVE_STATES,
        ).fetchall()
        dead = [row["id"] for row in rows if not _pid_alive(row["owner_pid"])]
        now = time.time()
        with self._transaction():
            for job_id in dead:
                self._db.execute(
                    "UPDATE jobs SET state='interrupted', message=?, updated=? WHERE id=?",
                    ("the server stopped while this job was running", now, job_id),
                )
        return dead

    def add_job(self, job_id: str, workspace: str, issue: Issue, state: str = "queued") -> None:
        """Record a new job owned by this process."""
        now = time.time()
        self._db.execute(
            "INSERT INTO jobs (id, workspace, issue, state, owner_pid, created, updated) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (job_id, workspace, json.dumps(asdict(issue)), state, os.getpid(), now, now),
        )

    def update_job(
        self,
        job_id: str,
        *,
        state: str | None = None,
        stage: str | None = None,
        message: str | None = None,
        fraction: float | None = None,
        error: str | None = None,
    ) -> None:
        """Change the given fields of a job."""
        fields = {"state": state, "stage": stage, "message": message, "fraction": fraction, "error": error}
        sets = {k: v for k, v in fields.items() if v is not None}
        sets["updated"] = time.time()
        assignments = ", ".join(f"{k}=?" for k in sets)
        self._db.execute(f"UPDATE jobs SET {assignments} WHERE id=?", (*sets.values(), job_id))

    def finish_job(self, report: JobReport, base_texts: Mapping[str, str | None]) -> None:
        """Record a finished job's report: its state, cost, candidates with evidence, and the
        snapshot texts of the files the candidates change (for review documents and apply)."""
        now = time.time()
        with self._transaction():
            self._db.execute(
                "UPDATE jobs SET state=?, cost=?, error=?, trajectory_path=?, snapshot_commit=?, "
                "fraction=CASE WHEN ?='done' THEN 1.0 ELSE fraction END, updated=? WHERE id=?",
                (
                    report.state,
                    _cost_to_json(report.cost),
                    report.error,
                    str(report.trajectory_path) if report.trajectory_path else None,
                    report.snapshot_commit,
                    report.state,
                    now,
                    report.job_id,
                ),
            )
            for cand in report.candidates:
                self._db.execute(
                    "INSERT OR REPLACE INTO candidates VALUES (?, ?, ?, ?, ?, ?, ?)",
                    (
                        report.job_id,
                        cand.rank,
                        cand.diff,
                        json.dumps(list(cand.files)),
                        json.dumps(dict(cand.base_hashes)),
                        cand.score,
                        cand.summary,
                    ),
                )
                ev = cand.evidence
                self._db.execute(
                    "INSERT OR REPLACE INTO evidence VALUES (?, ?, ?, ?, ?, ?)",
                    (
                        report.job_id,
                        cand.rank,
                        int(ev.verified),
                        None if ev.reproduced is None else int(ev.reproduced),
                        ev.orm_score,
                        json.dumps(asdict(ev)),
                    ),
                )
            for path, text in base_texts.items():
                self._db.execute(
                    "INSERT OR REPLACE INTO base_texts VALUES (?, ?, ?)", (report.job_id, path, text)
                )

    def _record(self, row: sqlite3.Row) -> JobRecord:
        issue = json.loads(row["issue"])
        return JobRecord(
            id=row["id"],
            workspace=row["workspace"],
            issue=Issue(**issue),
            state=row["state"],
            stage=row["stage"],
            message=row["message"],
            fraction=row["fraction"],
            cost=_cost_from_json(row["cost"]),
            error=row["error"],
            trajectory_path=row["trajectory_path"],
            snapshot_commit=row["snapshot_commit"],
            discarded=bool(row["discarded"]),
            created=row["created"],
            updated=row["updated"],
            candidate_count=row["n"],
        )

    _SELECT = "SELECT jobs.*, (SELECT COUNT(*) FROM candidates c WHERE c.job_id = jobs.id) AS n FROM jobs"

    def job(self, job_id: str) -> JobRecord | None:
        """One job, or None."""
        row = self._db.execute(f"{self._SELECT} WHERE id=?", (job_id,)).fetchone()
        return self._record(row) if row else None

    def jobs(self, workspace: str | None = None, include_discarded: bool = False) -> list[JobRecord]:
        """Jobs, newest first, of one workspace or of all."""
        where, args = [], []
        if workspace is not None:
            where.append("workspace=?")
            args.append(workspace)
        if not include_discarded:
            where.append("discarded=0")
        sql = self._SELECT + (f" WHERE {' AND '.join(where)}" if where else "") + " ORDER BY created DESC"
        return [self._record(row) for row in self._db.execute(sql, args)]

    def discard(self, job_id: str) -> None:
        """Hide a job from listings and record the user's rejection of its candidates."""
        with self._transaction():
            self._db.execute("UPDATE jobs SET discarded=1, updated=? WHERE id=?", (time.time(), job_id))
            self.add_feedback(job_id, None, "discarded")

    # -- candidates -----------------------------------------------------------------------

    def candidates(self, job_id: str) -> list[Candidate]:
        """A job's candidates, best first."""
        rows = self._db.execute(
            "SELECT c.*, e.detail FROM candidates c LEFT JOIN evidence e "
            "ON e.job_id = c.job_id AND e.rank = c.rank WHERE c.job_id=? ORDER BY c.rank",
            (job_id,),
        ).fetchall()
        return [self._candidate(row) for row in rows]

    def candidate(self, job_id: str, rank: int) -> Candidate | None:
        """One candidate, or None."""
        row = self._db.execute(
            "SELECT c.*, e.detail FROM candidates c LEFT JOIN evidence e "
            "ON e.job_id = c.job_id AND e.rank = c.rank WHERE c.job_id=? AND c.rank=?",
            (job_id, rank),
        ).fetchone()
        return self._candidate(row) if row else None

    @staticmethod
    def _candidate(row: sqlite3.Row) -> Candidate:
        return Candidate(
            rank=row["rank"],
            diff=row["diff"],
            files=tuple(json.loads(row["files"])),
            base_hashes=json.loads(row["base_hashes"]),
            score=row["score"],
            evidence=_evidence_from_json(row["detail"]) if row["detail"] else Evidence(verified=False),
            summary=row["summary"],
        )

    def base_texts(self, job_id: str) -> dict[str, str | None]:
        """The snapshot texts recorded for a job's changed files (None: the file did not exist)."""
        rows = self._db.execute("SELECT path, text FROM base_texts WHERE job_id=?", (job_id,))
        return {row["path"]: row["text"] for row in rows}

    # -- feedback -------------------------------------------------------------------------

    def add_feedback(
        self,
        job_id: str,
        rank: int | None,
        action: str,
        hunks: Sequence[str] | None = None,
        detail: str = "",
    ) -> None:
        """Record what the user did with a candidate (or, rank None, the whole job)."""
        self._db.execute(
            "INSERT INTO feedback (job_id, rank, action, hunks, detail, at) VALUES (?, ?, ?, ?, ?, ?)",
            (job_id, rank, action, None if hunks is None else json.dumps(list(hunks)), detail, time.time()),
        )

    def feedback(self, job_id: str | None = None) -> list[Feedback]:
        """Feedback rows, oldest first, of one job or of all."""
        sql = "SELECT * FROM feedback" + (" WHERE job_id=?" if job_id else "") + " ORDER BY id"
        rows = self._db.execute(sql, (job_id,) if job_id else ())
        return [
            Feedback(
                row["job_id"],
                row["rank"],
                row["action"],
                None if row["hunks"] is None else tuple(json.loads(row["hunks"])),
                row["detail"],
                row["at"],
            )
            for row in rows
        ]

    def preference_pairs(self) -> Iterator[dict[str, Any]]:
        """Accepted/rejected pairs for the ORM: within a job, each candidate the user applied is
        preferred to each candidate of the same job they did not apply. A job discarded without an
        apply gives rejections only, so no pair. The prompt is the issue as the job's model read
        and the ORM scored it (`Issue.model_text`, with where it was raised). A candidate applied
        hunk by hunk is chosen as the diff of the hunks applied (`chosen_hunks` names them; None:
        the whole candidate), since the user vouched for those hunks, not for the ones left out."""
        for job in self.jobs(include_discarded=True):
            applied = _applied_hunks(self.feedback(job.id))
            if not applied:
                continue
            cands = {c.rank: c for c in self.candidates(job.id)}
            for good in sorted(applied.keys() & cands.keys()):
                hunks = applied[good]
                chosen = cands[good].diff if hunks is None else _selected_diff(cands[good].diff, hunks)
                if not chosen:  # the applied hunks no longer read back: no pair rather than a wrong one
                    continue
                for bad in sorted(cands.keys() - applied.keys()):
                    yield {
                        "job_id": job.id,
                        "workspace": job.workspace,
                        "prompt": job.issue.model_text(),
                        "chosen": chosen,
                        "rejected": cands[bad].diff,
                        "chosen_rank": good,
                        "rejected_rank": bad,
                        "chosen_hunks": None if hunks is None else sorted(hunks),
                    }


def _applied_hunks(feedback: Sequence[Feedback]) -> dict[int, frozenset[str] | None]:
    """Per candidate rank the user applied: the hunk ids (or paths) applied, gathered over every
    apply of it, or None when it was applied whole at least once."""
    out: dict[int, frozenset[str] | None] = {}
    for f in feedback:
        if f.action != "applied" or f.rank is None:
            continue
        before = out.get(f.rank, frozenset())
        out[f.rank] = None if f.hunks is None or before is None else before | set(f.hunks)
    return out


def _selected_diff(diff: str, hunks: frozenset[str]) -> str | None:
    """The diff of only `hunks` of `diff` (ids `path#index` or paths, as the apply named them),
    headers recomputed (`Patch.select`); None when they cannot be taken from it."""
    try:
        return Patch.parse(diff).select(hunks).diff
    except (PatchParseError, PatchApplyError):
        return None


class _Transaction:
    """`BEGIN IMMEDIATE` ... `COMMIT` (or `ROLLBACK` on error) on an autocommit connection."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> sqlite3.Connection:
        self._db.execute("BEGIN IMMEDIATE")
        return self._db

    def __exit__(self, exc_type: object, *_: object) -> None:
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")
