"""The workspace's own history, read with git: which files and functions each past commit changed
and what its message said. The learned ranker (`ranker.py`) draws features from it (how often and
how recently a file was fixed, how much the issue reads like the messages of the commits that fixed
it) and trains on it (a commit's message is a query whose answer is the files it changed).

Only commits reachable from the workspace's HEAD are read, newest first, no merges (a merge's diff
repeats its branch's commits): the snapshot's past, never its future. The read is cached under the
cache dir per workspace and extended incrementally when HEAD moves forward (a rebase or a switch to
an unrelated branch reads again). A workspace that is not in a git repository, or whose repository
has no commits, has no history: the ranker then keeps the first stage's order or the prior.
"""

from __future__ import annotations

import bisect
import gzip
import hashlib
import json
import logging
import math
import os
import re
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import git

from swe_lsp.workspace.bm25 import BM25
from swe_lsp.workspace.tokens import code_terms

logger = logging.getLogger(__name__)

# How far back the history goes: django's last 5,000 non-merge commits span about three years, and
# on SWE-bench Lite the message signal measured with 5,000 commits ranked the gold file in the top 5
# alone for 72% of issues (bench/results/history_signal.json); reading them costs about 5 s of git
# on this machine kind (paths and Python hunk headers), once, in idle time.
MAX_COMMITS = 5000
# A commit touching more files than this is a sweep (a reformat, a rename, a licence header): it
# says nothing about where a bug lives, and it would swamp every count it is part of.
MAX_FILES_PER_COMMIT = 40
# Git's built-in hunk-header pattern for Python (`def`/`class` lines, indented or not) names the
# function each hunk is in; the attribute that turns it on is given through a file of our own so the
# repository's settings are neither read for it nor changed.
_ATTRIBUTES = "*.py diff=python\n"
_FUNCNAME = re.compile(r"^@@[^@]*@@\s*(?:async\s+)?(?:def|class)\s+([A-Za-z_]\w*)")
_RANGE = re.compile(r"^@@ -(\d+)(?:,(\d+))?")
_DEFINITION = re.compile(r"^\s*(?:async\s+)?(?:def|class)\s+([A-Za-z_]\w*)")
_CACHE_VERSION = 2


@dataclass(frozen=True)
class Commit:
    """One past commit: when, what it said, which files (workspace-relative, after the commit),
    which functions (`path::name`, from the hunk headers of its Python diffs) and which lines of
    its parent's Python files it changed."""

    sha: str
    time: int
    message: str
    files: tuple[str, ...]
    functions: tuple[str, ...] = ()
    # (path, first line, count) of each Python hunk in the parent's text (count 0: lines were added
    # after that line): what a change touched, to label the symbols enclosing it.
    lines: tuple[tuple[str, int, int], ...] = ()


@dataclass
class History:
    """A workspace's past commits, oldest first, with the lookups the ranker needs.

    Position `i` in `commits` is a point in time: features for a query asked at `i` (a training
    commit's own message) only ever look at commits `[0, i)`."""

    head: str
    commits: tuple[Commit, ...]
    _by_file: dict[str, list[int]] = field(default_factory=dict, init=False, repr=False)
    _by_function: dict[str, list[int]] = field(default_factory=dict, init=False, repr=False)
    _messages: BM25 | None = field(default=None, init=False, repr=False)

    def __post_init__(self) -> None:
        for i, commit in enumerate(self.commits):
            for path in commit.files:
                self._by_file.setdefault(path, []).append(i)
            for name in commit.functions:
                self._by_function.setdefault(name, []).append(i)

    def __len__(self) -> int:
        return len(self.commits)

    def changes(self, path: str, before: int | None = None) -> list[int]:
        """Positions of the commits that changed `path`, oldest first, only those before `before`."""
        found = self._by_file.get(path, [])
        return found if before is None else found[: _count_below(found, before)]

    def function_changes(self, key: str, before: int | None = None) -> list[int]:
        """Positions of the commits whose hunks were in function `path::name`."""
        found = self._by_function.get(key, [])
        return found if before is None else found[: _count_below(found, before)]

    def message_scores(self, text: str, before: int | None = None) -> list[float]:
        """BM25 of `text` against every commit message (identifiers split), as if only the commits
        before `before` existed."""
        if self._messages is None:
            self._messages = BM25([code_terms(c.message) for c in self.commits])
        query = {t: 1 + math.log(n) for t, n in code_terms(text).items()}
        return self._messages.scores(query, before)


def _count_below(sorted_positions: Sequence[int], bound: int) -> int:
    return bisect.bisect_left(sorted_positions, bound)


def read_history(workspace: Path, most: int = MAX_COMMITS, since: str | None = None) -> History | None:
    """The history of the repository `workspace` is in, up to its HEAD (`most` commits at most; only
    those after `since` when given), paths relative to `workspace`. None when it is not in a git
    repository or that has no commit."""
    found = _open(workspace)
    if found is None:
        return None
    repo, head = found
    top = Path(repo.working_tree_dir or workspace).resolve()
    prefix = os.path.relpath(workspace.resolve(), top).replace(os.sep, "/")
    return read_commits(repo, head, "" if prefix == "." else prefix + "/", most, since)


def _open(workspace: Path) -> tuple[git.Repo, str] | None:
    try:
        repo = git.Repo(workspace, search_parent_directories=True)
        return repo, repo.head.commit.hexsha
    except (git.InvalidGitRepositoryError, git.NoSuchPathError, ValueError):
        return None


