"""SWE-bench fidelity: the harness's own specs, test commands and grading, on the sandbox.

The SWE-bench harness (the `swebench` package, 4.x) keeps one installation spec per repository
version (`MAP_REPO_VERSION_TO_SPECS`: the Python, conda or pip packages, pre-install commands, the
install command, the test command) and one log parser per repository (`MAP_REPO_TO_PARSER`).
Gold patches pass in 99.78% of the environments it builds from them. This module translates a
spec into the sandbox's `EnvPlan` (`plan_for`), runs the harness's test command on the files the
test patch touches (`test_command`) and grades the log per test as the harness does (`grade`).

What cannot be done as the harness does it, and what is done instead (each plan's notes say so):
- no conda: the spec's Python is picked among those Debian offers offline (3.9, 3.11, 3.13; the
  nearest one otherwise), packages are installed with pip into the sandbox's virtual environment;
  a conda-only `environment.yml` is not installed (the spec's pip packages stand in for it);
- no downloads but PyPI and the Debian mirror: `wget` lines and the variables they use are
  dropped; matplotlib links the system's FreeType and Qhull instead of downloading its own;
- TeX (gigabytes) is not installed: tests that need it skip;
- requirement files are read from the instance's tree (its base commit), not fetched from GitHub
  at the environment-setup commit;
- a pin that cannot install on the fallback Python is replaced (`PIN_SUBSTITUTES`, each with why).

The build runs the harness's pre-install edits of the tree (`sed -i ...`), but the environment
image keeps no copy of the tree's files (see `swe_lsp.sandbox.env_layer`); the test command
applies those edits again in each session, so the tests run on the tree the harness runs them on
(sphinx's `tox.ini` gets its `-rA` there).

Instances of repositories the harness has no spec for (those `swe-train collect` reads from git)
run pytest on their listed test ids and are graded with the harness's pytest parser.

`swebench` is imported on first use: it is heavy (2 s) and only the `train` extra installs it.
"""

from __future__ import annotations

import functools
import posixpath
import re
import shlex
from dataclasses import dataclass
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from swe_lsp.sandbox.environment import (
    BUILD_PACKAGES,
    PIP,
    VENV,
    BuildStep,
    EnvPlan,
    make_plan,
    system_packages_step,
    venv_step,
)
from swe_lsp.sandbox.pythons import pick
from trainer.instances import DataError, Instance

