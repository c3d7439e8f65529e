"""Where an instance's codebase comes from: a local git dir, or a mirror of its repository.

Mirrors are full-history git dirs under one folder, one per repository, at `<owner>+<name>/repo`,
`<owner>+<name>.git` or `<owner>+<name>` (the layout the project's fetch tool leaves). A base commit
is written out with `git archive` into a folder of our own: the mirror is only read, never checked
out, so many instances can share one mirror.
"""

from __future__ import annotations

import io
import shutil
import subprocess
import tarfile
from pathlib import Path

from swe_lsp.errors import SweLspError
from trainer.instances import Instance

# Forks with the upstream's full history that stand in for it where the upstream itself cannot be
# mirrored (SWE-bench's base commits are all there).
STAND_INS: dict[str, tuple[str, ...]] = {
    "django/django": ("apprent1c3/django",),
    "matplotlib/matplotlib": ("williamlus/matplotlib",),
    "scikit-learn/scikit-learn": ("Agent-Benchmarking/scikit-learn",),
}


class RepoError(SweLspError):
    """A codebase the trainer cannot find or read; the message says where it looked."""


def git(git_dir: Path, *args: str, text: bool = True) -> str | bytes:
    """The output of one git command on `git_dir`; a `RepoError` carrying git's message on failure."""
    done = subprocess.run(["git", "--git-dir", str(git_dir), *args], capture_output=True, check=False)
    if done.returncode != 0:
        raise RepoError(
            f"git {' '.join(args[:3])} in {git_dir}: {done.stderr.decode(errors='replace').strip()}"
        )
    return done.stdout.decode("utf-8", errors="replace") if text else done.stdout


def git_dir_of(path: Path) -> Path:
    """The git dir of a work tree (`.git` inside it) or of a bare repository (itself)."""
    for candidate in (path / ".git", path / "repo", path):
        if (candidate / "HEAD").is_file():
            return candidate
    raise RepoError(f"{path} is not a git repository (no HEAD in {path}/.git or {path})")


def find_mirror(repo: str, mirrors: Path) -> Path:
    """The git dir of `repo` ("owner/name") under `mirrors`, or of a fork in STAND_INS."""
    names = [repo.replace("/", "+") for repo in (repo, *STAND_INS.get(repo, ()))]
    for name in names:
        for candidate in (mirrors / name / "repo", mirrors / f"{name}.git", mirrors / name):
            if (candidate / "HEAD").is_file():
                return candidate
    looked = ", ".join(f"{n}/repo, {n}.git, {n}" for n in names)
    raise RepoError(f"no mirror of {repo} under {mirrors} (looked for {looked})")


def instance_git_dir(inst: Instance, mirrors: Path | None) -> Path:
    """Where `inst`'s base commit lives: its own `git_dir`, else its repository's mirror."""
    if inst.git_dir:
        return git_dir_of(Path(inst.git_dir))
    if mirrors is None:
        raise RepoError(f"{inst.instance_id}: no git_dir; pass --mirrors with a mirror of {inst.repo}")
    return find_mirror(inst.repo, mirrors)


def file_at(git_dir: Path, commit: str, path: str) -> str | None:
    """A file's text at `commit`, or None when it does not exist there."""
    try:
        out = git(git_dir, "cat-file", "-p", f"{commit}:{path}", text=False)
    except RepoError:
        return None
    assert isinstance(out, bytes)
    return out.decode("utf-8", errors="replace")


def materialize(git_dir: Path, commit: str, dest: Path) -> Path:
    """`dest` holding exactly the tree of `commit` (replacing whatever was there); returns `dest`."""
    archive = git(git_dir, "archive", "--format=tar", commit, text=False)
    assert isinstance(archive, bytes)
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        tar.extractall(dest, filter="data")
    return dest


def checkout_repo(git_dir: Path, commit: str, dest: Path) -> Path:
    """`dest` as a git work tree at `commit` with one commit of history (the snapshot layer reads
    HEAD): the tree of `commit`, committed once with a fixed identity."""
    materialize(git_dir, commit, dest)
    env = ["-c", "user.name=swe-train", "-c", "user.email=swe-train@localhost", "-c", "commit.gpgsign=false"]
    for args in (
        ["init", "-q"],
        ["add", "-A"],
        [*env, "commit", "-q", "--allow-empty", "-m", f"base {commit}"],
    ):
        done = subprocess.run(["git", *args], cwd=dest, capture_output=True, check=False)
        if done.returncode != 0:
            raise RepoError(f"git {args[-1]} in {dest}: {done.stderr.decode(errors='replace').strip()}")
    return dest
