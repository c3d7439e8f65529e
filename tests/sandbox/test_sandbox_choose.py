"""Choosing the sandbox kind: `auto` prefers docker, then bwrap, and never falls back to local."""

from __future__ import annotations

import logging

import pytest
from sandbox_helpers import settings

from swe_lsp.errors import SweLspError
from swe_lsp.sandbox import bwrap_sandbox, docker_engine, open_sandbox
from swe_lsp.sandbox.bwrap_sandbox import BwrapSandbox
from swe_lsp.sandbox.docker_sandbox import DockerSandbox
from swe_lsp.sandbox.errors import SandboxUnavailableError
from swe_lsp.sandbox.local_sandbox import LocalSandbox


def _unavailable(monkeypatch: pytest.MonkeyPatch, docker: bool, bwrap: bool) -> None:
    if docker:
        monkeypatch.setattr(docker_engine, "engine_problem", lambda: "no engine (test)")
    if bwrap:
        monkeypatch.setattr(bwrap_sandbox, "bwrap_problem", lambda: "no bwrap (test)")


def test_auto_never_falls_back_to_local(monkeypatch: pytest.MonkeyPatch) -> None:
    _unavailable(monkeypatch, docker=True, bwrap=True)
    with pytest.raises(SandboxUnavailableError) as info:
        open_sandbox(settings(kind="auto"))
    message = str(info.value)
    assert isinstance(info.value, SweLspError)
    assert "no engine (test)" in message and "no bwrap (test)" in message
    assert 'sandbox.kind = "local"' in message


def test_auto_takes_bwrap_without_docker(monkeypatch: pytest.MonkeyPatch) -> None:
    if bwrap_sandbox.bwrap_problem():
        pytest.skip(bwrap_sandbox.bwrap_problem() or "")
    _unavailable(monkeypatch, docker=True, bwrap=False)
    assert isinstance(open_sandbox(settings(kind="auto")), BwrapSandbox)


@pytest.mark.docker
def test_auto_takes_docker_when_it_answers(docker_client) -> None:
    assert isinstance(open_sandbox(settings(kind="auto")), DockerSandbox)


def test_local_only_when_asked_and_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.WARNING):
        sandbox = open_sandbox(settings(kind="local"))
    assert isinstance(sandbox, LocalSandbox)
    assert "unisolated" in caplog.text


def test_explicit_bwrap_without_bwrap_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bwrap_sandbox, "bwrap_problem", lambda: "bwrap is not installed: install it")
    with pytest.raises(SandboxUnavailableError, match="not installed"):
        open_sandbox(settings(kind="bwrap"))
