"""The SWE-bench harness's specs as sandbox plans, its test commands, and its grading per test
(`trainer.swebench_env`), on small trees and short logs in the harness's formats. No Docker."""

from __future__ import annotations

from pathlib import Path

import pytest

from swe_lsp.sandbox.environment import PIP, VENV, EnvPlan
from swe_lsp.sandbox.local_sandbox import LocalSandbox
from swe_lsp.settings import SandboxSettings
from trainer.instances import DataError, Instance
from trainer.runs import Runner, all_tests_pass, pin_environment
from trainer.swebench_env import clean_test_id, fail_to_pass_command, grade, plan_for, spec_for
from trainer.swebench_env import test_command as command_of


def _inst(repo: str, version: str, test_patch: str = "", f2p: tuple[str, ...] = (), p2p=()) -> Instance:
    return Instance(
        f"{repo.replace('/', '__')}-1",
        repo,
        "c0ffee",
        "issue",
        "patch",
        test_patch=test_patch,
        FAIL_TO_PASS=f2p,
        PASS_TO_PASS=tuple(p2p),
        version=version,
    )


def _diff(*paths: str) -> str:
    return "".join(f"diff --git a/{p} b/{p}\n--- a/{p}\n+++ b/{p}\n@@ -1 +1 @@\n-a\n+b\n" for p in paths)


def _tree(root: Path, files: dict[str, str]) -> Path:
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def _steps(plan: EnvPlan) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for step in plan.steps:
        out.setdefault(step.name, []).append(step.command)
    return out


def test_spec_for_reads_the_harness_table_and_names_what_is_missing() -> None:
    assert spec_for(_inst("django/django", "3.0"))["python"] == "3.6"
    with pytest.raises(DataError, match=r"no spec for django/django version 0\.1; it knows .*3\.0"):
        spec_for(_inst("django/django", "0.1"))
    with pytest.raises(DataError, match="no specs for me/mine"):
        spec_for(_inst("me/mine", "1.0"))


def test_django_3_0_falls_back_to_3_9_with_its_locale_and_requirements(tmp_path: Path) -> None:
    tree = _tree(
        tmp_path,
        {
            "setup.py": "from setuptools import setup\nsetup()\n",
            "tests/requirements/py3.txt": "# a comment\nasgiref\npylibmc; sys.platform != 'win32'\n-e .\n",
        },
    )
    inst = _inst("django/django", "3.0", _diff("tests/model_fields/test_durationfield.py"), ("t (m.C)",))
    plan = plan_for(inst, tree)
    assert (plan.python.chosen, plan.python.wanted) == ("3.9", "3.6")
    assert any("3.6 cannot be had" in n for n in plan.notes)
    steps = _steps(plan)
    assert "locales" in steps["system packages"][0]  # locale-gen needs it; the harness's image has it
    assert steps["system setup"] == ["sed -i '/en_US.UTF-8/s/^# //g' /etc/locale.gen && locale-gen"]
    (requirements,) = steps["requirements"]
    assert "asgiref" in requirements and "pylibmc; sys.platform" in requirements
    assert "a comment" not in requirements and "'-e .'" not in requirements  # the harness leaves them out
    assert steps["install"] == [f"{PIP} install -e ."]
    assert dict(plan.env) == {"LANG": "en_US.UTF-8", "LANGUAGE": "en_US:en", "LC_ALL": "en_US.UTF-8"}
    assert "tests/requirements/py3.txt" in plan.sources
    assert command_of(inst) == (
        "./tests/runtests.py",
        "--verbosity",
        "2",
        "--settings=test_sqlite",
        "--parallel",
        "1",
        "model_fields.test_durationfield",
    )
    # The digest follows the requirement file: editing it builds a new image.
    (tree / "tests/requirements/py3.txt").write_text("asgiref==3.2\n")
    assert plan_for(inst, tree).digest != plan.digest


