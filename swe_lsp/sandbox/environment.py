"""What the sandbox makes of a project: its Python, its dependency files, and the steps that install
it the way its own CI would, as one plan the user can read (`swe-lsp sandbox env`).

The plan is built from files only (nothing of the project runs on the host). Its steps run later,
as root, in a build container that may reach the package index (pip's own resolver then picks
wheels for the container's Python and platform, and builds sdists there): a virtual environment,
the system packages a compiled project needs, the requirement files, and the project itself with
`pip install -e .` (so computed dependencies, entry points, `importlib.metadata` and C extensions
all work). The result is cached as an image keyed by `digest`: the Python, the steps, and the
content of every file they read, so editing code never rebuilds it and editing a requirement
always does. Verification containers made from it still have no network.
"""

from __future__ import annotations

import fnmatch
import hashlib
import re
import shlex
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from swe_lsp.generated import distribution_name, read_pyproject, scm_settings, version_files, written_version
from swe_lsp.sandbox.pythons import PythonChoice, choose_python

ENV_REPOSITORY = "swe-lsp-env"
VENV = "/opt/swe-env"
PIP = f"{VENV}/bin/python -m pip"
# Optional-dependency groups that hold what the tests need.
TEST_EXTRAS = ("test", "tests", "testing", "dev")
# System packages a project with compiled extensions needs to build them (C/C++ compiler, the
# Python headers of the container's own Python, pkg-config for the libraries it links).
BUILD_PACKAGES = ("build-essential", "python3-dev", "pkg-config")
_EXTENSION_SOURCES = ("*.pyx", "*.pxd", "*.c", "*.cpp", "*.h", "meson.build")
# Build backends that exist to build compiled code (meson-python's, scikit-build-core's): such a
# project needs the compilers whatever its files say.
_NATIVE_BACKENDS = ("mesonpy", "scikit_build_core.build")
_EXTENSION_MARKERS = re.compile(r"\b(Extension|ext_modules|cythonize|build_ext|numpy\.distutils)\b")
# Requirement files under these folders are read when their name says they are for the tests or
# the base install (Django keeps its test requirements in tests/requirements/py3.txt); database
# back-ends (mysql.txt, postgres.txt) need servers the sandbox does not have.
_REQUIREMENT_DIRS = ("requirements", "tests/requirements", "test/requirements")
_REQUIREMENT_NAMES = re.compile(r"^(requirements([-_.].*)?|py3|base|common|tests?|testing|dev)(\.in)?\.txt$")


@dataclass(frozen=True)
class BuildStep:
    """One shell command of an environment build, run as root in `/workspace` of the build
    container, and why it is there (shown by `swe-lsp sandbox env`, and named when it fails)."""

    name: str
    command: str
    why: str
    # A step that may fail without failing the build: it says so in the log and the build goes on.
    optional: bool = False


@dataclass(frozen=True)
class EnvPlan:
    """How a project's test environment is made: the Python (and so the base image), the files
    read, the build steps, and the cache key over all of them."""

    python: PythonChoice
    sources: tuple[str, ...]
    steps: tuple[BuildStep, ...]
    digest: str
    network: bool = True
    notes: tuple[str, ...] = ()
    env: tuple[tuple[str, str], ...] = field(default=())

    @property
    def base_image(self) -> str:
        """The offline base image of the chosen Python's Debian suite."""
        return f"swe-lsp-base:{self.python.suite}"

    @property
    def tag(self) -> str:
        """The environment image's tag: the cache key."""
        return f"{ENV_REPOSITORY}:{self.digest[:20]}"

    def describe(self) -> list[str]:
        """Lines for the user: the Python, the sources, each step and the notes."""
        lines = [self.python.describe(), f"dependency files: {', '.join(self.sources) or '(none)'}"]
        lines += [f"step {i}: {s.name}: {s.command}" for i, s in enumerate(self.steps, 1)]
        return lines + [f"note: {n}" for n in self.notes]


def make_plan(
    tree: Path,
    python: PythonChoice,
    steps: Sequence[BuildStep],
    sources: Sequence[str],
    network: bool = True,
    notes: Sequence[str] = (),
    env: Iterable[tuple[str, str]] = (),
) -> EnvPlan:
    """A plan from its parts; the digest covers the Python, the steps, the environment and the
    content of each source file (relative to `tree`), so the cache cannot go stale silently."""
    digest = hashlib.sha256(f"python {python.chosen}\0network {network}\0".encode())
    for step in steps:
        digest.update(f"{step.name}\0{step.command}\0{step.optional}\0".encode())
    env = tuple(env)
    for key, value in env:
        digest.update(f"env {key}={value}\0".encode())
    for rel in sources:
        path = tree / rel
        digest.update(rel.encode() + b"\0" + (path.read_bytes() if path.is_file() else b"-") + b"\0")
    return EnvPlan(python, tuple(sources), tuple(steps), digest.hexdigest(), network, tuple(notes), env)


