"""The base image is bootstrapped from the Debian mirror the host's apt already uses."""

from __future__ import annotations

from pathlib import Path

import pytest

from swe_lsp.sandbox.base_image import BaseImageRecipe, _debootstrap, host_debian_mirror
from swe_lsp.sandbox.errors import SandboxImageError


def test_deb822_sources_skip_the_security_archive(tmp_path: Path) -> None:
    folder = tmp_path / "sources.list.d"
    folder.mkdir()
    (folder / "a-security.sources").write_text("Types: deb\nURIs: http://mirror.test/debian-security\n")
    (folder / "debian.sources").write_text("Types: deb\nURIs: http://mirror.test/debian\nSuites: bookworm\n")
    assert host_debian_mirror([folder]) == "http://mirror.test/debian"


def test_one_line_sources_with_options(tmp_path: Path) -> None:
    listing = tmp_path / "sources.list"
    listing.write_text(
        "# comment\ndeb http://mirror.test/debian-security bookworm-security main\n"
        "deb [arch=amd64 signed-by=/k.gpg] http://mirror.test/debian bookworm main\n"
    )
    assert host_debian_mirror([tmp_path / "missing.d", listing]) == "http://mirror.test/debian"


def test_no_mirror_is_a_clear_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("swe_lsp.sandbox.base_image.APT_SOURCES", (tmp_path / "none",))
    monkeypatch.setattr("swe_lsp.sandbox.base_image.host_debian_mirror", lambda: None)
    with pytest.raises(SandboxImageError, match="pass --mirror"):
        _debootstrap(BaseImageRecipe(), tmp_path / "root", lambda _line: None)
