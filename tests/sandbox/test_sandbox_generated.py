"""A project's git-ignored build outputs in the sandboxes: its version module and the extensions
built in place travel with the job's snapshot into the process sandboxes (which run the host's
Python), never the host's extensions into a container; and a project that reads its version from
git builds in a container, which has no `.git`."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sysconfig
from pathlib import Path

import git
import pytest
from sandbox_helpers import FAST_ADD_C
from tiny_project import write_files

from swe_lsp.generated import (
    build_outputs,
    distribution_name,
    is_extension_build,
    meson_outputs,
    scm_settings,
    version_files,
    written_version,
)
from swe_lsp.sandbox.base import Sandbox
from swe_lsp.sandbox.environment import plan_environment, scm_version_env
from swe_lsp.sandbox.tree import copy_tree, iter_tree
from swe_lsp.workspace import make_snapshot

EXT = sysconfig.get_config_var("EXT_SUFFIX") or ".so"

PROJECT = {
    "pyproject.toml": """\
        [build-system]
        requires = ["setuptools>=64", "setuptools-scm>=8"]
        build-backend = "setuptools.build_meta"

        [project]
        name = "scm-pkg"
        dynamic = ["version"]

        [tool.setuptools]
        packages = ["pkg"]

        [tool.setuptools_scm]
        write_to = "pkg/_version.py"
        """,
    "setup.py": """\
        from setuptools import Extension, setup
        setup(ext_modules=[Extension("pkg._fast", ["pkg/_fast.c"])])
        """,
    ".gitignore": "pkg/_version.py\n*.so\nbuild/\n.env\npkg/local_settings.py\n",
    "pkg/__init__.py": """\
        from pkg._version import version
        from pkg._fast import add
        """,
    "pkg/_fast.c": FAST_ADD_C,
}
# What the project's install wrote, and what else git ignores in it.
INSTALLED = {"pkg/_version.py": "__version__ = version = '1.2.3.dev4+gabc'\n"}
SECRETS = {".env": "TOKEN=s3cret\n", "pkg/local_settings.py": "PASSWORD = 's3cret'\n"}


def built_project(root: Path) -> Path:
    """The project committed, then installed in place as a developer would: its version module
    written and its extension compiled for this interpreter, whose base is the `python3` a process
    sandbox runs (plus a copy in build/), and a couple of ignored secrets beside them."""
    cc = shutil.which("cc") or shutil.which("gcc")
    include = Path(sysconfig.get_paths()["include"])
    if cc is None or not (include / "Python.h").is_file():
        pytest.skip("no C compiler or Python headers to build the extension in place")
    write_files(root, PROJECT)
    repo = git.Repo.init(root)
    repo.index.add(list(PROJECT))
    repo.index.commit("init")
    write_files(root, {**INSTALLED, **SECRETS})
    built = root / "pkg" / f"_fast{EXT}"
    subprocess.run([cc, "-shared", "-fPIC", f"-I{include}", "-o", str(built), str(root / "pkg" / "_fast.c")],
                   check=True)  # fmt: skip
    (root / "build" / "lib" / "pkg").mkdir(parents=True)
    shutil.copy(built, root / "build" / "lib" / "pkg" / built.name)
    return root


def test_a_snapshot_carries_the_build_outputs_and_no_other_ignored_file(tmp_path: Path) -> None:
    project = built_project(tmp_path / "ws")
    with make_snapshot(project, {}, tmp_path / "cache") as snap:
        assert snap.generated == (f"pkg/_fast{EXT}", "pkg/_version.py")
        files = sorted(p.relative_to(snap.root).as_posix() for p in snap.root.rglob("*") if p.is_file())
        assert files == sorted([*PROJECT, *snap.generated])  # no secret, no build/ copy
        assert snap.untracked == ()


@pytest.mark.parametrize("sandbox", ["bwrap", "local"], indirect=True)
def test_a_process_sandbox_imports_the_snapshot_as_the_workspace_does(
    sandbox: Sandbox, tmp_path: Path
) -> None:
    project = built_project(tmp_path / "ws")
    code = "import pkg; print(pkg.version, pkg.add(2, 3))"
    with make_snapshot(project, {}, tmp_path / "cache") as snap, sandbox.session(snap.root) as session:
        result = session.run(["python3", "-c", code], 60)
    assert result.ok, result.stderr
    assert result.stdout.split() == ["1.2.3.dev4+gabc", "5"]


@pytest.mark.docker
def test_a_container_builds_its_own_extension_and_is_told_the_version(new_docker, tmp_path: Path) -> None:
    project = built_project(tmp_path / "ws")
    # A host build named for the container's Python, which would shadow the container's own build
    # and fail to load if it were copied in.
    (project / "pkg" / "_fast.cpython-311-x86_64-linux-gnu.so").write_bytes(b"not an ELF file")
    with make_snapshot(project, {}, tmp_path / "cache") as snap:
        plan = plan_environment(snap.root)
        assert ("SETUPTOOLS_SCM_PRETEND_VERSION_FOR_SCM_PKG", "1.2.3") in plan.env
        with new_docker(warm=0).session(snap.root) as session:
            result = session.run(["python3", "-c", "import importlib.metadata as m, pkg; "
                                  "print(m.version('scm-pkg'), pkg.add(2, 3))"], 120)  # fmt: skip
    assert result.ok, result.stderr
    assert result.stdout.split() == ["1.2.3", "5"]


def test_extension_builds_are_named_for_their_interpreter() -> None:
    assert is_extension_build(f"pkg/_fast{EXT}")
    for name in (
        "a.cpython-39-darwin.so",
        "a.abi3.so",
        "a.pypy39-pp73-x86_64-linux-gnu.so",
        "a.cp311-win_amd64.pyd",
    ):
        assert is_extension_build(name), name
    for name in ("libvendored.so", "a.so.c", "cpython-311.so.py", "a.py"):
        assert not is_extension_build(name), name


def test_only_the_outputs_beside_the_project_python_are_kept(tmp_path: Path) -> None:
    write_files(tmp_path, {"pyproject.toml": '[tool.setuptools_scm]\nversion_file = "src/pkg/_version.py"\n'})
    sources = ["src/pkg/__init__.py", "src/pkg/sub/mod.py", "pyproject.toml"]
    ignored = [
        "src/pkg/_version.py", f"src/pkg/_a{EXT}", f"src/pkg/sub/_b{EXT}", f"elsewhere/_c{EXT}",
        f".venv/lib/pkg/_d{EXT}", f"src/pkg/__pycache__/_e{EXT}", "src/pkg/local_settings.py", "src/pkg/x.so",
    ]  # fmt: skip
    assert build_outputs(tmp_path, sources, ignored) == [
        f"src/pkg/_a{EXT}",
        "src/pkg/_version.py",
        f"src/pkg/sub/_b{EXT}",
    ]


def test_a_container_is_sent_no_host_extension_and_a_process_copy_is(tmp_path: Path) -> None:
    write_files(tmp_path / "t", {"pkg/__init__.py": "", f"pkg/_a{EXT}": "", "pkg/libvendored.so": ""})
    sent = sorted(rel for path, rel in iter_tree(tmp_path / "t") if path.is_file())
    assert sent == ["pkg/__init__.py", "pkg/libvendored.so"]
    copy_tree(tmp_path / "t", tmp_path / "copy")
    assert (tmp_path / "copy" / "pkg" / f"_a{EXT}").is_file()


SCM_DECLARATIONS = {
    "pyproject": {
        "pyproject.toml": '[project]\nname = "a.b-c"\n[tool.setuptools_scm]\nwrite_to = "a/_v.py"\n'
    },
    "setup.py": {
        "setup.py": "from setuptools import setup\n"
        'setup(name="a.b-c", use_scm_version={"write_to": "a/_v.py"})\n'
    },
    "hatch-vcs": {
        "pyproject.toml": '[project]\nname = "a.b-c"\n[tool.hatch.version]\nsource = "vcs"\n'
        '[tool.hatch.build.hooks.vcs]\nversion-file = "a/_v.py"\n'
    },
}


@pytest.mark.parametrize("declared", SCM_DECLARATIONS.values(), ids=list(SCM_DECLARATIONS))
def test_a_project_versioned_from_git_is_told_its_version(declared: dict[str, str], tmp_path: Path) -> None:
    write_files(tmp_path, declared)
    assert version_files(tmp_path) == ["a/_v.py"] and distribution_name(tmp_path) == "a.b-c"
    (key, version), note = scm_version_env(tmp_path)
    assert (key, version) == ("SETUPTOOLS_SCM_PRETEND_VERSION_FOR_A_B_C", "0.0.0")
    assert "install the project there once" in note
    write_files(tmp_path, {"a/_v.py": "version = '2.1.0rc1.dev3+g1234'\n"})
    assert written_version(tmp_path) == "2.1.0"
    plan = plan_environment(tmp_path)
    assert ("SETUPTOOLS_SCM_PRETEND_VERSION_FOR_A_B_C", "2.1.0") in plan.env
    assert any("given as 2.1.0" in n for n in plan.notes)


def test_no_version_is_told_where_none_is_needed(tmp_path: Path) -> None:
    write_files(tmp_path / "plain", {"pyproject.toml": '[project]\nname = "p"\nversion = "1.0"\n'})
    assert scm_settings(tmp_path / "plain") is None and scm_version_env(tmp_path / "plain") is None
    fallback = '[tool.setuptools_scm]\nfallback_version = "0.0+unknown"\n'
    write_files(tmp_path / "fallback", {"pyproject.toml": fallback})
    assert scm_version_env(tmp_path / "fallback") is None  # setuptools-scm uses it itself
    # The workspace's own version over the fallback; without a name, told to every package built.
    installed = {"pyproject.toml": fallback + 'write_to = "v.py"\n', "v.py": "version = '3.1'\n"}
    write_files(tmp_path / "fallback", installed)
    told, note = scm_version_env(tmp_path / "fallback")
    assert told == ("SETUPTOOLS_SCM_PRETEND_VERSION", "3.1") and "every package" in note
    escape = '[tool.setuptools_scm]\nwrite_to = "../outside.py"\n'
    write_files(tmp_path / "escape", {"pyproject.toml": escape})
    assert version_files(tmp_path / "escape") == []


def meson_built(root: Path) -> Path:
    """A `src/` project as a meson-python editable install leaves it: its outputs under
    `build/cp311`, with meson's install plan saying where each goes."""
    build = root / "build" / "cp311"
    write_files(
        root, {"src/pkg/__init__.py": "", "build/cp311/_a" + EXT: "", "build/cp311/pkg/version.py": ""}
    )
    write_files(root, {"build/cp311/x.h": "", "build/cp311/sub/_b" + EXT: ""})
    plan = {
        "targets": {
            str(build / f"_a{EXT}"): {"destination": f"{{py_platlib}}/pkg/_a{EXT}"},
            str(build / "x.h"): {"destination": "{includedir}/x.h"},
            str(build / "sub" / f"_b{EXT}"): {"destination": f"{{py_platlib}}/../evil/_b{EXT}"},
        },
        "configure": {str(build / "pkg" / "version.py"): {"destination": "{py_purelib}/pkg/version.py"}},
        "python": {
            str(root / "src" / "pkg" / "__init__.py"): {"destination": "{py_platlib}/pkg/__init__.py"}
        },
    }
    write_files(root, {"build/cp311/meson-info/intro-install_plan.json": json.dumps(plan)})
    return root