# Repositories whose install compiles extensions, with the Debian libraries they link besides the
# compilers and headers of BUILD_PACKAGES.
COMPILED: dict[str, tuple[str, ...]] = {
    "scikit-learn/scikit-learn": (),
    "astropy/astropy": (),
    # FreeType and Qhull from Debian: matplotlib's build would download its own (see MPL_SETUP).
    # Ghostscript: its tests compare `[pdf]` and `[eps]` images by converting them with `gs` (the
    # harness's TeX packages bring it); without it those tests skip, and a skip is not a pass.
    "matplotlib/matplotlib": ("libfreetype6-dev", "libqhull-dev", "libpng-dev", "ghostscript"),
}
# matplotlib's build configuration: link the system's FreeType and Qhull (its default downloads
# them from sites the build container cannot reach). Read through MPLSETUPCFG by 3.1 and later.
MPL_SETUP = "/etc/swe-lsp/mplsetup.cfg"
MPL_SETUP_TEXT = r"[libs]\nsystem_freetype = true\nsystem_qhull = true\n"  # printf's escapes
# Debian packages left out of the harness's apt lines: (prefix, why).
APT_DROPPED: tuple[tuple[str, str], ...] = (
    ("texlive", "TeX is gigabytes; the tests that need it skip without it"),
    ("cm-super", "TeX fonts; the tests that need them skip without TeX"),
    ("dvipng", "needs TeX; the tests that use it skip without it"),
)
# Commands of the harness's scripts that need a Debian package its base image has and ours lacks.
APT_FOR_COMMAND = {"locale-gen": "locales"}
# Requirements that cannot install or build on the Python the sandbox falls back to, by (the
# spec's Python, the one chosen, the spec's requirement): (the replacement, why). Only what real
# instances were seen to need when their environments were built.
PIN_SUBSTITUTES: dict[tuple[str, str, str], tuple[str, str]] = {
    ("3.6", "3.9", "numpy==1.19.2"): ("numpy==1.19.5", "1.19.5 is the first 1.19 with wheels for 3.9"),
    ("3.6", "3.9", "scipy==1.5.2"): ("scipy==1.5.4", "1.5.4 is the first 1.5 with wheels for 3.9"),
    ("3.6", "3.9", "setuptools"): (
        "setuptools<60",
        "the harness's 3.6 environments got setuptools 59.6, the last for 3.6; later ones reject "
        "numpy.distutils builds (scikit-learn 0.2x: 'Multiple top-level packages discovered')",
    ),
    ("3.6", "3.9", "MarkupSafe==1.0"): (
        "MarkupSafe==1.1.1",
        "1.0's setup.py imports setuptools.Feature, gone since setuptools 46 (which pip's isolated "
        "build gets); 1.1.1 has the same API and builds (astropy 1.3)",
    ),
    ("3.6", "3.9", "numpy==1.16.0"): (
        "numpy==1.19.5",
        "1.16 has no wheels for 3.9 and does not build there; 1.19.5 is the oldest that installs "
        "(astropy 1.3)",
    ),
    ("3.6", "3.9", "cython==0.27.3"): (
        "cython==0.29.36",
        "Cython before 0.29.21 writes C that does not compile on 3.9 (tp_print is gone); 0.29.36 is "
        "the last 0.29 (astropy 1.3)",
    ),
    ("3.6", "3.9", "cython"): (
        "cython<3",
        "Cython 3 cannot build scikit-learn 0.2x (\"Cannot assign type 'double' to 'ITYPE_t'\"); "
        "the harness's 3.6 environments had Cython 0.29",
    ),
}
# Upper bounds on unpinned dependencies that moved on since the harness built its environments,
# by repository ("owner/name", or "owner/name@version" for one version): (requirement, why).
# They go into a pip constraints file (`PIP_CONSTRAINT`), so every install of the build honours
# them, the project's own `pip install -e .` included.
ERA_CONSTRAINTS: dict[str, tuple[tuple[str, str], ...]] = {
    "matplotlib/matplotlib@3.3": (
        (
            "setuptools_scm<8",
            "matplotlib 3.3's setup_requires takes any setuptools_scm, and the newest imports a "
            "`vcs_versioning` its isolated build does not have; 7.x is what the harness's specs pin",
        ),
        (
            "pyparsing<3",
            "matplotlib 3.3 calls pyparsing 2's camelCase API, which 3.x deprecates, and its tests "
            "turn warnings into errors (3.5 and later pin pyparsing 3.0.9 and use the new names)",
        ),
    ),
    "scikit-learn/scikit-learn": (
        (
            "pytest<8",
            "pytest 8 makes a yield test (scikit-learn 0.20-0.22 has some) a collection error that "
            "stops its whole module; the harness's pytest ignored them",
        ),
    ),
    "sphinx-doc/sphinx": (
        (
            "docutils<0.21",
            "Sphinx 3.x imports `roman` when `docutils.utils.roman` is gone (docutils 0.22 moved it); "
            "the harness's environments had docutils 0.20",
        ),
    ),
}
CONSTRAINTS_FILE = "/etc/swe-lsp/constraints.txt"
# The files a requirement line includes, and lines the harness leaves out of requirement files.
_INCLUDE = re.compile(r"^-r\s*(\S+)")
_EXCLUDED_REQUIREMENT = ("-e .", "#", ".[test")
_ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$")
_EXPORT = re.compile(r"^export\s+([A-Za-z_][A-Za-z0-9_]*)=(.*)$")
_DOWNLOAD = re.compile(r"\b(wget|curl)\b|https?://")
_SYSTEM_PATH = re.compile(r"(^|\s)/(etc|usr|opt|var|root|tmp)/")
_PYTHON_AT_START = re.compile(r"(^|[;&|]\s*)python3?(?=\s)")
# pytest's progress column ("[ 42%]"), which a whitespace-splitting log parser can store as an id.
_PROGRESS = re.compile(r"\[\s*\d{1,3}%\]")
# Instances without a spec: pytest on their ids, with the summary line per test the parser reads.
PYTEST_BY_ID = ("python3", "-m", "pytest", "-rA", "-p", "no:cacheprovider")
REQUIREMENTS_FILE = "/etc/swe-lsp/swebench-requirements.txt"
# What a graded test run keeps of its output (the sandbox's default keeps 64 kB, head and tail): a
# verbose runner's log of a whole test module must reach the parser whole, or its tests count failed.
LOG_BYTES = 8_000_000