def test_requirement_includes_are_inlined_as_the_harness_does(tmp_path: Path) -> None:
    tree = _tree(
        tmp_path,
        {
            "setup.py": "",
            "requirements/dev.txt": "-r tests.txt\ntox==4.4.5\n    # via -r requirements/dev.in\n",
            "requirements/tests.txt": "pytest==7.2.1\n",
        },
    )
    plan = plan_for(_inst("pallets/flask", "2.3"), tree)
    assert plan.python.chosen == "3.11" and not plan.python.note
    (requirements,) = _steps(plan)["requirements"]
    assert "pytest==7.2.1 tox==4.4.5 >" in requirements
    assert plan.sources[-2:] == ("requirements/dev.txt", "requirements/tests.txt")
    assert "Werkzeug==2.3.7" in _steps(plan)["packages"][0]


def test_sympy_runs_bin_test_in_a_shell_for_its_warnings_setting(tmp_path: Path) -> None:
    tree = _tree(tmp_path, {"setup.py": ""})
    inst = _inst("sympy/sympy", "1.1", _diff("sympy/core/tests/test_numbers.py"), ("test_mod",))
    assert command_of(inst) == (
        "sh",
        "-c",
        "PYTHONWARNINGS='ignore::UserWarning,ignore::SyntaxWarning' bin/test -C --verbose "
        "sympy/core/tests/test_numbers.py",
    )
    plan = plan_for(inst, tree)
    assert plan.python.chosen == "3.9" and "system packages" not in _steps(plan)
    assert _steps(plan)["packages"] == [f"{PIP} install mpmath flake8 mpmath==1.3.0 flake8-comprehensions"]


def test_scikit_learn_builds_its_extensions_with_compilers_and_3_9_pins(tmp_path: Path) -> None:
    tree = _tree(tmp_path, {"setup.py": "", "sklearn/_isotonic.pyx": "", "sklearn/__init__.py": ""})
    plan = plan_for(_inst("scikit-learn/scikit-learn", "0.22"), tree)
    assert plan.python.chosen == "3.9"
    (apt,) = _steps(plan)["system packages"]
    assert all(p in apt for p in ("build-essential", "python3-dev", "pkg-config"))
    assert _steps(plan)["install"] == [
        f"{VENV}/bin/python -m pip install -v --no-use-pep517 --no-build-isolation -e ."
    ]
    assert "sklearn/_isotonic.pyx" in plan.sources  # the image holds what it built
    # 3.6-era pins that have no wheel for 3.9 (or break its build) are replaced, each with why.
    (packages,) = _steps(plan)["packages"]
    assert "numpy==1.19.5" in packages and "numpy==1.19.2" not in packages
    assert "'setuptools<60'" in packages and "scipy==1.5.4" in packages
    assert any(n.startswith("numpy==1.19.2 -> numpy==1.19.5 on Python 3.9: ") for n in plan.notes)
    assert "numpy==1.19.2" in _steps(plan_for(_inst("scikit-learn/scikit-learn", "1.3"), tree))["packages"][0]


def test_sphinx_redoes_its_tree_edits_before_tox(tmp_path: Path) -> None:
    tree = _tree(tmp_path, {"setup.py": "", "tox.ini": "[testenv]\ncommands = pytest {posargs}\n"})
    inst = _inst(
        "sphinx-doc/sphinx", "3.4", _diff("tests/test_ext_autodoc.py"), ("tests/test_ext_autodoc.py::t",)
    )
    plan = plan_for(inst, tree)
    edits = _steps(plan)["pre-install"]
    assert edits[0] == "sed -i 's/pytest/pytest -rA/' tox.ini" and len(edits) > 5
    assert "tox-current-env==0.0.11" in _steps(plan)["packages"][0]
    shell, flag, line = command_of(inst)
    assert (shell, flag) == ("sh", "-c")
    # The image keeps no copy of the tree: each session's copy gets the edits again, then tox.
    assert line.startswith("sed -i 's/pytest/pytest -rA/' tox.ini && ")
    assert line.endswith(" && tox --current-env -epy39 -v -- tests/test_ext_autodoc.py")
    # docutils moved on since the harness built its environments: every pip install is bounded.
    assert plan.steps[0].name == "constraints" and "docutils<0.21" in plan.steps[0].command
    assert ("PIP_CONSTRAINT", "/etc/swe-lsp/constraints.txt") in plan.env