def test_a_meson_build_outputs_go_where_the_package_imports_them(tmp_path: Path) -> None:
    root = meson_built(tmp_path / "ws")
    found = meson_outputs(root)
    assert found == {
        f"src/pkg/_a{EXT}": root / "build" / "cp311" / f"_a{EXT}",
        "src/pkg/version.py": root / "build" / "cp311" / "pkg" / "version.py",
    }  # not the header, not a destination that climbs out
    write_files(root, {".gitignore": "build/\n"})
    repo = git.Repo.init(root)
    repo.index.add([".gitignore", "src/pkg/__init__.py"])
    repo.index.commit("init")
    with make_snapshot(root, {}, tmp_path / "cache") as snap:
        assert snap.generated == (f"src/pkg/_a{EXT}", "src/pkg/version.py")
        assert (snap.root / "src" / "pkg" / "version.py").is_file() and not (snap.root / "build").exists()


# A stand-in for meson-python's editable import hook, installed at start-up (`sitecustomize` on the
# copy's path stands for the `.pth` file in site-packages): like the real one it leads `pkg` to the
# user's workspace unless `MESONPY_EDITABLE_SKIP` names its build folder.
HOOK = """\
    import importlib.util, os, sys

    class MesonpyMetaFinder:
        _build_path = "/nowhere/build/cp311"

        def find_spec(self, fullname, path=None, target=None):
            skipped = os.environ.get("MESONPY_EDITABLE_SKIP", "").split(os.pathsep)
            if fullname != "pkg" or self._build_path in skipped:
                return None
            return importlib.util.spec_from_loader(fullname, loader=None, origin="the user's workspace")

    sys.meta_path.insert(0, MesonpyMetaFinder())
    """


