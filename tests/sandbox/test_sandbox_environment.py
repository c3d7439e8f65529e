"""What the sandbox makes of a project (the plan, from files only), and building it for real."""

from __future__ import annotations

from pathlib import Path

import pytest
from sandbox_helpers import FAST_ADD_C
from tiny_project import write_files

from swe_lsp.sandbox.env_layer import EnvironmentBuildError, build_script, host_pip_settings
from swe_lsp.sandbox.environment import (
    BUILD_PACKAGES,
    extras_for_tests,
    plan_environment,
    rebuild_for,
    requirement_files,
)
from swe_lsp.sandbox.pythons import choose_python, nearest, pick

write = write_files


def test_nearest_python_prefers_the_older_on_a_tie() -> None:
    assert nearest("3.6") == "3.9" and nearest("3.10") == "3.9" and nearest("3.12") == "3.11"
    assert nearest("3.14") == "3.13" and nearest("3.11") == "3.11"
    assert pick("3.6", "spec").note == "Python 3.6 cannot be had offline here; the nearest is 3.9"
    assert pick("3.9", "spec").note == ""


def test_python_from_what_the_project_declares(tmp_path: Path) -> None:
    assert choose_python(tmp_path).chosen == "3.11"  # nothing declared: the default
    write(
        tmp_path,
        {"setup.py": "setup(python_requires='>=3.6', classifiers=['Programming Language :: Python :: 3.8'])"},
    )
    choice = choose_python(tmp_path)
    # Newest listed is 3.8, which cannot be had: the nearest available at or below does not exist,
    # so the nearest overall (3.9) is taken, and the choice says so.
    assert choice.chosen == "3.9" and "3.8" in choice.note
    write(tmp_path, {"pyproject.toml": "[project]\nrequires-python = '>=3.10'\n"})
    (tmp_path / "setup.py").unlink()
    assert choose_python(tmp_path).chosen == "3.11"
    write(tmp_path, {".python-version": "3.13.1\n"})
    assert choose_python(tmp_path).describe() == "Python 3.13 (.python-version)"
    assert choose_python(tmp_path, "3.9", "sandbox.python").chosen == "3.9"


def test_python_from_tox_and_ci(tmp_path: Path) -> None:
    write(tmp_path, {"tox.ini": "[tox]\nenvlist = py37, py38, py39\n"})
    assert choose_python(tmp_path).chosen == "3.9"
    (tmp_path / "tox.ini").unlink()
    write(
        tmp_path,
        {
            ".github/workflows/ci.yml": "jobs:\n  t:\n    strategy:\n      matrix:\n"
            "        python-version: ['3.11', '3.12']\n"
        },
    )
    choice = choose_python(tmp_path)
    assert choice.chosen == "3.11" and "CI matrix" in choice.source


def test_plan_for_a_plain_project(tmp_path: Path) -> None:
    write(
        tmp_path,
        {"requirements.txt": "attrs\n", "requirements-docs.txt": "sphinx\n", "pkg/mod.py": "x = 1\n"},
    )
    plan = plan_environment(tmp_path)
    assert [s.name for s in plan.steps] == ["virtual environment", "requirements"]
    assert plan.sources == ("requirements.txt",)
    assert plan.base_image == "swe-lsp-base:bookworm"
    digest = plan.digest
    (tmp_path / "pkg" / "mod.py").write_text("x = 2\n")
    assert plan_environment(tmp_path).digest == digest  # code edits never rebuild
    (tmp_path / "requirements.txt").write_text("attrs>=23\n")
    assert plan_environment(tmp_path).digest != digest  # requirement edits always do
    assert plan_environment(tmp_path, python="3.9").digest != plan_environment(tmp_path).digest