@dataclass(frozen=True)
class Grade:
    """A test log graded as the SWE-bench harness grades it: per listed test whether it passed
    (a listed test the log does not show counts as failed), how many tests the log parser found,
    and `resolved`: every FAIL_TO_PASS and PASS_TO_PASS test passed."""

    resolved: bool
    fail_to_pass: dict[str, bool]
    pass_to_pass: dict[str, bool]
    parsed: int

    @property
    def failed(self) -> list[str]:
        """The listed tests that did not pass, FAIL_TO_PASS first."""
        return [t for t, ok in (*self.fail_to_pass.items(), *self.pass_to_pass.items()) if not ok]


@functools.cache
def _harness() -> SimpleNamespace:
    """The parts of `swebench` used here, imported once."""
    try:
        from swebench.harness import constants, grading, log_parsers, utils
        from swebench.harness.test_spec import python as test_spec_python
        from swebench.harness.test_spec.test_spec import TestSpec
    except ImportError as exc:
        raise DataError(
            f"the SWE-bench harness is not installed ({exc}): pip install 'swe-lsp[train]'"
        ) from None
    return SimpleNamespace(
        specs=constants.MAP_REPO_VERSION_TO_SPECS,
        reqs_paths=constants.MAP_REPO_TO_REQS_PATHS,
        constants=constants,
        grading=grading,
        parsers=log_parsers.MAP_REPO_TO_PARSER,
        pytest_parser=log_parsers.MAP_REPO_TO_PARSER["pytest-dev/pytest"],
        directives=test_spec_python.get_test_directives,
        clean_requirements=test_spec_python.clean_requirements,
        TestSpec=TestSpec,
        ansi_escape=utils.ansi_escape,
    )


def has_spec(inst: Instance) -> bool:
    """Whether `inst` is of a repository the harness has specs for (its version may still lack one:
    `spec_for` says so)."""
    return inst.repo in _harness().specs


def spec_for(inst: Instance) -> dict[str, Any]:
    """The harness's installation spec of `inst.repo` at `inst.version` (a copy)."""
    specs = _harness().specs
    if inst.repo not in specs:
        raise DataError(f"{inst.instance_id}: the SWE-bench harness has no specs for {inst.repo}")
    versions = specs[inst.repo]
    if inst.version not in versions:
        known = ", ".join(sorted(versions))
        raise DataError(
            f"{inst.instance_id}: the SWE-bench harness has no spec for {inst.repo} version "
            f"{inst.version or '(none given)'}; it knows {known}"
        )
    return dict(versions[inst.version])


