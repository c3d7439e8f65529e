"""Parameters of the custom requests and commands, checked by hand into frozen dataclasses.

pygls hands custom-method params and command arguments over as raw JSON values; anything that is not
the documented shape is answered with JSON-RPC `InvalidParams` naming the field, never a crash.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from lsprotocol import types
from pygls.exceptions import JsonRpcInvalidParams

_MAX_ISSUE_CHARS = 100_000


def invalid(message: str) -> JsonRpcInvalidParams:
    """An `InvalidParams` error carrying `message` (shown by the editor)."""
    return JsonRpcInvalidParams(message)


def one_object(args: tuple[Any, ...] | list[Any] | Any, what: str) -> Mapping[str, Any]:
    """A command's single object argument (or a request's params object)."""
    if isinstance(args, (tuple, list)):
        if len(args) != 1:
            raise invalid(f"{what} takes one object argument, got {len(args)} arguments")
        args = args[0]
    if not isinstance(args, Mapping):
        raise invalid(f"{what} takes an object, got {type(args).__name__}")
    return args


def _str(obj: Mapping[str, Any], key: str, what: str, required: bool = True) -> str | None:
    value = obj.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not value:
        raise invalid(f"{what}: '{key}' must be a non-empty string")
    return value


def _int(obj: Mapping[str, Any], key: str, what: str, lo: int, hi: int, required: bool = True) -> int | None:
    value = obj.get(key)
    if value is None and not required:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise invalid(f"{what}: '{key}' must be an integer from {lo} to {hi}")
    return value


def _position(value: Any, what: str) -> types.Position:
    if not isinstance(value, Mapping):
        raise invalid(f"{what}: a position must be an object {{line, character}}")
    line = _int(value, "line", what, 0, 2**31 - 1)
    char = _int(value, "character", what, 0, 2**31 - 1)
    assert line is not None and char is not None
    return types.Position(line=line, character=char)


def _range(value: Any, what: str) -> types.Range | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise invalid(f"{what}: 'range' must be an LSP range {{start, end}}")
    return types.Range(start=_position(value.get("start"), what), end=_position(value.get("end"), what))


@dataclass(frozen=True)
class ResolveIssueArgs:
    """`swe-lsp.resolveIssue {issue, uri?, range?, budget?, model?, workDoneToken?}`."""

    issue: str
    uri: str | None
    range: types.Range | None
    budget: int | None
    model: str | None
    work_done_token: str | int | None

    @classmethod
    def parse(cls, args: Any) -> ResolveIssueArgs:
        what = "swe-lsp.resolveIssue"
        obj = one_object(args, what)
        issue = obj.get("issue")
        if not isinstance(issue, str) or not issue.strip():
            raise invalid(
                f"{what}: 'issue' is required (the text of the issue to resolve); "
                "the editor asks the user for it when the code action has none"
            )
        if len(issue) > _MAX_ISSUE_CHARS:
            raise invalid(f"{what}: 'issue' is longer than {_MAX_ISSUE_CHARS} characters")
        token = obj.get("workDoneToken")
        if token is not None and (isinstance(token, bool) or not isinstance(token, (str, int))):
            raise invalid(f"{what}: 'workDoneToken' must be a string or an integer")
        return cls(
            issue=issue,
            uri=_str(obj, "uri", what, required=False),
            range=_range(obj.get("range"), what),
            budget=_int(obj, "budget", what, 1, 64, required=False),
            model=_str(obj, "model", what, required=False),
            work_done_token=token,
        )


@dataclass(frozen=True)
class JobArgs:
    """`{jobId}`: swe-lsp.cancel, swe-lsp.discardJob, swe-lsp/candidates."""

    job_id: str

    @classmethod
    def parse(cls, args: Any, what: str) -> JobArgs:
        obj = one_object(args, what)
        job_id = _str(obj, "jobId", what)
        assert job_id is not None
        return cls(job_id)


@dataclass(frozen=True)
class CandidateArgs:
    """`{jobId, rank, hunks?}`: swe-lsp.applyCandidate, swe-lsp/candidateDiff."""

    job_id: str
    rank: int
    hunks: tuple[str, ...] | None

    @classmethod
    def parse(cls, args: Any, what: str) -> CandidateArgs:
        obj = one_object(args, what)
        job_id = _str(obj, "jobId", what)
        rank = _int(obj, "rank", what, 0, 10_000)
        hunks = obj.get("hunks")
        if hunks is not None and (
            not isinstance(hunks, list) or not all(isinstance(h, str) and h for h in hunks)
        ):
            raise invalid(f"{what}: 'hunks' must be a list of hunk ids ('path#index') or paths")
        assert job_id is not None and rank is not None
        return cls(job_id, rank, None if hunks is None else tuple(hunks))


@dataclass(frozen=True)
class JobsArgs:
    """`swe-lsp/jobs {all?}`: this workspace's jobs (or every workspace's)."""

    all_workspaces: bool

    @classmethod
    def parse(cls, params: Any) -> JobsArgs:
        if params is None:
            return cls(False)
        obj = one_object(params, "swe-lsp/jobs")
        value = obj.get("all", False)
        if not isinstance(value, bool):
            raise invalid("swe-lsp/jobs: 'all' must be true or false")
        return cls(value)


@dataclass(frozen=True)
class CheckEnvironmentArgs:
    """`swe-lsp.checkEnvironment {tests?, workDoneToken?}` (or no argument): the tests to run
    (default: all of them) and the client's progress token."""

    tests: tuple[str, ...]
    work_done_token: str | int | None

    @classmethod
    def parse(cls, args: Any, what: str) -> CheckEnvironmentArgs:
        if isinstance(args, (tuple, list)) and not args:
            return cls((), None)
        obj = one_object(args, what)
        tests = obj.get("tests", [])
        if not isinstance(tests, list) or not all(isinstance(t, str) and t.strip() for t in tests):
            raise invalid(f"{what}: 'tests' must be a list of test ids")
        token = obj.get("workDoneToken")
        if token is not None and (isinstance(token, bool) or not isinstance(token, (str, int))):
            raise invalid(f"{what}: 'workDoneToken' must be a string or an integer")
        return cls(tuple(t.strip() for t in tests), token)