def test_plan_installs_the_project_with_its_test_extras(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "setup.py": "from setuptools import setup\n"
            "setup(extras_require={'test': ['pytest'], 'docs': []})\n",
            "tests/requirements/py3.txt": "asgiref\n",
            "tests/requirements/mysql.txt": "mysqlclient\n",
        },
    )
    assert requirement_files(tmp_path) == ["tests/requirements/py3.txt"]
    assert extras_for_tests(tmp_path) == ["test"]
    plan = plan_environment(tmp_path)
    project = plan.steps[-1]
    assert project.name == "project" and "install --use-pep517 -e '.[test]' || " in project.command
    assert project.command.endswith("install --no-use-pep517 -e '.[test]'")  # the legacy fallback
    assert "system packages" not in [s.name for s in plan.steps]


def test_plan_for_a_compiled_project_adds_compilers(tmp_path: Path) -> None:
    write(
        tmp_path,
        {
            "setup.py": "from setuptools import setup, Extension\n"
            "setup(ext_modules=[Extension('m', ['m.c'])])\n",
            "m.c": "",
        },
    )
    plan = plan_environment(tmp_path, system_packages=["libfreetype-dev"])
    first = plan.steps[0]
    assert first.name == "system packages"
    assert all(p in first.command for p in (*BUILD_PACKAGES, "libfreetype-dev"))
    assert "m.c" in plan.sources  # the built extension is in the image: its source is in the key


def test_plan_for_a_meson_project_builds_it_in_the_environment(tmp_path: Path) -> None:
    # meson-python's editable install builds again at each import, with the environment's ninja.
    write(tmp_path, MESON_EXTENSION)
    plan = plan_environment(tmp_path)
    names = [s.name for s in plan.steps]
    assert names == ["system packages", "virtual environment", "build requirements", "project"]
    requirements, project = plan.steps[2:]
    assert "'meson-python>=0.13'" in requirements.command and "ninja" in requirements.command
    assert "--no-build-isolation -e ." in project.command and "||" not in project.command
    assert {"meson.build", "mpkg/_fast.c"} <= set(plan.sources)


def test_offline_plan_says_so(tmp_path: Path) -> None:
    plan = plan_environment(tmp_path, network=False)
    assert "--system-site-packages" in plan.steps[0].command
    assert any("build_network" in note for note in plan.notes)


def test_build_script_announces_steps_and_removes_the_tree(tmp_path: Path) -> None:
    write(tmp_path, {"requirements.txt": "attrs\n"})
    script = build_script(plan_environment(tmp_path))
    assert "echo '==> swe-lsp step 2/2: requirements'" in script
    assert script.index("xargs -0 rm -f") < script.index("chown -R 1000:1000 /workspace")


def test_host_pip_settings_drop_local_indexes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    conf = tmp_path / "pip.conf"
    cert = tmp_path / "ca.crt"
    cert.write_text("-----BEGIN CERTIFICATE-----\n")
    conf.write_text(
        f"[global]\nindex-url = https://pypi.example/simple\nextra-index-url = file:///opt/x https://b.example/s\n"
        f"find-links = /opt/wheels\ncert = {cert}\n"
    )
    monkeypatch.setenv("PIP_CONFIG_FILE", str(conf))
    for var in ("PIP_FIND_LINKS", "PIP_CERT", "PIP_EXTRA_INDEX_URL", "PIP_INDEX_URL"):
        monkeypatch.delenv(var, raising=False)
    env, found = host_pip_settings()
    assert env["PIP_INDEX_URL"] == "https://pypi.example/simple"
    assert env["PIP_EXTRA_INDEX_URL"] == "https://b.example/s"
    assert "PIP_FIND_LINKS" not in env and found == cert


# Docker: real builds. Each is cached by its plan's digest, so a second run takes seconds.

C_EXTENSION = {
    "setup.py": """\
        from setuptools import setup, Extension
        deps = ["six"] + ["attrs" for _ in range(1)]  # computed: no literal list to read
        setup(name="cpkg", version="0.1", packages=["cpkg"], install_requires=deps,
              ext_modules=[Extension("cpkg._fast", ["cpkg/_fast.c"])],
              classifiers=["Programming Language :: Python :: 3.9"],
              entry_points={"console_scripts": ["cpkg-add = cpkg:main"]})
        """,
    "cpkg/__init__.py": """\
        import importlib.metadata, six
        from cpkg._fast import add
        def main():
            print(add(2, 3))
        VERSION = importlib.metadata.version("cpkg")
        """,
    "cpkg/_fast.c": FAST_ADD_C,
    "tests/test_add.py": """\
        import sys, cpkg
        def test_add():
            assert cpkg.add(1, 2) == 3 and cpkg.VERSION == "0.1"
        def test_python():
            assert sys.version_info[:2] == (3, 9)
        """,
}