def venv_step(python: PythonChoice, network: bool = True) -> BuildStep:
    """The environment every later step installs into, with pytest (the runner most projects use,
    and the one a custom command falls back to). It does not see the base image's Debian packages:
    their old `importlib_metadata` breaks current setuptools. Offline, it has to see them instead
    (they are all there is)."""
    if not network:
        return BuildStep(
            "virtual environment",
            f"python3 -m venv --system-site-packages {VENV}",
            f"an environment of its own on {python.describe()}, offline: the base image's pytest",
        )
    return BuildStep(
        "virtual environment",
        f"python3 -m venv {VENV} && {PIP} install -q --upgrade 'pip<25' setuptools wheel pytest",
        f"an environment of its own on {python.describe()}; pip new enough for pyproject builds, "
        "below 25 so that legacy `setup.py develop` installs still work",
    )


def system_packages_step(packages: Sequence[str], why: str) -> BuildStep:
    """Debian packages installed with apt in the build container."""
    names = " ".join(shlex.quote(p) for p in packages)
    return BuildStep(
        "system packages",
        "apt-get update -q && DEBIAN_FRONTEND=noninteractive "
        f"apt-get install -y -q --no-install-recommends {names}",
        why,
    )


def requirements_step(files: Sequence[str]) -> BuildStep:
    """Install requirement files; a line that cannot install (an optional back-end with no wheel
    and missing headers, say) is skipped and logged rather than failing the whole environment.
    Each line is one quoted argument (`pylibmc; sys_platform != "win32"` holds spaces), without
    its comment; option lines (`-e .`, `-r other.txt`) are pip's own business in the first try."""
    parts = []
    for rel in files:
        q = shlex.quote(rel)
        parts.append(
            f"{{ {PIP} install -r {q} || grep -vE '^[[:space:]]*(#|-|$)' {q} | while read -r req; do "
            f'{PIP} install "${{req%%#*}}" || echo "swe-lsp: skipped requirement $req from {rel} '
            '(did not install)"; '
            "done; }"
        )
    return BuildStep(
        "requirements",
        " && ".join(parts),
        "the project's requirement files, as its CI installs them",
        optional=False,
    )


def build_backend(tree: Path) -> str:
    """The PEP 517 build backend pyproject.toml names (`mesonpy`, `setuptools.build_meta`), "" if none."""
    backend = read_pyproject(tree).get("build-system", {}).get("build-backend", "")
    return backend if isinstance(backend, str) else ""


def _build_requires(tree: Path) -> list[str]:
    """The requirements pyproject.toml's `[build-system]` lists for the project's build."""
    return [str(r) for r in read_pyproject(tree).get("build-system", {}).get("requires", [])]


def rebuilt_at_import(tree: Path) -> bool:
    """Whether the project's editable install builds again when it is imported (meson-python's:
    its loader runs the build's own `ninja` on the first import of each process, so a changed
    `.pyx` or `.c` is rebuilt, and a changed `.py` is read from the tree)."""
    return build_backend(tree) == "mesonpy"


def build_requirements_step(tree: Path) -> BuildStep:
    """The packages the project's build needs, installed into the environment itself (see
    `project_step`): its `[build-system] requires`, then what its backend asks for on top for an
    editable build (PEP 517's `get_requires_for_build_editable`, asked through pypa's `build`):
    meson-python asks for `ninja` there, which scikit-learn does not list."""
    names = " ".join(shlex.quote(r) for r in [*_build_requires(tree), "build"])
    asked = 'import build; print(chr(10).join(build.ProjectBuilder(".").get_requires_for_build("editable")))'
    wanted = "/tmp/swe-lsp-build-requires.txt"
    return BuildStep(
        "build requirements",
        f"{PIP} install {names} && {VENV}/bin/python -c '{asked}' > {wanted} && {PIP} install -r {wanted}",
        "what the project's build needs, in the environment: its editable install builds again at "
        "each import, with these",
    )