def test_grading_reads_through_colours(tmp_path: Path) -> None:
    inst = _inst("sphinx-doc/sphinx", "3.4", f2p=("tests/test_a.py::test_x",))
    log = "\x1b[32mPASSED\x1b[0m tests/test_a.py::\x1b[1mtest_x\x1b[0m\n"
    assert grade(inst, log).resolved


def test_matplotlib_drops_conda_tex_and_downloads_and_links_system_libraries(tmp_path: Path) -> None:
    tree = _tree(tmp_path, {"setup.py": "setup(use_scm_version=True, setup_requires=['setuptools_scm'])\n"})
    plan = plan_for(_inst("matplotlib/matplotlib", "3.6"), tree)
    (apt,) = _steps(plan)["system packages"]
    assert all(p in apt for p in ("libfreetype6-dev", "libqhull-dev", "imagemagick", "ffmpeg"))
    assert (
        "texlive" not in apt and "dvipng" not in apt and "wget" not in " ".join(c.command for c in plan.steps)
    )
    notes = "\n".join(plan.notes)
    assert "environment.yml needs conda" in notes
    assert "dropped apt package texlive-xetex" in notes and 'wget -O "$QHULL_TAR"' in notes
    assert dict(plan.env)["MPLSETUPCFG"] == "/etc/swe-lsp/mplsetup.cfg"
    assert dict(plan.env)["SETUPTOOLS_SCM_PRETEND_VERSION"] == "3.6.0"  # no .git in the sandbox
    assert "system_qhull = true" in _steps(plan)["build configuration"][0]


PYTEST_LOG = """============================= test session starts ==============================
collected 4 items

testing/test_x.py .F.s                                                   [100%]

=========================== short test summary info ============================
PASSED testing/test_x.py::test_a
PASSED testing/test_x.py::test_p[a b]
FAILED testing/test_x.py::test_b - AssertionError: assert 1 == 2
SKIPPED [1] testing/test_x.py:9: no network
==================== 1 failed, 2 passed, 1 skipped in 0.12s ====================
"""


def test_grade_pytest_per_test_with_junk_left_out_and_missing_tests_failed() -> None:
    inst = _inst(
        "pytest-dev/pytest",
        "4.4",
        f2p=("testing/test_x.py::test_b",),
        p2p=("testing/test_x.py::test_a", "testing/test_x.py::test_p[a", "[100%]", "["),
    )
    verdict = grade(inst, PYTEST_LOG)
    # Four: the parser also takes `SKIPPED [1] ...` for a test named "[1]", the kind of junk the
    # data's id lists hold ("[100%]"), which `clean_test_id` leaves out of the lists.
    assert not verdict.resolved and verdict.parsed == 4
    assert verdict.fail_to_pass == {"testing/test_x.py::test_b": False}
    # The cut parametrized id is what the harness's parser makes of the line: it passes.
    assert verdict.pass_to_pass == {"testing/test_x.py::test_a": True, "testing/test_x.py::test_p[a": True}
    passing = PYTEST_LOG.replace(
        "FAILED testing/test_x.py::test_b - AssertionError: assert 1 == 2", "PASSED testing/test_x.py::test_b"
    )
    fixed = grade(inst, passing)
    assert fixed.resolved and fixed.failed == []
    absent = grade(_inst("pytest-dev/pytest", "4.4", f2p=("testing/test_x.py::test_gone",)), PYTEST_LOG)
    assert not absent.resolved and absent.failed == ["testing/test_x.py::test_gone"]


DJANGO_LOG = """Testing against Django installed in '/workspace/django'
Creating test database for alias 'default'...
test_create_empty (model_fields.test_durationfield.TestSaveLoad) ... ok
test_invalid_string (model_fields.test_durationfield.TestValidation) ... FAIL
test_dumping (model_fields.test_durationfield.TestSerialization) ... ERROR
test_formfield (model_fields.test_durationfield.TestFormField) ... skipped 'no'

======================================================================
FAIL: test_invalid_string (model_fields.test_durationfield.TestValidation)
----------------------------------------------------------------------
Ran 4 tests in 0.005s

FAILED (failures=1, errors=1, skipped=1)
"""


