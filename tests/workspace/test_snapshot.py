"""Snapshots keep unsaved buffers and untracked files, drop ignored ones, never touch the workspace."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import git
import pytest
from workspace_fixtures import write

from swe_lsp.workspace import WorkspaceError, make_snapshot


def tree_hash(root: Path) -> str:
    """Hash of every path, mode and content under `root`, .git included."""
    digest = hashlib.sha256()
    for folder, dirs, files in sorted(os.walk(root)):
        dirs.sort()
        for name in sorted(files):
            path = Path(folder) / name
            st = path.lstat()
            digest.update(f"{path.relative_to(root)}|{st.st_mode}|{st.st_mtime_ns}\n".encode())
            if not path.is_symlink():
                digest.update(path.read_bytes())
    return digest.hexdigest()


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    root = tmp_path / "ws"
    write(root, {"a.py": "A = 1\n", "b.py": "B = 1\n", "gone.py": "G = 1\n", ".gitignore": "*.log\nbuild/\n"})
    r = git.Repo.init(root)
    r.index.add(["a.py", "b.py", "gone.py", ".gitignore"])
    r.index.commit("init")
    write(root, {"a.py": "A = 2  # unstaged\n", "staged.py": "S = 1\n", "new.py": "N = 1\n"})
    write(root, {"debug.log": "noise\n", "build/out.py": "O = 1\n", "sub/deep.py": "D = 1\n"})
    r.index.add(["staged.py"])
    (root / "gone.py").unlink()
    return root


def test_snapshot_has_changes_untracked_and_buffers_but_not_ignored(repo: Path, tmp_path: Path) -> None:
    buffers = {"b.py": "B = 'unsaved'\n", str(repo / "fresh.py"): "F = 1\n"}
    with make_snapshot(repo, buffers, tmp_path / "cache") as snap:
        files = sorted(p.relative_to(snap.root).as_posix() for p in snap.root.rglob("*") if p.is_file())
        assert files == [".gitignore", "a.py", "b.py", "fresh.py", "new.py", "staged.py", "sub/deep.py"]
        assert (snap.root / "a.py").read_text() == "A = 2  # unstaged\n"
        assert (snap.root / "b.py").read_text() == "B = 'unsaved'\n"
        assert snap.base_commit == git.Repo(repo).head.commit.hexsha
        assert snap.changed == ("a.py", "gone.py", "staged.py")
        assert snap.untracked == ("new.py", "sub/deep.py")
        assert snap.buffers == ("b.py", "fresh.py")
        assert snap.root.is_relative_to(tmp_path / "cache")
        root = snap.root
    assert not root.exists()


def test_workspace_is_never_written(repo: Path, tmp_path: Path) -> None:
    before = tree_hash(repo)
    snap = make_snapshot(repo, {"a.py": "changed in the editor\n"}, tmp_path / "cache")
    (snap.root / "b.py").write_text("a job edits its copy\n")
    snap.close()
    assert tree_hash(repo) == before


def test_kept_snapshot_stays(repo: Path, tmp_path: Path) -> None:
    with make_snapshot(repo, {}, tmp_path / "cache", keep=True) as snap:
        pass
    assert (snap.root / "a.py").exists()


def test_plain_folder_is_copied_honouring_gitignore(tmp_path: Path) -> None:
    root = tmp_path / "plain"
    write(root, {".gitignore": "secret.txt\ncache/\n", "main.py": "x = 1\n", "secret.txt": "s"})
    write(root, {"cache/c.py": ""})
    write(root, {"pkg/.gitignore": "*.tmp\n", "pkg/mod.py": "", "pkg/scratch.tmp": ""})
    with make_snapshot(root, {}, tmp_path / "cache") as snap:
        files = sorted(p.relative_to(snap.root).as_posix() for p in snap.root.rglob("*") if p.is_file())
        assert files == [".gitignore", "main.py", "pkg/.gitignore", "pkg/mod.py"]
        assert snap.base_commit is None
    assert not (root / ".git").exists()


def test_buffer_outside_workspace_is_refused(repo: Path, tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match="outside the workspace"):
        make_snapshot(repo, {str(tmp_path / "elsewhere.py"): "x"}, tmp_path / "cache")
    assert not any((tmp_path / "cache" / "snapshots").iterdir())


def test_missing_workspace_is_a_user_error(tmp_path: Path) -> None:
    with pytest.raises(WorkspaceError, match="no such folder"):
        make_snapshot(tmp_path / "nope", {}, tmp_path / "cache")