def cython_step(tree: Path, compiled: Sequence[str]) -> BuildStep | None:
    """Cython in the environment of a setuptools project with Cython sources, so that a candidate's
    changed `.pyx` can be built again there (`rebuild_for`): the project's own build ran isolated
    and left none. The version its `[build-system] requires` asks for, only that package: its other
    build pins (an oldest-supported numpy) would replace what the tests run on. Optional: without
    it only such candidates fail to build. `compiled`: its extension sources (`_compiled_sources`)."""
    if rebuilt_at_import(tree) or not any(rel.endswith(".pyx") for rel in compiled):
        return None
    asked = [r for r in _build_requires(tree) if re.match(r"\s*cython\b", r, re.I)] or ["Cython"]
    return BuildStep(
        "cython",
        f"{PIP} install {' '.join(shlex.quote(r) for r in asked)}",
        "Cython in the environment: a candidate's changed .pyx is built again there",
        optional=True,
    )


@dataclass(frozen=True)
class Rebuild:
    """How a session builds a setuptools project's extensions again (`rebuild_for`): the command,
    and what the build must be told (the version of a project that reads it from git, which the
    copy has no `.git` for: `scm_version_env`)."""

    argv: tuple[str, ...]
    env: dict[str, str]


def rebuild_for(tree: Path, changed: Iterable[str]) -> Rebuild | None:
    """The build of a setuptools project's extensions again in place, for a session whose candidate
    changed their sources (`changed`: its files), else None. The environment built them once from
    the sources of then, and nothing builds them at import: without this the candidate's tests
    would run the extension it replaced. meson-python projects need none (their import rebuilds,
    `rebuilt_at_import`). Run by the session's `python3`, the environment's."""
    if not (tree / "setup.py").is_file() or rebuilt_at_import(tree):
        return None
    patterns = [p for p in _EXTENSION_SOURCES if p != "meson.build"]
    if not any(fnmatch.fnmatch(PurePosixPath(rel).name, p) for rel in changed for p in patterns):
        return None
    if _compiled_sources(tree) is None:
        return None
    told = scm_version_env(tree)
    return Rebuild(("python3", "setup.py", "build_ext", "--inplace"), dict([told[0]]) if told else {})


def project_step(tree: Path, extras: Sequence[str]) -> BuildStep:
    """`pip install -e .[extras]`: runs the project's own build, so computed dependencies, entry
    points and compiled extensions exist, and the tree stays importable from /workspace.

    Built the PEP 517 way first, in an isolated environment with a current setuptools: a project's
    pinned requirements (e.g. an old `packaging`) can break the current setuptools in the project's
    environment, and the isolated build does not see them. Old `numpy.distutils` builds need the
    legacy `setup.py develop` in the environment itself: that is the fallback.

    A project whose editable install builds again at import (`rebuilt_at_import`: meson-python's,
    scikit-learn's, numpy's, matplotlib's since 3.9) is built without isolation, on the build
    requirements installed before it (`build_requirements_step`): its loader runs the `ninja` and
    `meson` of the environment it was built in, and an isolated one is deleted after the install,
    so every later import would fail."""
    target = shlex.quote("." + (f"[{','.join(extras)}]" if extras else ""))
    if rebuilt_at_import(tree):
        return BuildStep(
            "project",
            f"{PIP} install --no-build-isolation -e {target}",
            "the project itself, editable, built in the environment (its imports rebuild it there)",
        )
    return BuildStep(
        "project",
        f"{PIP} install --use-pep517 -e {target} || {PIP} install --no-use-pep517 -e {target}",
        "the project itself, editable: its setup computes its dependencies and builds its extensions",
    )