def plan_for(inst: Instance, tree: Path) -> EnvPlan:
    """The spec of `inst` translated into the sandbox's environment plan for `tree` (its base
    commit): see the module docstring for what differs from the harness, and the plan's notes."""
    spec = spec_for(inst)
    choice = pick(str(spec["python"]), f"the SWE-bench spec of {inst.repo} {inst.version}")
    notes = [choice.note] if choice.note else []
    apt: list[str] = []
    if inst.repo in COMPILED:
        apt += [*BUILD_PACKAGES, *COMPILED[inst.repo]]
    system, tree_edits = _pre_install(spec.get("pre_install", []), apt, notes)
    env: list[tuple[str, str]] = []
    for line in spec.get("eval_commands", []):
        export = _EXPORT.match(line.strip())
        if export:
            env.append((export[1], _unquote(export[2])))
        else:
            system.append(line)
            _needs_packages(line, apt)
    sources = [name for name in ("setup.py", "setup.cfg", "pyproject.toml") if (tree / name).is_file()]
    if _uses_setuptools_scm(tree, sources):
        # setuptools-scm reads the version from git, and the sandbox's copy of the tree has no .git.
        env.append(("SETUPTOOLS_SCM_PRETEND_VERSION", _release(inst.version)))
        notes.append("no git metadata in the sandbox: setuptools-scm is told the spec's version")
    steps: list[BuildStep] = []
    if apt:
        steps.append(system_packages_step(list(dict.fromkeys(apt)), "the harness's system packages"))
    steps.append(venv_step(choice))
    steps += [BuildStep("system setup", line, "the harness's setup of the system") for line in system]
    packages = str(spec.get("packages", "")).strip()
    pip_requirements: list[str] = []
    if packages == "requirements.txt":
        files, text = _requirements(inst, tree)
        sources += files
        command = f"mkdir -p {REQUIREMENTS_FILE.rsplit('/', 1)[0]} && printf '%s\\n' "
        command += " ".join(shlex.quote(line) for line in text.splitlines() if line.strip())
        command += f" > {REQUIREMENTS_FILE} && {_requirements_install(REQUIREMENTS_FILE)}"
        steps.append(BuildStep("requirements", command, f"the harness's requirements: {', '.join(files)}"))
    elif packages == "environment.yml":
        notes.append("the spec's conda environment.yml needs conda: its pip packages stand in")
    elif packages:
        pip_requirements += shlex.split(packages)  # conda packages of the spec: the same names on PyPI
    pip_requirements += list(spec.get("pip_packages", []))
    if pip_requirements:
        pins = _substitute(pip_requirements, str(spec["python"]), choice.chosen, notes)
        steps.append(
            BuildStep(
                "packages",
                f"{PIP} install {' '.join(shlex.quote(p) for p in pins)}",
                "the spec's packages, in one resolution",
            )
        )
    steps += [
        BuildStep("pre-install", line, "the harness's pre-install edit of the tree") for line in tree_edits
    ]
    era = (*ERA_CONSTRAINTS.get(inst.repo, ()), *ERA_CONSTRAINTS.get(f"{inst.repo}@{inst.version}", ()))
    if era:
        text = "".join(f"{req}\n" for req, _ in era)
        env.append(("PIP_CONSTRAINT", CONSTRAINTS_FILE))
        steps.insert(
            0,
            BuildStep(
                "constraints",
                f"mkdir -p /etc/swe-lsp && printf %s {shlex.quote(text)} > {CONSTRAINTS_FILE}",
                "upper bounds on dependencies that changed since the harness's environments",
            ),
        )
        notes += [f"{req}: {why}" for req, why in era]
    if inst.repo == "matplotlib/matplotlib":
        env.append(("MPLSETUPCFG", MPL_SETUP))
        steps.append(
            BuildStep(
                "build configuration",
                f"mkdir -p /etc/swe-lsp && printf {shlex.quote(MPL_SETUP_TEXT)} > {MPL_SETUP}",
                "link the system's FreeType and Qhull (the build's own downloads cannot be reached)",
            )
        )
        notes.append(
            "matplotlib is built with Debian's FreeType and Qhull, not the FreeType 2.6.1 it downloads "
            "for the harness: image comparisons that render text may differ"
        )
    if inst.repo in COMPILED:
        sources += _extension_sources(tree)
    if spec.get("install"):
        steps.append(
            BuildStep("install", _venv_python(str(spec["install"])), "the spec's install of the project")
        )
    return make_plan(tree, choice, steps, sources, notes=list(dict.fromkeys(notes)), env=env)


def test_command(inst: Instance) -> tuple[str, ...]:
    """The harness's test command for `inst`: its spec's `test_cmd` on the test files its test patch
    touches (the harness's `get_test_directives`), as an argv run in the tree's root; `sh -c` when
    the command needs a shell (environment assignments, the spec's edits of the tree to redo).
    () when there is nothing to run. Without a spec: pytest on the listed test ids."""
    if not has_spec(inst):
        ids = _pytest_selectors(_listed(inst.FAIL_TO_PASS) + _listed(inst.PASS_TO_PASS))
        return (*PYTEST_BY_ID, *ids) if ids else ()
    if not (inst.FAIL_TO_PASS or inst.PASS_TO_PASS):
        return ()
    directives = test_directives(inst)
    return _spec_command(inst, directives) if directives else ()


