"""Which files of a tree the index reads, and how a file's bytes become text.

The walk never follows a symlinked directory, so a symlink loop (`a/loop -> ..`) cannot make it
run forever or count a file twice; a symlinked file is read only if it resolves inside the root.
Folders that are never source (`swe_lsp.ignored`: VCS metadata, caches, virtual environments)
are skipped by name, because an index built on a live workspace at idle time sees them even though
a snapshot drops them.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from pathlib import Path

from swe_lsp.ignored import IGNORED_DIRS
from swe_lsp.workspace.model import FileStatus

# Past this a file is almost always generated or data (lockfiles, vendored bundles, fixtures): the
# model gains nothing from it and parsing it would dominate the index build.
MAX_TEXT_BYTES = 1_000_000
# A minified or generated file has few, very long lines; an average line past this is one.
MAX_AVG_LINE = 400

LANGUAGES = {
    ".py": "python", ".pyi": "python", ".pyx": "cython", ".c": "c", ".h": "c", ".cc": "cpp",
    ".cpp": "cpp", ".hpp": "cpp", ".js": "javascript", ".ts": "typescript", ".go": "go",
    ".rs": "rust", ".java": "java", ".rb": "ruby", ".md": "markdown", ".rst": "rst", ".txt": "text",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class FileStat:
    """The cheap fingerprint of a file: when it matches the stored one, the file is not re-read."""

    size: int
    mtime_ns: int


@dataclass(frozen=True, slots=True)
class Decoded:
    """A file's bytes as text, or why they are not text."""

    text: str | None
    status: FileStatus


def walk(root: Path) -> dict[str, FileStat]:
    """Every indexable regular file under `root`, as posix paths relative to it, with its stat."""
    root = root.resolve()
    found: dict[str, FileStat] = {}
    stack = [""]  # folders relative to root, "" or ending in "/"
    while stack:
        folder = stack.pop()
        try:
            entries = list(os.scandir(os.path.join(root, folder)))
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    if entry.name not in IGNORED_DIRS:
                        stack.append(f"{folder}{entry.name}/")
                    continue
                info = _file_stat(entry, root)
            except (OSError, RuntimeError):  # a symlink loop raises RuntimeError on 3.11
                continue
            if info is not None:
                found[folder + entry.name] = info
    return found


def _file_stat(entry: os.DirEntry[str], root: Path) -> FileStat | None:
    if entry.is_symlink():
        target = Path(entry.path).resolve(strict=True)
        if not target.is_relative_to(root) or not target.is_file():
            return None
        st = target.stat()
    else:
        st = entry.stat(follow_symlinks=False)
    if not stat.S_ISREG(st.st_mode):
        return None
    return FileStat(st.st_size, st.st_mtime_ns)


def language_of(path: str) -> str:
    """A language name from the extension; `text` for anything unknown."""
    return LANGUAGES.get(os.path.splitext(path)[1].lower(), "text")


def decode(data: bytes) -> Decoded:
    """UTF-8 text, else Latin-1 text (every byte decodes, so search still works), or no text at all
    for binary, huge or minified content."""
    if len(data) > MAX_TEXT_BYTES:
        return Decoded(None, "too_large")
    if b"\0" in data[:8192]:
        return Decoded(None, "binary")
    try:
        text = data.decode("utf-8")
        status: FileStatus = "ok"
    except UnicodeDecodeError:
        text = data.decode("latin-1")
        status = "decoded_latin1"
    if len(text) > 20 * MAX_AVG_LINE and len(text) / (text.count("\n") + 1) > MAX_AVG_LINE:
        return Decoded(None, "too_large")
    return Decoded(text, status)


def read_text(root: Path, rel: str) -> str | None:
    """The text of `rel` under `root` as the index decodes it, or None when it is not text."""
    try:
        return decode((root / rel).read_bytes()).text
    except (OSError, RuntimeError):
        return None