@pytest.mark.docker
def test_a_compiled_project_on_python_39_builds_and_tests(new_docker, tmp_path: Path) -> None:
    tree = write(tmp_path / "cpkg", C_EXTENSION)
    sandbox = new_docker(warm=0)
    lines: list[str] = []
    sandbox.on_build_line = lines.append
    with sandbox.session(tree) as session:
        tests = session.run(["python3", "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], 300)
        script = session.run(["cpkg-add"], 60)
        stale = session.run(["sh", "-c", "ls cpkg"], 60)
    assert tests.ok, tests.stdout + tests.stderr
    assert "2 passed" in tests.stdout
    assert script.stdout.strip() == "5"  # the entry point exists: the project itself is installed
    assert "_fast" in stale.stdout  # the built extension stays in the image
    if lines:  # not cached: the build showed its steps
        assert any(line.startswith("environment step") for line in lines)
    # Another tree with the same dependency files reuses the image, without the first tree's files.
    other = write(tmp_path / "other", {**C_EXTENSION, "tests/test_add.py": "def test_only():\n    pass\n"})
    (other / "extra.py").write_text("")
    (tree / "tests" / "test_gone.py").write_text("def test_gone():\n    raise AssertionError\n")
    with sandbox.session(other) as session:
        listing = session.run(["sh", "-c", "ls tests"], 60)
    assert listing.stdout.split() == ["test_add.py"]


MESON_EXTENSION = {
    "pyproject.toml": """\
        [build-system]
        build-backend = "mesonpy"
        requires = ["meson-python>=0.13", "meson>=1.1", "ninja"]

        [project]
        name = "mpkg"
        version = "0.1"
        """,
    "meson.build": """\
        project('mpkg', 'c')
        py = import('python').find_installation(pure: false)
        py.extension_module('_fast', 'mpkg/_fast.c', install: true, subdir: 'mpkg')
        py.install_sources('mpkg/__init__.py', subdir: 'mpkg')
        """,
    "mpkg/__init__.py": "from mpkg._fast import add\n",
    "mpkg/_fast.c": FAST_ADD_C,
    "tests/test_add.py": "import mpkg\ndef test_add():\n    assert mpkg.add(2, 3) == 5\n",
}


@pytest.mark.docker
def test_a_meson_project_builds_and_a_changed_extension_is_rebuilt(new_docker, tmp_path: Path) -> None:
    tree = write(tmp_path / "mpkg", MESON_EXTENSION)
    pytest_argv = ["python3", "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"]
    with new_docker(warm=0).session(tree) as session:
        built = session.run(pytest_argv, 300)
        # A candidate that changes the C source: the import rebuilds it, so its test sees the change.
        session.put_files({"mpkg/_fast.c": FAST_ADD_C.replace("x + y", "x + y + 1").encode()})
        changed = session.run(pytest_argv, 300)
    assert built.ok and "1 passed" in built.stdout, built.stdout + built.stderr
    assert not changed.ok and "assert 6 == 5" in changed.stdout, changed.stdout + changed.stderr


@pytest.mark.docker
def test_a_candidate_that_changes_an_extension_is_tested_on_its_build(new_docker, tmp_path: Path) -> None:
    from swe_lsp.sandbox import verify_candidate

    tree = write(tmp_path / "cpkg", C_EXTENSION)
    sandbox = new_docker(warm=0)
    tests = ["python3", "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_add.py"]
    wrong = {"cpkg/_fast.c": FAST_ADD_C.replace("x + y", "x * y").encode()}
    runs = verify_candidate(sandbox, tree, wrong, None, tests)
    assert runs.tests is not None and not runs.tests.ok and "2 == 3" in runs.tests.stdout, runs.tests
    broken = {"cpkg/_fast.c": b"this is not C\n"}
    runs = verify_candidate(sandbox, tree, broken, None, tests)
    assert runs.tests is not None and not runs.tests.ok
    assert runs.tests.stderr.startswith("the candidate's extensions do not build (python3 setup.py build_ext")


def test_a_rebuild_only_where_a_candidate_changed_a_setuptools_extension(tmp_path: Path) -> None:
    write(tmp_path / "c", {**C_EXTENSION, "cpkg/_speed.pyx": "def f():\n    return 1\n"})
    rebuild = rebuild_for(tmp_path / "c", ["cpkg/_fast.c"])
    assert rebuild is not None and rebuild.argv == ("python3", "setup.py", "build_ext", "--inplace")
    assert rebuild.env == {}
    assert rebuild_for(tmp_path / "c", ["cpkg/__init__.py", "README.md"]) is None
    assert "Cython" in plan_environment(tmp_path / "c").steps[-1].command  # a .pyx can be built again
    write(tmp_path / "m", MESON_EXTENSION)
    assert rebuild_for(tmp_path / "m", ["mpkg/_fast.c"]) is None  # its import rebuilds it
    write(tmp_path / "p", {"setup.py": "from setuptools import setup\nsetup(name='p')\n", "p/x.c": ""})
    assert rebuild_for(tmp_path / "p", ["p/x.c"]) is None  # builds no extension
    # A project that reads its version from git is told it for the build, as for the environment's.
    write(tmp_path / "c", {"pyproject.toml": "[project]\nname = 'cpkg'\n[tool.setuptools_scm]\n"})
    told = rebuild_for(tmp_path / "c", ["cpkg/_fast.c"])
    assert told is not None and told.env == {"SETUPTOOLS_SCM_PRETEND_VERSION_FOR_CPKG": "0.0.0"}


@pytest.mark.docker
def test_a_failed_build_names_its_step(docker_client, new_docker, tmp_path: Path) -> None:
    from swe_lsp.sandbox import docker_engine

    write(tmp_path, {"setup.py": "raise SystemExit('this project does not build: swe-lsp-test')\n"})
    sandbox = new_docker(warm=0)
    with pytest.raises(EnvironmentBuildError, match=r"failed at step 'project'") as caught:
        sandbox.session(tmp_path)
    assert "swe-lsp-test" in caught.value.tail
    assert docker_engine.owned_containers(docker_client, "env-build") == []


@pytest.mark.docker
def test_a_requirement_that_cannot_install_is_skipped_and_logged(new_docker, tmp_path: Path) -> None:
    write(
        tmp_path,
        {"requirements.txt": "six\nswe-lsp-test-missing-package==1.0\n", "test_six.py": "import six\n"},
    )
    sandbox = new_docker(warm=0)
    lines: list[str] = []
    sandbox.on_build_line = lines.append
    result = sandbox.run(tmp_path, "python3 -c 'import six; print(six.__name__)'", 120)
    assert result.ok and result.stdout.strip() == "six"
    if lines:
        assert any("skipped requirement swe-lsp-test-missing-package==1.0" in line for line in lines)


@pytest.mark.docker
def test_a_cancelled_build_stops_and_caches_nothing(docker_client, new_docker, tmp_path: Path) -> None:
    import threading
    import time

    from swe_lsp.sandbox import docker_engine
    from swe_lsp.sandbox.env_layer import BuildCancelled, image_cached

    write(tmp_path, {"setup.py": "import time\ntime.sleep(600)\n"})
    sandbox = new_docker(warm=0)
    cancel = threading.Event()
    sandbox.on_build_line = lambda line: cancel.set() if line.endswith(": project") else None
    start = time.monotonic()
    with pytest.raises(BuildCancelled, match="step 'project'"):
        sandbox.image_for(tmp_path, cancel)
    assert time.monotonic() - start < 300  # the 600 s setup.py did not run out
    assert docker_engine.owned_containers(docker_client, "env-build") == []
    assert not image_cached(docker_client, sandbox.plan(tmp_path))