def _spec_command(inst: Instance, selection: list[str]) -> tuple[str, ...]:
    """The spec's `test_cmd` of `inst` on `selection` (its arguments after the command)."""
    cmd = _spec_test_cmd(inst)
    _, edits = _pre_install(spec_for(inst).get("pre_install", []), [], [])
    words = shlex.split(cmd)
    if not edits and not _ASSIGNMENT.match(words[0]) and "&&" not in words:
        return (*words, *selection)
    return ("sh", "-c", " && ".join([*edits, f"{cmd} {shlex.join(selection)}"]))


def _spec_test_cmd(inst: Instance) -> str:
    cmd = spec_for(inst)["test_cmd"]
    return " && ".join(cmd) if isinstance(cmd, list) else str(cmd)


def fail_to_pass_command(inst: Instance) -> tuple[str, ...]:
    """The harness's test command narrowed to the FAIL_TO_PASS tests: what a reproduction written
    from the instance's failing tests runs. A test of the same files that fails before and after
    the fix (or the environment cannot pass) says nothing about the issue and must not keep the
    reproduction failing. Narrowed where the runner selects tests:
    - pytest, and tox whose arguments after `--` go to pytest (Sphinx): the test ids;
    - SymPy's `bin/test`: its files, and `-k` with the test names (a name matches as a substring,
      the runner's only selection; `-k` takes every later word, so it comes last);
    - Django's `runtests.py` selects by label: the whole command (its listed ids are often the
      tests' docstrings, not labels)."""
    argv = test_command(inst)
    ids = _pytest_selectors(_listed(inst.FAIL_TO_PASS))
    if not argv or not ids:
        return argv
    if not has_spec(inst):
        return (*PYTEST_BY_ID, *ids)
    words = shlex.split(_spec_test_cmd(inst))
    if "bin/test" in words and all(i.isidentifier() for i in ids):
        return _spec_command(inst, [*test_directives(inst), "-k", *ids])
    if any("pytest" in w for w in words) or (words[0] == "tox" and words[-1] == "--"):
        return _spec_command(inst, ids)
    return argv


def test_directives(inst: Instance) -> list[str]:
    """The test files (Django: test labels) the harness runs for `inst`: those its test patch
    touches (`get_test_directives`)."""
    return list(_harness().directives({"repo": inst.repo, "test_patch": inst.test_patch}))


test_directives.__test__ = False  # type: ignore[attr-defined]  # not a test, for pytest
test_command.__test__ = False  # type: ignore[attr-defined]  # not a test, for pytest, despite its name


def grade(inst: Instance, log: str) -> Grade:
    """The test log of `inst` graded per test with its repository's log parser and the harness's
    `get_eval_tests_report` / `get_resolution_status`. Listed ids that are log-parser junk
    (`clean_test_id` gives None) are no tests and are left out."""
    h = _harness()
    parser = h.parsers.get(inst.repo, h.pytest_parser)
    f2p, p2p = _listed(inst.FAIL_TO_PASS), _listed(inst.PASS_TO_PASS)
    spec = h.TestSpec(
        instance_id=inst.instance_id,
        repo=inst.repo,
        version=inst.version,
        repo_script_list=[],
        eval_script_list=[],
        env_script_list=[],
        arch="x86_64",
        FAIL_TO_PASS=f2p,
        PASS_TO_PASS=p2p,
        language="py",
        docker_specs={},
        namespace=None,
    )
    log = h.ansi_escape(log)  # tox colours pytest's lines; the harness's logs had no colours
    status = parser(_one_line_descriptions(log) if inst.repo == "django/django" else log, spec)
    status = _with_cut_ids(status, [*f2p, *p2p])
    c = h.constants
    eval_type = c.EvalType.FAIL_ONLY if inst.repo in c.FAIL_ONLY_REPOS else c.EvalType.PASS_AND_FAIL
    report = h.grading.get_eval_tests_report(
        status, {c.FAIL_TO_PASS: f2p, c.PASS_TO_PASS: p2p}, eval_type=eval_type
    )
    resolved = h.grading.get_resolution_status(report) == c.ResolvedStatus.FULL.value
    passed = set(report[c.FAIL_TO_PASS]["success"]) | set(report[c.PASS_TO_PASS]["success"])
    return Grade(resolved, {t: t in passed for t in f2p}, {t: t in passed for t in p2p}, len(status))


