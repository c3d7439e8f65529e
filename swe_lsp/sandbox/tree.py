"""Copying a workspace tree into a sandbox: which files go, and how they are packed.

Caches, virtual environments and VCS data stay behind (`swe_lsp.ignored`, the list the index uses
too). A container gets no extension module the host built in place (`swe_lsp.generated`): it was
built for the host's Python and libraries, and the container's environment builds its own (a host
build of the same name would be taken as up to date and shadow it). A process sandbox, which runs
the host's Python, copies them. Paths that come from a model (a candidate's changed files) are
checked to stay inside the tree.
"""

from __future__ import annotations

import io
import os
import shutil
import tarfile
import tempfile
import time
from collections.abc import Iterator, Mapping
from pathlib import Path, PurePosixPath
from typing import IO

from swe_lsp.generated import is_extension_build
from swe_lsp.ignored import IGNORED_DIRS
from swe_lsp.sandbox.errors import SandboxError

# Above this an archive spills from memory to a temporary file.
_SPOOL_BYTES = 32 * 1024 * 1024


def safe_relpath(name: str) -> str:
    """`name` as a normalised relative POSIX path; raise if it is absolute or climbs out."""
    path = PurePosixPath(name.replace("\\", "/"))
    if path.is_absolute() or not path.parts or ".." in path.parts:
        raise SandboxError(f"refusing a path outside the workspace: {name!r}")
    return path.as_posix()


def iter_tree(tree: Path) -> Iterator[tuple[Path, str]]:
    """Every file, link and folder under `tree` that is copied into a container, as (path, relative
    POSIX name)."""
    for root, dirs, files in os.walk(tree):
        dirs[:] = sorted(d for d in dirs if d not in IGNORED_DIRS)
        base = Path(root)
        for name in dirs + sorted(f for f in files if not is_extension_build(f)):
            path = base / name
            yield path, path.relative_to(tree).as_posix()


def copy_tree(tree: Path, dest: Path) -> None:
    """Copy `tree` to the new folder `dest`, without the ignored folders, keeping symlinks."""
    shutil.copytree(tree, dest, symlinks=True, ignore=shutil.ignore_patterns(*IGNORED_DIRS))


def write_files(root: Path, files: Mapping[str, bytes | None]) -> None:
    """Write (or, for None, delete) each relative path of `files` under `root`."""
    for name, data in files.items():
        path = root / safe_relpath(name)
        if data is None:
            path.unlink(missing_ok=True)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)


def tree_archive(tree: Path, prefix: str, uid: int) -> IO[bytes]:
    """A tar of `tree` under the folder `prefix`, every entry owned by `uid`, rewound to its start."""
    out = tempfile.SpooledTemporaryFile(max_size=_SPOOL_BYTES)  # noqa: SIM115 (the caller closes it)
    with tarfile.open(fileobj=out, mode="w") as tar:
        tar.addfile(_dir_info(prefix, uid))
        for path, rel in iter_tree(tree):
            info = tar.gettarinfo(str(path), arcname=f"{prefix}/{rel}")
            _own(info, uid)
            if info.isreg():
                with path.open("rb") as fh:
                    tar.addfile(info, fh)
            elif info.isdir() or info.issym():
                tar.addfile(info)
    out.seek(0)
    return out


def files_archive(files: Mapping[str, bytes], prefix: str, uid: int, mode: int = 0o644) -> bytes:
    """A tar of in-memory `files` (relative names) under `prefix`, with their parent folders, dated
    now: a candidate's changed file must be newer than what was built from the file it replaces,
    or a build that goes by dates (ninja, which meson-python's editable import runs; make) keeps
    the old build and the candidate is tested on code it did not write."""
    buf = io.BytesIO()
    now = time.time()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        made: set[str] = set()
        for name, data in files.items():
            rel = safe_relpath(name)
            parents = list(PurePosixPath(rel).parents)[:-1]
            for parent in reversed(parents):
                if parent.as_posix() not in made:
                    made.add(parent.as_posix())
                    tar.addfile(_dir_info(f"{prefix}/{parent.as_posix()}", uid))
            info = tarfile.TarInfo(f"{prefix}/{rel}")
            info.size, info.mode, info.mtime = len(data), mode, now
            _own(info, uid)
            tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _dir_info(name: str, uid: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.mode, info.mtime = tarfile.DIRTYPE, 0o755, time.time()
    _own(info, uid)
    return info


def _own(info: tarfile.TarInfo, uid: int) -> None:
    info.uid = info.gid = uid
    info.uname = info.gname = ""