@pytest.mark.parametrize("sandbox", ["bwrap", "local"], indirect=True)
def test_a_process_sandbox_keeps_an_editable_hook_off_the_copy(sandbox: Sandbox, tmp_path: Path) -> None:
    tree = write_files(
        tmp_path / "tree", {"sitecustomize.py": HOOK, "pkg/__init__.py": "WHERE = 'the copy'\n"}
    )
    with sandbox.session(tree) as session:
        result = session.run(["python3", "-c", "import pkg; print(pkg.WHERE)"], 60)
    assert result.ok, result.stderr
    assert result.stdout.strip() == "the copy"


SETUPTOOLS_PROJECT = {
    "setup.py": """\
        from setuptools import Extension, setup
        setup(name="cpkg", ext_modules=[Extension("cpkg._fast", ["cpkg/_fast.c"])])
        """,
    ".gitignore": "*.so\nbuild/\n",
    "cpkg/__init__.py": "from cpkg._fast import add\n",
    "cpkg/_fast.c": FAST_ADD_C,
    "tests/test_add.py": "import cpkg\ndef test_add():\n    assert cpkg.add(1, 2) == 3\n",
}


@pytest.mark.parametrize("sandbox", ["bwrap", "local"], indirect=True)
def test_a_process_sandbox_tests_a_candidate_on_its_own_extension(sandbox: Sandbox, tmp_path: Path) -> None:
    from swe_lsp.sandbox import verify_candidate

    root = write_files(tmp_path / "ws", SETUPTOOLS_PROJECT)
    built = subprocess.run(
        ["python3", "setup.py", "-q", "build_ext", "--inplace"], cwd=root, capture_output=True, text=True
    )
    if built.returncode != 0:  # the user's own in-place build, with the host's setuptools and compiler
        pytest.skip(f"python3 cannot build the extension in place here: {built.stderr[-300:]}")
    for made in (root / "cpkg").glob("_fast.*"):  # built an hour ago, as a user's build is: setuptools
        os.utime(made, (made.stat().st_mtime - 3600,) * 2)  # copies a rebuild over it only if newer
    repo = git.Repo.init(root)
    repo.index.add(list(SETUPTOOLS_PROJECT))
    repo.index.commit("init")
    tests = ["python3", "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"]
    wrong = {"cpkg/_fast.c": FAST_ADD_C.replace("x + y", "x * y").encode()}
    with make_snapshot(root, {}, tmp_path / "cache") as snap:
        assert any(g.startswith("cpkg/_fast.") for g in snap.generated)  # the host's build, carried
        runs = verify_candidate(sandbox, snap.root, wrong, None, tests)
    assert runs.tests is not None and not runs.tests.ok and "2 == 3" in runs.tests.stdout, runs.tests