def _with_cut_ids(status: dict[str, str], listed: list[str]) -> dict[str, str]:
    """`status` with a status for each listed parametrized id that the dataset's log parser cut at
    a space (`test_x[cliapp.factory`): the harness's own log cut it the same way, so it matched
    there; here pytest may print the parameters differently (another pytest, another Python), so
    the cut id stands for every parsed test it prefixes, and passes only when all of them pass."""
    out = dict(status)
    for test in listed:
        if test in status or "[" not in test or test.endswith("]"):
            continue
        matches = [s for t, s in status.items() if t.startswith(test)]
        if matches:
            passed = all(s in ("PASSED", "XFAIL") for s in matches)
            out[test] = "PASSED" if passed else "FAILED"
    return out


_DJANGO_TEST = re.compile(r"^(test\w* \([\w.]+\))\n([^\n]*? \.\.\. )([^\n]*)$", re.MULTILINE)


def _one_line_descriptions(log: str) -> str:
    """Django's verbose runner prints a test with a docstring on two lines, the id then the
    docstring's first line with the status (`test_x (a.tests.B)` / `Doc line. ... ok`). The
    harness's Python 3.6 took that first line from the docstring's first raw line, which is empty
    for the usual docstrings that open with a line break, so its logs (and the instances' test
    lists) name those tests by id; on 3.7+ (what can be had here) the docstring is printed. Each
    such pair gets the one line 3.6 printed beside it, since which docstrings opened with a line
    break cannot be told from the log: both namings are then graded as the harness would."""
    return _DJANGO_TEST.sub(lambda m: f"{m[1]} ... {m[3]}\n{m[2]}{m[3]}", log)


def clean_test_id(test_id: str) -> str | None:
    """A listed test id without log-parser junk: pytest's progress column (`[100%]`) and the
    separator dashes around it go; None when nothing of a test is left (`[`, `[100%]---`)."""
    cleaned = _PROGRESS.sub("", test_id).strip().strip("-=").strip()
    return cleaned if re.search(r"\w", cleaned) else None


def _listed(ids: tuple[str, ...]) -> list[str]:
    """The cleaned ids, in order, without repeats or junk."""
    return list(dict.fromkeys(c for c in map(clean_test_id, ids) if c))


def _pytest_selectors(ids: list[str]) -> list[str]:
    """Ids pytest can select. A whitespace-splitting log parser stores a parametrized id with a
    space in its parameters cut (`test_x[a b]` as `test_x[a`); pytest rejects it and then runs
    nothing, so it is widened to its test function, all parameters included."""
    return list(dict.fromkeys(t.split("[", 1)[0] if "[" in t and not t.endswith("]") else t for t in ids))


def _pre_install(lines: list[str], apt: list[str], notes: list[str]) -> tuple[list[str], list[str]]:
    """Split the spec's pre-install lines into system commands and edits of the tree; apt installs
    go to `apt` (minus APT_DROPPED), downloads are dropped; `notes` says what was left out."""
    system: list[str] = []
    edits: list[str] = []
    download_vars: set[str] = set()
    for line in lines:
        text = line.strip()
        assignment = _ASSIGNMENT.match(text)
        if assignment:  # each build step is a shell of its own: a bare assignment reaches no later line
            download_vars.add(assignment[1])
            continue
        if _DOWNLOAD.search(text) or any(f"${v}" in text or f"${{{v}}}" in text for v in download_vars):
            notes.append(f"dropped (downloads from outside PyPI and Debian cannot be reached): {text}")
            continue
        rest = []
        for part in (p.strip() for p in text.split("&&")):
            try:
                words = [w for w in shlex.split(part) if not _ASSIGNMENT.match(w)]
            except ValueError:  # unbalanced quotes: not an apt line, kept as it is
                words = []
            if words[:1] == ["apt-get"]:
                if "install" in words:
                    _apt_install(
                        [w for w in words[words.index("install") + 1 :] if not w.startswith("-")], apt, notes
                    )
                elif "upgrade" in words:
                    notes.append("dropped: apt-get upgrade (the base image is current)")
                continue  # `update` is part of the system packages step
            if part:
                rest.append(part)
        if not rest:
            continue
        command = " && ".join(rest)
        _needs_packages(command, apt)
        if re.search(r"\bsed\s+-i\b", command) and not _SYSTEM_PATH.search(command):
            edits.append(command)
        else:
            system.append(command)
    return system, edits