def plan_environment(
    tree: Path,
    python: str | None = None,
    system_packages: Sequence[str] = (),
    network: bool = True,
) -> EnvPlan:
    """The plan for a workspace from its own files. `python` overrides the detected version
    (the `sandbox.python` setting); `system_packages` adds Debian packages (`sandbox.system_packages`)."""
    choice = choose_python(tree, python, "sandbox.python in the settings")
    steps = [venv_step(choice, network)]
    sources: list[str] = [
        name for name in ("setup.py", "setup.cfg", "pyproject.toml") if (tree / name).is_file()
    ]
    notes: list[str] = []
    if choice.note:
        notes.append(choice.note)
    compiled = _compiled_sources(tree)
    apt = list(system_packages)
    if compiled is not None:
        apt = [*BUILD_PACKAGES, *(p for p in apt if p not in BUILD_PACKAGES)]
    if apt:
        why = "compilers and headers for its extensions" if compiled else "sandbox.system_packages"
        steps.insert(0, system_packages_step(apt, why))
    files = requirement_files(tree)
    if files:
        steps.append(requirements_step(files))
        sources.extend(files)
    installable = any(name in sources for name in ("setup.py", "pyproject.toml"))
    env: list[tuple[str, str]] = []
    if installable:
        if rebuilt_at_import(tree):
            steps.append(build_requirements_step(tree))
        steps.append(project_step(tree, extras_for_tests(tree)))
        sources.extend(compiled or ())
        cython = cython_step(tree, compiled) if compiled is not None else None
        if cython is not None:
            steps.append(cython)
        told = scm_version_env(tree)
        if told is not None:
            env.append(told[0])
            notes.append(told[1])
    elif not files:
        notes.append("no dependency files: the tests run with the base image's packages only")
    if not network:
        notes.append("sandbox.build_network is off: the build can only use what the base image has")
    return make_plan(tree, choice, steps, sources, network, notes, env)


def scm_version_env(tree: Path) -> tuple[tuple[str, str], str] | None:
    """The version a project that reads its own from git (setuptools-scm, hatch-vcs) is told in the
    build container, which has no `.git` (pytest's build fails there without it), as the variable
    setuptools-scm reads and a note for the plan; None when the project does not.

    The version is the release the workspace's generated version module names (the snapshot carries
    it: `swe_lsp.generated`), else the `fallback_version` the project declares for a tree without
    git (setuptools-scm uses it itself: nothing is told), else 0.0.0. It is told for the project's
    own distribution only (`SETUPTOOLS_SCM_PRETEND_VERSION_FOR_PYTEST`): the plain variable would
    also version every dependency the same step builds from an sdist."""
    settings = scm_settings(tree)
    written = written_version(tree)
    if settings is None or (written is None and settings.get("fallback_version")):
        return None
    version = written or "0.0.0"
    name = distribution_name(tree)
    key = "SETUPTOOLS_SCM_PRETEND_VERSION"
    if name:
        key += "_FOR_" + re.sub(r"[-.]", "_", name).upper()
    whence = (
        f"the release its version module names ({', '.join(version_files(tree))})"
        if written
        else "no version module in the workspace: install the project there once to have its own"
    )
    note = f"the build has no git metadata: the project's version is given as {version} ({whence})"
    if not name:
        note += "; its name is not in its packaging files, so every package this build makes gets it"
    return (key, version), note


def requirement_files(tree: Path) -> list[str]:
    """Requirement files for the tests and the base install, relative to `tree`."""
    found = [p.name for p in sorted(tree.glob("requirements*.txt")) if "doc" not in p.name]
    for folder in _REQUIREMENT_DIRS:
        for path in sorted((tree / folder).glob("*.txt")):
            if _REQUIREMENT_NAMES.match(path.name) and "doc" not in path.name:
                found.append(path.relative_to(tree).as_posix())
    return found


def extras_for_tests(tree: Path) -> list[str]:
    """The optional-dependency groups of TEST_EXTRAS the project defines (pyproject or setup.cfg,
    or a literal `extras_require` in setup.py)."""
    names: set[str] = set(read_pyproject(tree).get("project", {}).get("optional-dependencies", {}))
    for path in (tree / "setup.cfg", tree / "setup.py"):
        if path.is_file():
            text = path.read_text(errors="replace")
            names |= {
                e for e in TEST_EXTRAS if re.search(rf"""(^|['"\s]){e}(['"\s]*[:=])""", text, re.MULTILINE)
            }
    return [e for e in TEST_EXTRAS if e in names]


def _compiled_sources(tree: Path) -> list[str] | None:
    """The extension sources of a project that builds compiled extensions (None when it builds
    none). They are part of the cache key: the image holds the built extensions, which a change to
    them invalidates."""
    setup = tree / "setup.py"
    text = setup.read_text(errors="replace") if setup.is_file() else ""
    pyproject = tree / "pyproject.toml"
    if pyproject.is_file():
        text += pyproject.read_text(errors="replace")
    native = build_backend(tree) in _NATIVE_BACKENDS
    if not native and not _EXTENSION_MARKERS.search(text) and "cython" not in text.lower():
        return None
    found: list[str] = []
    for pattern in _EXTENSION_SOURCES:
        for path in tree.rglob(pattern):
            rel = path.relative_to(tree)
            if not any(part.startswith(".") or part in ("build", "node_modules") for part in rel.parts):
                found.append(rel.as_posix())
    return sorted(found)