def read_commits(repo: git.Repo, head: str, prefix: str = "", most: int = MAX_COMMITS,
                 since: str | None = None) -> History:  # fmt: skip
    """The `most` newest non-merge commits reachable from `head` (after `since` when given), their
    paths under `prefix` made relative to it; works on a bare repository too (the benchmark's
    mirrors)."""
    span = f"{since}..{head}" if since else head
    names = repo.git.log("--no-merges", f"-n{most}", "--name-only", "--format=%x00%H %ct%n%B%x01", span)
    with tempfile.TemporaryDirectory() as tmp:
        attributes = Path(tmp) / "attributes"
        attributes.write_text(_ATTRIBUTES)
        hunks = repo.git(c=f"core.attributesFile={attributes}").log(
            "--no-merges", f"-n{most}", "-p", "-U0", "--no-color", "--no-ext-diff", "--format=%x00%H", span,
            "--", f"{prefix}*.py" if prefix else "*.py",
        )  # fmt: skip
    functions = _hunk_functions(hunks, prefix)
    commits = []
    for block in names.split("\0")[1:]:
        header, _, rest = block.partition("\n")
        sha, _, when = header.partition(" ")
        message, _, paths = rest.partition("\x01")
        files = tuple(p[len(prefix) :] for p in paths.split("\n") if p.strip() and p.startswith(prefix))
        if not files or len(files) > MAX_FILES_PER_COMMIT:
            continue
        named, lines = functions.get(sha, ((), ()))
        commits.append(Commit(sha, int(when), message.strip(), files, named, lines))
    commits.reverse()
    return History(head, tuple(commits))


def _hunk_functions(
    log: str, prefix: str
) -> dict[str, tuple[tuple[str, ...], tuple[tuple[str, int, int], ...]]]:
    """commit -> the `path::function` names its Python hunks changed, and each hunk's lines in the
    parent. A hunk's header names the function it starts in (git's Python pattern), unless the
    hunk starts with a `def`/`class` line of its own (an added or removed definition, whose header
    names the one before it); every definition line a hunk adds or removes counts too."""
    out: dict[str, tuple[tuple[str, ...], tuple[tuple[str, int, int], ...]]] = {}
    for block in log.split("\0")[1:]:
        sha, _, diff = block.partition("\n")
        names: dict[str, None] = {}
        ranges: list[tuple[str, int, int]] = []
        path, header, first = None, None, False
        for line in diff.split("\n"):
            if line.startswith("+++ "):
                target = line[4:]
                path = target[2 + len(prefix) :] if target.startswith("b/" + prefix) else None
            elif line.startswith("@@") and path is not None:
                found = _FUNCNAME.match(line)
                header, first = (found.group(1) if found else None), True
                span = _RANGE.match(line)
                if span:
                    ranges.append((path, int(span.group(1)), int(span.group(2) or 1)))
            elif path is not None and line[:1] in ("+", "-") and not line.startswith(("+++", "---")):
                if not line[1:].strip():
                    continue
                defined = _DEFINITION.match(line[1:])
                if first and header and not defined:
                    names[f"{path}::{header}"] = None
                if defined:
                    names[f"{path}::{defined.group(1)}"] = None
                first = False
        out[sha.strip()] = (tuple(names), tuple(ranges))
    return out


def load_history(workspace: Path, cache_dir: Path, key: str | None = None) -> History | None:
    """The workspace's history, from the cache when it is at HEAD, extended when HEAD moved on from
    the cached head, read whole otherwise; stored back. None without a git history."""
    path = _cache_file(cache_dir, key or str(workspace))
    cached = _read_cache(path)
    found = _open(workspace)
    if found is None:
        return None
    repo, head = found
    if cached is not None and cached.head == head:
        return cached
    history = None
    if cached is not None and cached.commits and repo.is_ancestor(cached.head, head):
        newer = read_history(workspace, MAX_COMMITS, since=cached.head)
        if newer is not None:
            history = History(head, (*cached.commits, *newer.commits)[-MAX_COMMITS:])
    if history is None:
        history = read_history(workspace)
    if history is not None:
        _write_cache(path, history)
    return history


def cached_history(cache_dir: Path, key: str) -> History | None:
    """What the cache holds for a workspace, whatever HEAD is now (a request never waits for git:
    a history some commits old still describes the past)."""
    return _read_cache(_cache_file(cache_dir, key))


def _cache_file(cache_dir: Path, key: str) -> Path:
    return Path(cache_dir) / "history" / (hashlib.sha1(key.encode()).hexdigest()[:16] + ".json.gz")


def _read_cache(path: Path) -> History | None:
    try:
        data = json.loads(gzip.decompress(path.read_bytes()))
        if data.get("version") != _CACHE_VERSION:
            return None
        commits = tuple(
            Commit(c[0], c[1], c[2], tuple(c[3]), tuple(c[4]), tuple(tuple(r) for r in c[5]))  # type: ignore[misc]
            for c in data["commits"]
        )
        return History(data["head"], commits)
    except FileNotFoundError:  # not read yet: nothing to say
        return None
    except (OSError, ValueError, EOFError, KeyError, IndexError, TypeError, AttributeError) as exc:
        logger.warning("the cached history %s is unreadable (%s); it is read again from git", path, exc)
        return None


def _write_cache(path: Path, history: History) -> None:
    data = {
        "version": _CACHE_VERSION,
        "head": history.head,
        "commits": [[c.sha, c.time, c.message, c.files, c.functions, c.lines] for c in history.commits],
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_bytes(gzip.compress(json.dumps(data).encode(), compresslevel=5))
    os.replace(tmp, path)