def _apt_install(packages: list[str], apt: list[str], notes: list[str]) -> None:
    for package in packages:
        why = next((w for prefix, w in APT_DROPPED if package.startswith(prefix)), None)
        if why:
            notes.append(f"dropped apt package {package}: {why}")
        elif package not in apt:
            apt.append(package)


def _needs_packages(command: str, apt: list[str]) -> None:
    for word, package in APT_FOR_COMMAND.items():
        if re.search(rf"\b{re.escape(word)}\b", command) and package not in apt:
            apt.append(package)


def _requirements(inst: Instance, tree: Path) -> tuple[list[str], str]:
    """The harness's requirements of `inst` from the tree: the first of its repository's
    requirement paths that exists, `-r` includes inlined, `-e .` and comment lines left out, then
    cleaned with the harness's `clean_requirements`. (The files read, the text.)"""
    h = _harness()
    candidates = h.reqs_paths.get(inst.repo, [])
    for rel in candidates:
        path = tree / rel
        if not path.is_file():
            continue
        files, included, own = [rel], [], []
        folder = posixpath.dirname(rel)
        for line in path.read_text(errors="replace").splitlines():
            include = _INCLUDE.match(line.strip())
            if include:
                sub = posixpath.normpath(posixpath.join(folder, include[1]))
                if (tree / sub).is_file():
                    files.append(sub)
                    included += [x for x in (tree / sub).read_text(errors="replace").splitlines() if _kept(x)]
            elif _kept(line):
                own.append(line)
        return files, h.clean_requirements("\n".join([*included, *own]))
    raise DataError(f"{inst.instance_id}: none of the harness's requirement files exists: {candidates}")


def _requirements_install(path: str) -> str:
    """pip on the whole file, as the harness installs it; where that fails (a line with no wheel
    for the fallback Python, say), line by line, skipping (and logging) the lines that fail."""
    skipped = 'echo "swe-lsp: skipped requirement $req (did not install)"'
    return (
        f"{{ {PIP} install -r {path} || while IFS= read -r req; do "
        f'{PIP} install "$req" || {skipped}; done < {path}; }}'
    )


def _kept(line: str) -> bool:
    return not line.strip().startswith(_EXCLUDED_REQUIREMENT)


def _substitute(requirements: list[str], wanted: str, chosen: str, notes: list[str]) -> list[str]:
    out = []
    for req in requirements:
        new, why = PIN_SUBSTITUTES.get((wanted, chosen, req), (req, ""))
        if new != req:
            notes.append(f"{req} -> {new} on Python {chosen}: {why}")
        out.append(new)
    return list(dict.fromkeys(out))


def _venv_python(command: str) -> str:
    """A spec command with `python` (and so `python -m pip`) as the sandbox environment's."""
    return _PYTHON_AT_START.sub(lambda m: f"{m[1]}{VENV}/bin/python", command)


def _uses_setuptools_scm(tree: Path, names: list[str]) -> bool:
    return any(re.search(r"setuptools[_-]scm", (tree / name).read_text(errors="replace")) for name in names)


def _release(version: str) -> str:
    """A PEP 440 release from a spec version ("v5.3" -> "5.3.0")."""
    parts = re.findall(r"\d+", version) or ["0"]
    return ".".join([*parts, "0", "0"][:3])


def _extension_sources(tree: Path) -> list[str]:
    """The extension sources of a compiled repository: the image holds what they built, so they
    are part of its cache key."""
    found = []
    for pattern in ("*.pyx", "*.pxd", "*.pxi", "*.c", "*.cpp", "*.h"):
        for path in tree.rglob(pattern):
            rel = path.relative_to(tree)
            if not any(part.startswith(".") or part == "build" for part in rel.parts):
                found.append(rel.as_posix())
    return sorted(found)


def _unquote(value: str) -> str:
    words = shlex.split(value)
    return words[0] if len(words) == 1 else value
