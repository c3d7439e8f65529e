"""Which tests each runner selects for a change, on trees laid out like the real projects."""

from __future__ import annotations

from pathlib import Path

from runner_trees import django_tree, sympy_tree, write

from swe_lsp.sandbox.runners import DjangoRunner, PytestRunner, SympyRunner, UnittestRunner
from swe_lsp.sandbox.runners.django_runner import find_test_modules, select_django
from swe_lsp.sandbox.runners.selection import MAX_TEST_FILES
from swe_lsp.sandbox.runners.sympy_runner import select_sympy


def test_django_test_modules_are_labelled_from_tests(tmp_path: Path) -> None:
    tree = django_tree(tmp_path)
    write(tree, {"tests/forms_tests/__init__.py": "", "tests/forms_tests/tests/__init__.py": ""})
    write(tree, {"tests/forms_tests/tests/test_forms.py": "", "tests/forms_tests/loose/test_no.py": ""})
    assert sorted(find_test_modules(tree)) == [
        "basic.tests",
        "forms_tests.tests.test_forms",  # a package inside an app
        "prefetch_related.tests",
        "queries.tests",
        "utils_tests.test_text",
    ]  # not runtests.py, test_sqlite.py, templatetags/testtags.py, nor a folder without __init__


def test_django_change_to_query_py(tmp_path: Path) -> None:
    tree = django_tree(tmp_path)
    # queries imports query.py itself, prefetch_related a name it defines through django.db.models,
    # basic only the package; utils_tests nothing of it
    assert DjangoRunner().select(tree, ["django/db/models/query.py"]) == [
        "queries.tests",
        "prefetch_related.tests",
        "basic.tests",
    ]


def test_django_app_named_after_the_changed_module(tmp_path: Path) -> None:
    tree = django_tree(tmp_path)
    write(tree, {"django/db/migrations/__init__.py": "", "django/core/management/commands/migrate.py": ""})
    write(tree, {"tests/migrations/__init__.py": "", "tests/migrations/test_commands.py": ""})
    write(tree, {"tests/migrations/test_state.py": "", "tests/migrate_signals/__init__.py": ""})
    write(tree, {"tests/migrate_signals/tests.py": ""})
    chosen = select_django(tree, ["django/core/management/commands/migrate.py"])
    # `migrate` names both apps; apps take turns, and the module named after `commands` goes first
    assert chosen == ["migrate_signals.tests", "migrations.test_commands", "migrations.test_state"]


def test_django_change_to_a_test_app(tmp_path: Path) -> None:
    tree = django_tree(tmp_path)
    write(tree, {"tests/queries/test_q.py": ""})
    # every module of the app whose models changed, its main `tests` first
    assert select_django(tree, ["tests/queries/models.py"]) == ["queries.tests", "queries.test_q"]
    assert select_django(tree, ["tests/utils_tests/test_text.py"]) == ["utils_tests.test_text"]


def test_django_selection_is_capped_with_the_strongest_first(tmp_path: Path) -> None:
    tree = django_tree(tmp_path)
    for i in range(20):
        write(
            tree,
            {
                f"tests/app{i:02}/__init__.py": "",
                f"tests/app{i:02}/tests.py": "from django.db import models\n",
            },
        )
    chosen = select_django(tree, ["django/db/models/query.py"], cap=5)
    assert chosen == ["queries.tests", "prefetch_related.tests", "app00.tests", "app01.tests", "app02.tests"]
    assert len(DjangoRunner().select(tree, ["django/db/models/query.py"])) == 12


def test_sympy_change_selects_the_tests_next_to_it(tmp_path: Path) -> None:
    tree = sympy_tree(tmp_path)
    assert SympyRunner().select(tree, ["sympy/core/expr.py"]) == [
        "sympy/core/tests/test_expr.py",  # named after it
        "sympy/core/tests/test_arit.py",  # imports a name it defines, through sympy.core
        "sympy/printing/tests/test_str.py",  # elsewhere, but imports it
        "sympy/core/tests/test_basic.py",  # the rest of its tests folder
    ]
    assert select_sympy(tree, ["sympy/core/expr.py"], cap=2) == [
        "sympy/core/tests/test_expr.py",
        "sympy/core/tests/test_arit.py",
    ]


def test_sympy_nested_package_uses_the_nearest_tests_folder(tmp_path: Path) -> None:
    tree = sympy_tree(tmp_path)
    write(tree, {"sympy/printing/pretty/__init__.py": "", "sympy/printing/pretty/pretty.py": ""})
    assert select_sympy(tree, ["sympy/printing/pretty/pretty.py"]) == [
        "sympy/printing/tests/test_other.py",
        "sympy/printing/tests/test_str.py",
    ]
    assert select_sympy(tree, ["sympy/core/tests/test_basic.py", "README.md"]) == [
        "sympy/core/tests/test_basic.py"
    ]


def test_pytest_ranks_and_caps_the_files(tmp_path: Path) -> None:
    files = {
        "lib/pkg/__init__.py": "from pkg.axes._axes import Axes\n",
        "lib/pkg/axes/__init__.py": "from pkg.axes._axes import Axes\n",
        "lib/pkg/axes/_axes.py": "class Axes:\n    pass\n",
        "tests/test_axes.py": "",  # named after _axes, without its underscore
        "tests/test_direct.py": "from pkg.axes._axes import Axes\n",
        "tests/test_reexport.py": "from pkg.axes import Axes\n",
        "tests/test_attr.py": "import pkg\n\ndef test():\n    pkg.Axes\n",  # through the top package
        "tests/test_package_only.py": "from pkg.axes import other\n",
    }
    files.update({f"tests/test_many{i:02}.py": "import pkg.axes._axes\n" for i in range(MAX_TEST_FILES)})
    tree = write(tmp_path, files)
    chosen = PytestRunner().select(tree, ["lib/pkg/axes/_axes.py", "tests/test_package_only.py"])
    assert len(chosen) == MAX_TEST_FILES
    assert chosen[0] == "tests/test_package_only.py"  # changed itself
    assert "tests/test_direct.py" in chosen
    assert "tests/test_axes.py" not in chosen  # the weaker evidence is what the cap drops
    few = PytestRunner().select(
        write(tmp_path / "few", {k: v for k, v in files.items() if "many" not in k}),
        ["lib/pkg/axes/_axes.py"],
    )
    assert few == [
        "tests/test_direct.py",
        "tests/test_attr.py",
        "tests/test_axes.py",
        "tests/test_reexport.py",
    ]


def test_unittest_selects_files_as_pytest_does(tmp_path: Path) -> None:
    tree = write(
        tmp_path, {"pkg/__init__.py": "", "pkg/core.py": "", "tests/test_core.py": "import unittest\n"}
    )
    assert UnittestRunner().select(tree, ["pkg/core.py"]) == ["tests/test_core.py"]
