"""Private snapshots of a workspace: what the user sees, copied where a job may write.

A snapshot holds HEAD plus staged and unstaged changes, the untracked files git does not ignore,
the editor's unsaved buffers, and of the ignored files only the build outputs the project imports
from its own tree (`swe_lsp.generated`: its declared version module, its extensions built in
place or by its meson build, placed where the package imports them), without which a copy run by
the workspace's Python cannot import it. It is made from the working tree itself (`git ls-files
--cached --others --exclude-standard` lists exactly those files, `--ignored` the outputs) rather
than `git archive` plus a replayed diff: the result is the same tree, one pass, no patch that can
fail to apply. Files are cloned (reflink) where the filesystem allows and copied otherwise, never
hardlinked: a job that writes a hardlinked file in place would write the user's file.

Only git plumbing runs (`ls-files`, `diff-index`, `rev-parse`), with `GIT_OPTIONAL_LOCKS=0`, so
not even `.git/index` is refreshed: the workspace is never written (a test hashes it, .git
included).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from swe_lsp.generated import build_outputs, meson_outputs
from swe_lsp.workspace.errors import WorkspaceError

_GIT_ENV = {"GIT_OPTIONAL_LOCKS": "0", "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
_FICLONE = 0x40049409  # linux/fs.h: clone a file's extents (btrfs, xfs, ...)


@dataclass(frozen=True)
class Snapshot:
    """A private copy of a workspace. Use as a context manager, or call `close()`, to remove it;
    `keep=True` leaves it for review.

    `changed` are tracked files whose content differs from HEAD (staged or not), `untracked` the
    untracked files copied, `buffers` the files replaced by unsaved editor text, `generated` the
    ignored build outputs copied (`swe_lsp.generated.build_outputs`, and a meson build's by where
    the package imports them, `meson_outputs`), all relative to `root`.
    `base_commit` is None when the workspace is not a git repository (or has no commit).
    """

    root: Path
    workspace: Path
    base_commit: str | None
    changed: tuple[str, ...] = ()
    untracked: tuple[str, ...] = ()
    buffers: tuple[str, ...] = ()
    keep: bool = False
    generated: tuple[str, ...] = ()

    def close(self) -> None:
        """Remove the snapshot unless it is kept for review."""
        if not self.keep:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Snapshot:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:  # fmt: skip
        self.close()


def make_snapshot(workspace: Path | str, buffers: Mapping[str | Path, str] | None, cache_dir: Path | str,
                  keep: bool = False) -> Snapshot:  # fmt: skip
    """Copy `workspace` into a new folder under `cache_dir/snapshots`, then write `buffers` (path ->
    unsaved text; paths absolute or relative to the workspace) over it."""
    workspace = Path(workspace).resolve()
    if not workspace.is_dir():
        raise WorkspaceError(f"{workspace}: no such folder; open a folder as the workspace")
    parent = Path(cache_dir) / "snapshots"
    try:
        parent.mkdir(parents=True, exist_ok=True)
        root = Path(tempfile.mkdtemp(prefix=f"{workspace.name}-", dir=parent))
    except OSError as exc:
        raise WorkspaceError(f"cannot create a snapshot under {parent}: {exc}; check `cache_dir`") from exc
    try:
        base, files, changed, untracked, generated = _listing(workspace)
        for rel in files + generated:
            _copy(workspace, root, rel)
        built = {rel: path for rel, path in meson_outputs(workspace).items() if not (root / rel).exists()}
        for rel, path in built.items():
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            _clone_or_copy(path, root / rel)
        generated = sorted([*generated, *built])
        written = tuple(_write_buffer(workspace, root, path, text) for path, text in (buffers or {}).items())
    except BaseException:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return Snapshot(root, workspace, base, tuple(changed), tuple(untracked), tuple(sorted(written)), keep,
                    tuple(generated))  # fmt: skip


def _git(cwd: Path, *args: str, git_dir: Path | None = None) -> str:
    """Run git read-only (see module docstring); raise `WorkspaceError` when it fails."""
    import git  # GitPython: imported here so the CLI's --help stays fast

    env = dict(_GIT_ENV)
    if git_dir is not None:
        env.update(GIT_DIR=str(git_dir), GIT_WORK_TREE=str(cwd))
    try:
        return git.Git(str(cwd)).execute(["git", *args], env=env, strip_newline_in_stdout=False)
    except git.GitCommandError as exc:
        raise WorkspaceError(f"git {args[0]} failed in {cwd}: {exc.stderr.strip()}") from exc


def _listing(workspace: Path) -> tuple[str | None, list[str], list[str], list[str], list[str]]:
    """(base commit, files to copy, changed, untracked, ignored build outputs to copy), paths
    relative to the workspace."""
    if _inside_git(workspace):
        tracked = set(_split(_git(workspace, "ls-files", "-z", "--cached")))
        others = _split(_git(workspace, "ls-files", "-z", "--others", "--exclude-standard"))
        try:
            base = _git(workspace, "rev-parse", "--verify", "-q", "HEAD").strip() or None
        except WorkspaceError:
            base = None  # a repository without commits yet
        changed = sorted(_changed_since_head(workspace, tracked) if base else tracked)
        files = sorted(tracked | set(others))
        return base, files, changed, sorted(others), build_outputs(workspace, files, _ignored(workspace))
    with tempfile.TemporaryDirectory(prefix="swe-lsp-gitignore-") as tmp:
        # An empty repository outside the folder lets git itself apply the folder's .gitignore
        # files (every level, negations included) without writing anything into the folder.
        subprocess.run(["git", "init", "-q", tmp], check=True, env={**os.environ, **_GIT_ENV})
        git_dir = Path(tmp) / ".git"
        listed = _split(_git(workspace, "ls-files", "-z", "--others", "--exclude-standard", git_dir=git_dir))
        ignored = _ignored(workspace, git_dir)
    return None, sorted(listed), [], sorted(listed), build_outputs(workspace, listed, ignored)


def _ignored(workspace: Path, git_dir: Path | None = None) -> list[str]:
    """The files git ignores, a wholly ignored folder (`build/`, `.venv/`) left out unread."""
    return _split(
        _git(workspace, "ls-files", "-z", "--others", "--ignored", "--exclude-standard", "--directory",
             git_dir=git_dir)
    )  # fmt: skip


def _changed_since_head(workspace: Path, tracked: set[str]) -> set[str]:
    """Tracked files whose content differs from HEAD, staged or not.

    Plumbing only: porcelain `git diff` refreshes and rewrites .git/index whatever the locks say.
    `diff-index` without a refresh also lists files whose stat alone changed, so each candidate's
    blob id is recomputed from the working tree and compared with HEAD's.
    """
    raw = _git(workspace, "diff-index", "-z", "--relative", "HEAD").split("\0")
    changed = set()
    for meta, path in zip(raw[0::2], raw[1::2], strict=False):
        fields = meta.split()
        if len(fields) < 5 or path not in tracked:
            continue
        try:
            data = (workspace / path).read_bytes()
        except OSError:
            changed.add(path)  # deleted in the working tree
            continue
        if hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest() != fields[2]:
            changed.add(path)
    return changed


def _inside_git(folder: Path) -> bool:
    try:
        return _git(folder, "rev-parse", "--is-inside-work-tree").strip() == "true"
    except WorkspaceError:
        return False


def _split(out: str) -> list[str]:
    return [p for p in out.split("\0") if p and not p.endswith("/")]


def _copy(src_root: Path, dst_root: Path, rel: str) -> None:
    src, dst = src_root / rel, dst_root / rel
    if src.is_symlink():
        target = os.readlink(src)
        # Only a link that stays inside the tree is kept: a job writing through any other link
        # would write outside its snapshot, possibly into the user's files.
        resolved = (dst.parent / target).resolve()
        if not os.path.isabs(target) and resolved.is_relative_to(dst_root.resolve()):
            dst.parent.mkdir(parents=True, exist_ok=True)
            os.symlink(target, dst)
        return
    if not src.is_file():
        return  # deleted in the working tree but still in the index, or a submodule
    dst.parent.mkdir(parents=True, exist_ok=True)
    _clone_or_copy(src, dst)
    shutil.copystat(src, dst)  # same mtimes: the index keyed by the workspace reuses its entries


def _clone_or_copy(src: Path, dst: Path) -> None:
    with open(src, "rb") as fin, open(dst, "wb") as fout:
        with contextlib.suppress(OSError, ImportError, AttributeError):
            import fcntl

            fcntl.ioctl(fout.fileno(), _FICLONE, fin.fileno())
            return
        shutil.copyfileobj(fin, fout, 1 << 20)


def _write_buffer(workspace: Path, root: Path, path: str | Path, text: str) -> str:
    p = Path(path)
    full = p.resolve() if p.is_absolute() else (workspace / p).resolve()
    if not full.is_relative_to(workspace):
        raise WorkspaceError(f"unsaved buffer {path} is outside the workspace {workspace}")
    rel = full.relative_to(workspace).as_posix()
    dst = root / rel
    dst.parent.mkdir(parents=True, exist_ok=True)
    dst.unlink(missing_ok=True)  # never write through a link
    dst.write_text(text, encoding="utf-8", newline="")
    return rel