def test_grade_django_runner_output() -> None:
    ok = "test_create_empty (model_fields.test_durationfield.TestSaveLoad)"
    bad = "test_invalid_string (model_fields.test_durationfield.TestValidation)"
    err = "test_dumping (model_fields.test_durationfield.TestSerialization)"
    inst = _inst("django/django", "3.0", f2p=(bad,), p2p=(ok, err))
    verdict = grade(inst, DJANGO_LOG)
    assert verdict.fail_to_pass == {bad: False} and verdict.pass_to_pass == {ok: True, err: False}
    # Five: `FAIL: test_invalid_string (...)` also gives "test_invalid_string", as in the harness.
    assert not verdict.resolved and verdict.parsed == 5
    fixed = DJANGO_LOG.replace(f"{bad} ... FAIL", f"{bad} ... ok").replace(
        f"{err} ... ERROR", f"{err} ... ok"
    )
    fixed = fixed.replace("FAIL: test_invalid_string", "")
    assert grade(inst, fixed).resolved


SYMPY_LOG = """============================= test process starts ==============================
executable:         /opt/swe-env/bin/python  (3.9.2-final-0) [CPython]
architecture:       64-bit
random seed:        58326114

sympy/core/tests/test_numbers.py[3]
test_integers_cache ok
test_mod F
test_divmod E

________________________________________________________________________________
_________________ sympy/core/tests/test_numbers.py:test_mod ____________________
Traceback (most recent call last):
AssertionError
============= tests finished: 1 passed, 1 failed, 1 exceptions, in 0.40 seconds =============
DO *NOT* COMMIT!
"""


def test_grade_sympy_bin_test_output() -> None:
    inst = _inst("sympy/sympy", "1.1", f2p=("test_mod",), p2p=("test_integers_cache", "test_divmod"))
    verdict = grade(inst, SYMPY_LOG)
    assert verdict.fail_to_pass == {"test_mod": False}
    assert verdict.pass_to_pass == {"test_integers_cache": True, "test_divmod": False}
    passing = SYMPY_LOG.replace("test_mod F", "test_mod ok").replace("test_divmod E", "test_divmod ok")
    assert grade(inst, passing).resolved


def test_clean_test_id_removes_log_parser_junk() -> None:
    assert clean_test_id("[100%]") is None
    assert clean_test_id("[") is None
    assert clean_test_id("[100%]------------------------------") is None
    assert clean_test_id("testing/test_x.py::test_a [ 50%]") == "testing/test_x.py::test_a"
    # Real ids stay as they are, percent signs and cut parameters included.
    for real in (
        "lib/matplotlib/tests/test_axes.py::test_bar_label_fmt[%.2f]",
        "tests/test_cli.py::test_locate_app[cliapp.factory-create_app2(",
        "test_callable_path (model_fields.test_filepathfield.FilePathFieldTests)",
        "test_mod",
    ):
        assert clean_test_id(real) == real


def test_without_a_spec_pytest_runs_the_listed_ids() -> None:
    inst = _inst(
        "me/mine",
        "",
        f2p=("tests/test_cli.py::test_locate_app[cliapp.factory-create_app2(", "[100%]"),
        p2p=("tests/test_cli.py::test_other[a-b]",),
    )
    assert command_of(inst) == (
        *("python3", "-m", "pytest", "-rA", "-p", "no:cacheprovider"),
        "tests/test_cli.py::test_locate_app",  # widened: pytest rejects the cut id
        "tests/test_cli.py::test_other[a-b]",
    )
    assert command_of(_inst("me/mine", "")) == ()
    assert command_of(_inst("django/django", "3.0")) == ()  # nothing listed: nothing to run


class _PinningSandbox(LocalSandbox):
    """A process sandbox that records pinned plans, as Docker's `pin_plan` takes them."""

    def __init__(self) -> None:
        super().__init__(SandboxSettings(kind="local", timeout_s=60))
        self.pinned: dict[Path, EnvPlan] = {}

    def pin_plan(self, tree: Path, plan: EnvPlan) -> None:
        self.pinned[tree] = plan


