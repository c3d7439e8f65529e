"""Reading a workspace's requirements for the environment layer, and hashing its dependency files."""

from __future__ import annotations

from pathlib import Path

from swe_lsp.sandbox.dependencies import env_spec


def test_no_dependency_files(tmp_path: Path) -> None:
    spec = env_spec(tmp_path)
    assert spec.requirements == () and spec.sources == ()


def test_every_source_is_read(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("requests>=2  # http\n-e .\n-r other.txt\n./local\n\nattrs\n")
    (tmp_path / "requirements-dev.txt").write_text("attrs\nhypothesis\n")
    (tmp_path / "pyproject.toml").write_text(
        '[project]\ndependencies = ["numpy"]\n[project.optional-dependencies]\ntest = ["pytest-x"]\n'
        'docs = ["sphinx"]\n'
    )
    (tmp_path / "setup.cfg").write_text("[options]\ninstall_requires =\n    six\n")
    (tmp_path / "setup.py").write_text("from setuptools import setup\nsetup(install_requires=['click'])\n")
    spec = env_spec(tmp_path)
    assert spec.requirements == ("attrs", "hypothesis", "requests>=2", "numpy", "pytest-x", "six", "click")
    assert spec.sources == (
        "requirements-dev.txt",
        "requirements.txt",
        "pyproject.toml",
        "setup.cfg",
        "setup.py",
    )


def test_digest_follows_dependency_files_only(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("attrs\n")
    first = env_spec(tmp_path).digest
    (tmp_path / "module.py").write_text("x = 1\n")
    assert env_spec(tmp_path).digest == first
    (tmp_path / "requirements.txt").write_text("attrs>=23\n")
    assert env_spec(tmp_path).digest != first


def test_unparseable_files_give_no_requirements(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text("[project\n")
    (tmp_path / "setup.py").write_text("setup(install_requires=compute())\n")
    assert env_spec(tmp_path).requirements == ()
