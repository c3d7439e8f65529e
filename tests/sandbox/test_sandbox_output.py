"""The output cap and the bits of tree handling the sandboxes share."""

from __future__ import annotations

import io
import tarfile
import threading

import pytest

from swe_lsp.sandbox.errors import SandboxError
from swe_lsp.sandbox.result import OutputCap, RunResult
from swe_lsp.sandbox.tree import files_archive, safe_relpath, tree_archive


def test_cap_keeps_everything_under_the_limit() -> None:
    cap = OutputCap(100)
    cap.write(b"a" * 30)
    cap.write(b"b" * 20)
    assert cap.text() == "a" * 30 + "b" * 20 and not cap.truncated


def test_cap_keeps_head_and_tail() -> None:
    cap = OutputCap(20)
    for chunk in (b"0123456789", b"abcdefghij", b"ABCDEFGHIJ", b"klmnopqrst"):
        cap.write(chunk)
    assert cap.truncated
    head, marker, tail = cap.text().split("\n", 2)[0], cap.text().split("\n")[1], cap.text().split("\n")[-1]
    assert head == "0123456789" and tail == "klmnopqrst"
    assert "[20 bytes of output cut" in marker


def test_cap_is_thread_safe() -> None:
    cap = OutputCap(1000)
    threads = [threading.Thread(target=lambda: [cap.write(b"x" * 7) for _ in range(500)]) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    kept = cap.text().split("\n")
    assert len(kept[0]) == 500 and len(kept[-1]) == 500
    assert "[13000 bytes" in kept[1]


def test_cap_decodes_bad_utf8() -> None:
    cap = OutputCap(100)
    cap.write(b"ok \xff\xfe")
    assert cap.text().startswith("ok ")


def test_result_ok() -> None:
    assert RunResult(0, "", "").ok
    assert not RunResult(1, "", "").ok
    assert not RunResult(None, "", "", timed_out=True).ok


@pytest.mark.parametrize("name", ["/etc/passwd", "../x", "a/../../b", ""])
def test_paths_outside_the_tree_are_refused(name: str) -> None:
    with pytest.raises(SandboxError):
        safe_relpath(name)


def test_archives(tmp_path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "m.py").write_text("x = 1\n")
    (tmp_path / ".git").mkdir()
    (tmp_path / ".git" / "HEAD").write_text("ref\n")
    (tmp_path / "link").symlink_to("pkg/m.py")
    with tree_archive(tmp_path, "workspace", 1000) as archive, tarfile.open(fileobj=archive) as tar:
        members = {m.name: m for m in tar.getmembers()}
    assert set(members) == {"workspace", "workspace/pkg", "workspace/pkg/m.py", "workspace/link"}
    assert all(m.uid == 1000 for m in members.values())
    assert members["workspace/link"].issym()
    data = files_archive({"a/b/c.txt": b"hi"}, ".", 7)
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        assert [m.name for m in tar.getmembers()] == ["./a", "./a/b", "./a/b/c.txt"]
        assert tar.extractfile("./a/b/c.txt").read() == b"hi"  # type: ignore[union-attr]