def test_environments_are_pinned_only_for_specs_on_sandboxes_that_take_plans(tmp_path: Path) -> None:
    tree = _tree(tmp_path, {"setup.py": ""})
    requests = _inst("psf/requests", "2.3")
    box = _PinningSandbox()
    plan = pin_environment(box, requests, tree)
    assert plan is not None and box.pinned == {tree: plan} and plan.python.chosen == "3.9"
    assert pin_environment(box, _inst("me/mine", ""), tree / "other") is None
    with LocalSandbox(SandboxSettings(kind="local", timeout_s=60)) as local:
        assert pin_environment(local, requests, tree) is None  # the host's Python: no plan to pin
    runner = Runner(box, 60)
    assert runner.pin(requests, tree) is plan or runner.pin(requests, tree).digest == plan.digest
    assert not all_tests_pass(requests, None)


def test_grade_a_parametrized_id_the_dataset_cut_at_a_space() -> None:
    cut = "tests/test_cli.py::test_locate_app[cliapp.factory"
    inst = _inst("pallets/flask", "2.3", f2p=("tests/test_cli.py::test_ok",), p2p=(cut,))
    printed = 'tests/test_cli.py::test_locate_app[cliapp.factory-create_app2("foo", "bar")]'
    passing = f"PASSED tests/test_cli.py::test_ok\nPASSED {printed}\nPASSED {cut}-other]\n"
    assert grade(inst, passing).resolved
    failing = f"PASSED tests/test_cli.py::test_ok\nPASSED {printed}\nFAILED {cut}-other] - boom\n"
    verdict = grade(inst, failing)
    assert not verdict.resolved and verdict.pass_to_pass == {cut: False}
    assert not grade(inst, "PASSED tests/test_cli.py::test_ok\n").resolved  # absent: failed


def test_era_constraints_are_per_version_where_a_version_needs_them(tmp_path: Path) -> None:
    tree = _tree(tmp_path, {"setup.py": "", "requirements/testing/travis_all.txt": "pytest\n"})
    old = plan_for(_inst("matplotlib/matplotlib", "3.3"), tree)
    new = plan_for(_inst("matplotlib/matplotlib", "3.6"), tree)
    assert old.steps[0].name == "constraints" and "pyparsing<3" in old.steps[0].command
    # 3.6's spec pins pyparsing 3.0.9: a bound below 3 there would make its install impossible.
    assert all("pyparsing<3" not in step.command for step in new.steps)


def test_a_reproduction_from_the_failing_tests_runs_only_them_where_pytest_selects_by_id() -> None:
    f2p = ("tests/test_blueprints.py::test_dotted_name_not_allowed", "[100%]")
    flask = _inst("pallets/flask", "2.0", _diff("tests/test_basic.py", "tests/test_blueprints.py"), f2p)
    assert command_of(flask) == ("pytest", "-rA", "tests/test_basic.py", "tests/test_blueprints.py")
    assert fail_to_pass_command(flask) == (
        "pytest",
        "-rA",
        "tests/test_blueprints.py::test_dotted_name_not_allowed",
    )
    # SymPy's bin/test (in a shell, for its warning filter): the files, then -k with the names.
    sympy = _inst("sympy/sympy", "1.1", _diff("sympy/core/tests/test_numbers.py"), ("test_mod",))
    script = fail_to_pass_command(sympy)[-1]
    assert script == command_of(sympy)[-1] + " -k test_mod" and script.endswith("test_numbers.py -k test_mod")
    # Sphinx's tox passes the words after `--` to pytest: the ids.
    f2p = ("tests/test_ext_autosummary.py::test_autosummary_generate_content_for_module",)
    sphinx = _inst("sphinx-doc/sphinx", "3.1", _diff("tests/test_ext_autosummary.py"), f2p)
    assert command_of(sphinx)[-1].endswith(" -- tests/test_ext_autosummary.py")
    assert fail_to_pass_command(sphinx)[-1] == command_of(sphinx)[-1].replace(
        "tests/test_ext_autosummary.py", f2p[0]
    )
    # Django's runner selects by label, and its listed ids are not labels: the whole command.
    django = _inst(
        "django/django", "3.0", _diff("tests/queries/tests.py"), ("test_ticket (queries.tests.T)",)
    )
    assert fail_to_pass_command(django) == command_of(django)
    assert fail_to_pass_command(_inst("me/mine", "", f2p=("t.py::a",), p2p=("t.py::b",)))[-1] == "t.py::a"
