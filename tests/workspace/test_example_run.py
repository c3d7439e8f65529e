"""The issue's example: its statements, the program that runs them under a profile hook, the
workspace symbols its report names, and the symbol stage's weighing of them."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from pathlib import Path

import platformdirs
import pytest

from swe_lsp.cli import main
from swe_lsp.workspace import RepoIndex, retrieve
from swe_lsp.workspace.example_run import (
    INPUT_PATH,
    MARKER,
    PROGRAM_PATH,
    TRACER,
    Commands,
    called_symbols,
    command_files,
    example_command,
    example_command_run,
    example_statements,
    example_test_options,
    example_test_run,
    example_tests,
    given_files,
    parse_report,
    showing_files,
    showing_statements,
    tracer_input,
    workspace_commands,
)
from swe_lsp.workspace.example_setup import setup_code
from swe_lsp.workspace.retrieval import SHOWING_FILE_WEIGHT

PRINTER = '''\
"""Printing expressions."""


def traced(f):
    return f


class Printer:
    """Prints an expression by dispatching on its kind."""

    def doprint(self, kind):
        print("printing", kind)  # the example's output must not spoil the report
        return getattr(self, "_print_" + kind)()

    def _print_Matrix(self):
        return "matrix element"

    def _print_MatrixSymbol(self):
        return "matrix element symbol"

    @traced
    def _print_MatrixElement(self):
        return self._element("matrix element")

    def _element(self, text):
        return text.upper()


def matrix_element_helper():
    return "matrix element"
'''


def _repo(root: Path) -> Path:
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("from pkg.printer import Printer\n")
    (root / "pkg" / "printer.py").write_text(PRINTER)
    (root / "pkg" / "registry.py").write_text("def register():\n    return 1\n\n\nregister()\n")
    return root


def _run(tree: Path, statements: list[str], index: RepoIndex) -> subprocess.CompletedProcess[str]:
    (tree / PROGRAM_PATH).write_text(TRACER)
    (tree / INPUT_PATH).write_text(tracer_input(statements, index))
    return subprocess.run(
        [sys.executable, PROGRAM_PATH, INPUT_PATH], cwd=tree, capture_output=True, text=True, timeout=60
    )


def test_the_statements_of_prompts_ipython_cells_and_code_blocks() -> None:
    prompts = (
        "Printing fails\r\n    >>> from pkg import Printer\r\n    >>> p = Printer()\r\n"
        "    >>> p.doprint('X')\r\n    'x'\r\n"
    )
    assert example_statements(prompts) == ["from pkg import Printer\n", "p = Printer()\n", "p.doprint('X')\n"]
    ipython = "```\nIn [3]: for k in ('A', 'B'):\n   ...:     print(k)\n   ...:\nOut[3]: None\n```"
    assert example_statements(ipython) == ["for k in ('A', 'B'):\n    print(k)\n"]
    assert example_statements(">>>latex(x)\n    'x'\n") == ["latex(x)\n"]
    fenced = (
        "Here:\n```python\nimport pkg\npkg.Printer().doprint('A')\n```\nand a log:\n```\n"
        'Traceback (most recent call last):\n  File "x.py", line 1, in <module>\nKeyError: 1\n```'
    )
    assert example_statements(fenced) == ["import pkg", "pkg.Printer().doprint('A')"]
    assert example_statements("The printer prints `x` wrong; no code here.") == []


def test_a_block_that_does_not_parse_keeps_its_statements_and_inline_calls_are_the_last_resort() -> None:
    python2 = "```\nimport pkg\np = pkg.Printer()\nfor k in 'AB':\n    p.doprint(k)\nprint p\n```"
    assert example_statements(python2) == [
        "import pkg",
        "p = pkg.Printer()",
        "for k in 'AB':\n    p.doprint(k)",
    ]
    inline = "`Printer().doprint('A')` works but `0**-oo` gives `0`, as `Printer` and `pkg.printer` show."
    assert example_statements(inline) == ["Printer().doprint('A')", "0**-oo"]


def test_the_example_names_the_functions_it_calls(tmp_path: Path) -> None:
    tree = _repo(tmp_path / "repo")
    index = RepoIndex.build_or_load(tree, None)
    statements = [
        "from pkg import registry",  # its set-up calls `register`: importing is not using
        "p = Printer()",
        "p.doprint('MatrixElement')",
        "undefined_name",
        "p.doprint('Matrix')",
    ]
    run = _run(tree, statements, index)
    assert run.returncode == 0, run.stderr
    report = parse_report(run.stdout, len(statements))
    # The failing statement is left and the next one runs; the example's own print is swallowed.
    assert (report.ran, report.tried, report.failures) == (4, 5, ("NameError",))
    assert "printing" not in run.stdout
    # Only the statements are profiled: `traced` ran when the package was imported, before them.
    assert called_symbols(index, report.calls) == {
        ("pkg/printer.py", "Printer.doprint"),
        ("pkg/printer.py", "Printer._print_MatrixElement"),  # decorated: its code starts at the decorator
        ("pkg/printer.py", "Printer._element"),
        ("pkg/printer.py", "Printer._print_Matrix"),
    }
    # The statement showing the issue: none that called the workspace raised, so the last calling it.
    assert showing_files(index, report) == {"pkg/printer.py"}
    # Each statement's own run: which raised, and what each called apart from the others.
    assert [step.raised for step in report.steps] == [False, False, False, True, False]
    assert [sorted(called_symbols(index, step.calls)) for step in report.steps] == [
        [],
        [],
        [("pkg/printer.py", "Printer._element"), ("pkg/printer.py", "Printer._print_MatrixElement"),
         ("pkg/printer.py", "Printer.doprint")],
        [],
        [("pkg/printer.py", "Printer._print_Matrix"), ("pkg/printer.py", "Printer.doprint")],
    ]  # fmt: skip


def test_a_report_that_is_missing_or_broken_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="printed no report"):
        parse_report("Traceback (most recent call last):\nSyntaxError: invalid syntax\n", 2)
    with pytest.raises(ValueError, match="does not read"):
        parse_report(MARKER + json.dumps({"ran": 1, "calls": [["a.py", "x", "f", 1]]}), 1)


def test_the_workspace_packages_are_imported_for_the_example(tmp_path: Path) -> None:
    tree = _repo(tmp_path / "repo")
    (tree / "src" / "other").mkdir(parents=True)
    (tree / "src" / "other" / "__init__.py").write_text("")
    (tree / "tests").mkdir()
    (tree / "tests" / "__init__.py").write_text("")  # a package, but not one a session imports
    (tree / "tests" / "test_printer.py").write_text("def test_it():\n    pass\n")
    config = json.loads(tracer_input(["Printer()"], RepoIndex.build_or_load(tree, None)))
    assert config["imports"] == ["import pkg\nfrom pkg import *", "import other\nfrom other import *"]
    assert "pkg/printer.py" in config["paths"] and "tests/test_printer.py" in config["paths"]


def test_a_symbol_the_example_called_ranks_first_among_its_siblings(tmp_path: Path) -> None:
    tree = _repo(tmp_path / "repo")
    index = RepoIndex.build_or_load(tree, None)
    issue = (
        "Printing a matrix element gives the wrong text\n\nThe matrix printer prints a matrix element badly."
    )
    plain = retrieve(index, issue, top=5, top_symbols=10)
    called = frozenset({("pkg/printer.py", "Printer._print_MatrixElement")})
    ran = retrieve(index, issue, top=5, top_symbols=10, executed=called)
    assert plain.symbols[0].name != "Printer._print_MatrixElement"
    assert ran.symbols[0].name == "Printer._print_MatrixElement"
    assert "the issue's example calls it" in ran.symbols[0].reasons


def test_the_files_the_statements_showing_the_issue_ran_gain_and_the_symbols_keep_their_order(
    tmp_path: Path,
) -> None:
    tree = _repo(tmp_path / "repo")
    index = RepoIndex.build_or_load(tree, None)
    issue = "Registering a printer prints the wrong text\n\nThe printer's register step is wrong."
    plain = retrieve(index, issue, top=5, top_symbols=10)
    shown = retrieve(index, issue, top=5, top_symbols=10, showing=frozenset({"pkg/registry.py"}))
    before, after = ({h.path: h for h in found.files} for found in (plain, shown))
    assert after["pkg/registry.py"].score == pytest.approx(
        before["pkg/registry.py"].score + SHOWING_FILE_WEIGHT, abs=1e-3
    )
    assert "the issue's example runs it where it shows the issue" in after["pkg/registry.py"].reasons
    assert after["pkg/printer.py"].score == before["pkg/printer.py"].score
    assert [s.name for s in shown.symbols] == [s.name for s in plain.symbols]


def test_the_statements_showing_the_issue_are_those_that_raised_else_the_last_calling_the_workspace() -> None:
    # (raised, called the workspace) per statement
    assert showing_statements([(False, True), (True, True), (False, True), (True, True)]) == {1, 3}
    assert showing_statements([(False, True), (False, True), (True, False), (False, False)]) == {1}
    assert showing_statements([(True, False), (False, False)]) == set()


def test_localize_runs_the_example_in_the_configured_sandbox(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    tree = _repo(tmp_path / "repo")
    monkeypatch.setenv("SWE_LSP_CACHE_DIR", str(tmp_path / "cache"))
    user = Path(platformdirs.user_config_dir("swe-lsp")) / "swe-lsp.toml"
    user.parent.mkdir(parents=True, exist_ok=True)
    user.write_text('[sandbox]\nkind = "local"\n')  # the user's own settings: no Docker in this test
    issue = tmp_path / "issue.md"
    issue.write_text(
        "The printer gives the wrong text\n\n>>> kind = 'Matrix' + 'Element'\n>>> Printer().doprint(kind)\n"
    )
    args = ["localize", "--workspace", str(tree), "--issue", str(issue), "--symbols", "10", "--json"]
    assert main([*args, "--run-example"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["notes"][-1].startswith(
        "the issue's example ran (2 of 2 statements without an error) and called 3"
    )
    assert main(args) == 0  # without the flag nothing runs
    plain = json.loads(capsys.readouterr().out)
    assert not any("example" in n for n in plain["notes"])
    ran, before = [s["name"] for s in out["symbols"]], [s["name"] for s in plain["symbols"]]
    siblings = ("Printer._print_Matrix", "Printer._print_MatrixSymbol")
    assert any(before.index(s) < before.index("Printer._print_MatrixElement") for s in siblings)
    assert all(ran.index("Printer._print_MatrixElement") < ran.index(s) for s in siblings)
    assert sorted(p.name for p in tree.rglob("*") if p.is_file()) == [
        "__init__.py",
        "printer.py",
        "registry.py",
    ]


def test_localize_without_a_sandbox_ranks_anyway_and_says_why(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    tree = _repo(tmp_path / "repo")
    monkeypatch.setenv("SWE_LSP_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-engine.sock")  # an engine that is not there
    user = Path(platformdirs.user_config_dir("swe-lsp")) / "swe-lsp.toml"
    user.parent.mkdir(parents=True, exist_ok=True)
    user.write_text('[sandbox]\nkind = "docker"\n')
    issue = tmp_path / "issue.md"
    issue.write_text("The printer gives the wrong text\n\n>>> Printer().doprint('Matrix')\n")
    args = ["localize", "--workspace", str(tree), "--issue", str(issue), "--json", "--run-example"]
    assert main(args) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["files"][0] == "pkg/printer.py"
    assert out["notes"][-1].startswith("the issue's example did not run: the Docker engine does not answer")


def test_a_run_stopped_partway_still_tells_what_its_finished_statements_called(tmp_path: Path) -> None:
    tree = _repo(tmp_path / "repo")
    index = RepoIndex.build_or_load(tree, None)
    statements = ["Printer().doprint('Matrix')", "import time\nwhile True:\n    time.sleep(0.1)"]
    (tree / PROGRAM_PATH).write_text(TRACER)
    (tree / INPUT_PATH).write_text(tracer_input(statements, index))
    with pytest.raises(subprocess.TimeoutExpired) as stopped:  # the sandbox's limit, before the alarm's
        subprocess.run([sys.executable, PROGRAM_PATH, INPUT_PATH], cwd=tree, capture_output=True, timeout=5)
    out = stopped.value.stdout
    report = parse_report(out.decode() if isinstance(out, bytes) else out or "", len(statements))
    assert report.ran == 1
    assert called_symbols(index, report.calls) == {
        ("pkg/printer.py", "Printer.doprint"),
        ("pkg/printer.py", "Printer._print_Matrix"),
    }


def test_names_the_example_leaves_undefined_come_from_the_module_that_binds_most_of_them(
    tmp_path: Path,
) -> None:
    tree = _repo(tmp_path / "repo")
    (tree / "pkg" / "abc.py").write_text(
        "from pkg.printer import Printer\n\nx, y = 'x', 'y'\nkind = 'Matrix'\n"
    )
    (tree / "pkg" / "deep").mkdir()
    (tree / "pkg" / "deep" / "__init__.py").write_text("")
    (tree / "pkg" / "deep" / "names.py").write_text("x = 'deep'\n\n\ndef kind():\n    pass\n")
    (tree / "pkg" / "tests").mkdir()
    (tree / "pkg" / "tests" / "test_names.py").write_text("x, y, kind = 1, 2, 3\n")
    statements = [
        "p = Printer()",
        "p.doprint(kind + 'Element')",
        "assert (x, y) == ('x', 'y')",
        "[q for q in z]",
    ]
    index = RepoIndex.build_or_load(tree, None)
    config = json.loads(tracer_input(statements, index))
    # `Printer` is bound by the star-import of `pkg` when the program runs; `p`, `q` by the example.
    assert config["free"] == ["Printer", "kind", "x", "y", "z"]
    assert config["sources"] == [
        ["pkg", ["Printer"]],
        ["pkg.abc", ["Printer", "kind", "x", "y"]],
        ["pkg.deep.names", ["kind", "x"]],
        ["pkg.printer", ["Printer"]],
    ]  # not the tests' bindings
    run = _run(tree, statements, index)
    report = parse_report(run.stdout, len(statements))
    # `pkg.abc` binds the most of what is missing, so `kind` is its string, not `deep.names`'s function.
    assert (report.ran, report.failures, report.setup_failures) == (3, ("NameError",), ())
    assert ("pkg/printer.py", "Printer._print_MatrixElement") in called_symbols(index, report.calls)


def test_module_names_the_example_leaves_undefined_are_imported_as_its_reader_did(tmp_path: Path) -> None:
    """`re.UNICODE` and `np.zeros` in an issue come from its reader's session: a standard-library
    module of that name, or the alias the data stack's documentation imports a module as."""
    tree = _repo(tmp_path / "repo")
    statements = ["flags = re.I | re.U", "Printer().doprint('Matrix' * np.zeros(1).size)", "sp.sqrt(2)"]
    index = RepoIndex.build_or_load(tree, None)
    config = json.loads(tracer_input(statements, index))
    assert config["modules"] == [["np", "numpy"], ["re", "re"]]  # not `sp`: scipy's or sympy's
    report = parse_report(_run(tree, statements, index).stdout, len(statements))
    assert (report.ran, report.failures) == (2, ("NameError",))
    assert ("pkg/printer.py", "Printer._print_Matrix") in called_symbols(index, report.calls)


TRAC_ISSUE = """Filtering on a slug drops its underscores
Description
\t
Slugs lose their leading underscores:
from pkg.printer import Printer
p = Printer()
p.doprint('Matrix')  # fine
# prints MATRIX ELEMENT
for kind in ('MatrixElement',):
\tp.doprint(kind)
Description
Traceback (most recent call last):
  File "/srv/app.py", line 3, in <module>
p.doprint('MatrixSymbol')
KeyError: 'x'
but calling it again (twice) works.
"""


def test_code_typed_between_the_prose_without_fences_is_the_example() -> None:
    """Trac's issues (Django's) have no fences: the code lines and what is indented or commented
    under them are the example; prose, a bare word and the line a traceback frame quotes are not."""
    assert example_statements(TRAC_ISSUE) == [
        "from pkg.printer import Printer",
        "p = Printer()",
        "p.doprint('Matrix')",
        "for kind in ('MatrixElement',):\n    p.doprint(kind)",
    ]
    # Fenced code, prompts and inline calls come first; prose alone is no example.
    assert example_statements("```\nPrinter().doprint('A')\n```\n" + TRAC_ISSUE) == ["Printer().doprint('A')"]
    assert example_statements("Calling it (twice) fails.\nDescription\nSee the docs.") == []


def _django_project(root: Path) -> Path:
    (root / "mysite").mkdir(parents=True)
    (root / "mysite" / "__init__.py").write_text("")
    # A server the sandbox cannot reach, with a driver it does not have: the example must not use it.
    (root / "mysite" / "settings.py").write_text(
        "SECRET_KEY = 'x'\nINSTALLED_APPS = ['django.contrib.contenttypes', 'shop']\n"
        "DATABASES = {'default': {'ENGINE': 'django.db.backends.postgresql', 'NAME': 'prod',"
        " 'HOST': 'db.internal'}}\n"
    )
    (root / "manage.py").write_text(
        "import os\nimport sys\n\n\ndef main():\n"
        "    os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'mysite.settings')\n"
        "    from django.core.management import execute_from_command_line\n"
        "    execute_from_command_line(sys.argv)\n"
    )
    (root / "shop").mkdir()
    (root / "shop" / "__init__.py").write_text("")
    (root / "shop" / "models.py").write_text(
        "from django.db import models\n\n\nclass Item(models.Model):\n"
        "    name = models.CharField(max_length=10)\n\n"
        "    def label(self):\n        return self.name.title()\n"
    )
    return root


def test_the_setup_a_workspace_s_framework_needs() -> None:
    class Tree:
        def __init__(self, paths: list[str], root: Path = Path(".")) -> None:
            self.paths, self.root = paths, root

    framework = setup_code(Tree(["django/__init__.py", "django/conf/__init__.py", "setup.py"]))  # type: ignore[arg-type]
    assert "_settings.configure(" in framework and "'django.contrib.auth'" in framework
    ast.parse(framework)
    assert setup_code(Tree(["pkg/__init__.py", "pkg/printer.py"])) == ""  # type: ignore[arg-type]


def test_a_django_project_s_example_runs_with_its_settings_on_a_memory_database(tmp_path: Path) -> None:
    tree = _django_project(tmp_path / "project")
    index = RepoIndex.build_or_load(tree, None)
    assert "'mysite.settings'" in setup_code(index)
    statements = [
        "from shop.models import Item",
        "Item(name='book').label()",
        "class Note(models.Model):\n    text = models.TextField()",  # the example's own model
        "print(Note.objects.filter(text='a').query)",
        "list(Item.objects.all())",  # no table: the query compiles and runs on SQLite, not the server
    ]
    run = _run(tree, statements, index)
    report = parse_report(run.stdout, len(statements))
    assert (report.ran, report.failures, report.setup_failures) == (4, ("OperationalError",), ())
    assert ("shop/models.py", "Item.label") in called_symbols(index, report.calls)


def test_an_installed_copy_of_a_lib_layout_counts_though_its_lines_moved(tmp_path: Path) -> None:
    """The sandbox may run the project as installed (`site-packages/geo/...`, not `lib/geo/...`),
    from another version whose lines moved; and the reader's session had `re` imported."""
    tree = tmp_path / "repo"
    (tree / "lib" / "geo").mkdir(parents=True)
    (tree / "lib" / "geo" / "__init__.py").write_text("")
    shapes = "def area(side):\n    return side * side\n\n\ndef perimeter(side):\n    return 4 * side\n"
    (tree / "lib" / "geo" / "shapes.py").write_text(shapes)
    (tmp_path / "site" / "geo").mkdir(parents=True)
    (tmp_path / "site" / "geo" / "__init__.py").write_text("")
    (tmp_path / "site" / "geo" / "shapes.py").write_text('"""Shapes, a release later."""\n\n\n' + shapes)
    index = RepoIndex.build_or_load(tree, None)
    statements = ["from geo.shapes import area", "area(3)", "re.compile('a+')"]
    (tree / PROGRAM_PATH).write_text(TRACER)
    (tree / INPUT_PATH).write_text(tracer_input(statements, index))
    run = subprocess.run(
        [sys.executable, PROGRAM_PATH, INPUT_PATH],
        cwd=tree,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PYTHONPATH": str(tmp_path / "site"), "PATH": "/usr/bin:/bin"},
    )
    report = parse_report(run.stdout, len(statements))
    assert (report.ran, report.failures) == (3, ())
    assert called_symbols(index, report.calls) == {("lib/geo/shapes.py", "area")}


TEST_ISSUE = """Wrong report for a failing test

test_printing.py:
```python
import pytest

from pkg import Printer


@pytest.fixture
def printer():
    return Printer()


def test_matrix_element(printer):
    assert printer.doprint("MatrixElement") == "matrix element"
```

noxfile.py:
```python
import nox

@nox.session
def test(session):
    session.run("pytest")
```

Run with `pytest -rA -k matrix --pdb tests/ | tee log`:
```
E       AssertionError: assert 'MATRIX ELEMENT' == 'matrix element'
```
"""


def test_an_example_that_is_a_test_module_runs_under_pytest_with_the_issue_s_options() -> None:
    # The block defining tests is a test module, named as the issue names it; `noxfile.py`'s
    # `def test(session)` is not pytest's. The command's paths, `-k` with its value, `--pdb` (it
    # would wait on a debugger) and what follows the pipe are left out.
    assert example_tests(TEST_ISSUE) == [
        ("test_printing.py", TEST_ISSUE.split("```python\n")[1].split("```")[0])
    ]
    assert example_test_options(TEST_ISSUE) == ["-rA"]
    statements = example_statements(TEST_ISSUE)
    # The test module runs as a module, not as statements; the noxfile's block stays statements.
    assert "def test_matrix_element(printer)" not in "".join(statements[:-1])
    assert statements[-1] == example_test_run(example_tests(TEST_ISSUE), ["-rA"])
    assert "'-p', 'no:cacheprovider', '-rA'" in statements[-1]
    # An issue with a pytest option and no test module runs pytest with it (`pytest --fixtures`).
    assert example_test_run([], ["--fixtures"]) is not None
    assert example_test_run([], []) is None
    assert example_tests("```python\ndef test_x(:\n```") == []  # it must parse


def test_the_example_s_test_module_runs_and_its_failure_shows_the_issue(tmp_path: Path) -> None:
    tree = _repo(tmp_path / "repo")
    index = RepoIndex.build_or_load(tree, None)
    statements = [example_test_run(example_tests(TEST_ISSUE), example_test_options(TEST_ISSUE)) or ""]
    before = sorted([*(p.name for p in tree.iterdir()), INPUT_PATH, PROGRAM_PATH])
    run = _run(tree, statements, index)
    assert run.returncode == 0, run.stderr
    report = parse_report(run.stdout, len(statements))
    # The test fails (`_element` upper-cases): the statement raised, as one showing the issue does.
    assert report.failures == ("AssertionError",)
    assert [step.raised for step in report.steps] == [True]
    assert {
        ("pkg/printer.py", "Printer.doprint"),
        ("pkg/printer.py", "Printer._print_MatrixElement"),
        ("pkg/printer.py", "Printer._element"),
    } <= called_symbols(index, report.calls)
    assert showing_files(index, report) == {"pkg/printer.py"}
    # The module was written in a folder of its own, removed after: the tree has only what it had
    # and the program's two files.
    assert sorted(p.name for p in tree.iterdir()) == before


CLI = """import sys

from pkg.printer import Printer


def main():
    kind = open(sys.argv[1]).read().strip()
    print(Printer().doprint(kind))
    sys.exit(1 if "--strict" in sys.argv else 0)
"""

COMMAND_ISSUE = """The printer prints element kinds wrong

kinds.txt:
```
MatrixElement
```

```shell
(venv) host:project user$ pkg-print kinds.txt --strict | head -1
MATRIX ELEMENT
```
"""


def test_the_workspace_s_commands_come_from_its_packaging(tmp_path: Path) -> None:
    tree = _repo(tmp_path / "repo")
    (tree / "pyproject.toml").write_text(
        '[project]\nname = "pkg"\n[project.scripts]\npkg-print = "pkg.cli:main"\n'
    )
    (tree / "setup.cfg").write_text("[options.entry_points]\nconsole_scripts =\n    pkg-old = pkg.cli:main\n")
    (tree / "setup.py").write_text(
        "setup(entry_points={'console_scripts': ['pkg-build = pkg.cmd.build:main']})\n"
    )
    commands = workspace_commands(RepoIndex.build_or_load(tree, None))
    assert dict(commands.scripts) == {
        "pkg-print": "pkg.cli:main",
        "pkg-old": "pkg.cli:main",
        "pkg-build": "pkg.cmd.build:main",
    }
    assert commands.packages == {"pkg"}


def test_the_command_the_issue_runs_and_the_files_it_gives() -> None:
    commands = Commands(
        {"pkg-print": "pkg.cli:main", "sphinx-build": "sphinx.cmd.build:main"}, frozenset({"pkg"})
    )
    # The prompt, the pipe and what follows it are not the command's.
    assert example_command(COMMAND_ISSUE, commands) == ["pkg-print", "kinds.txt", "--strict"]
    assert example_command("Run `python3 -m pkg.tool -v x.py > log`.", commands) == [
        "-m",
        "pkg.tool",
        "-v",
        "x.py",
    ]
    assert example_command("Run `python3 -m other -v` or `git log`.", commands) is None
    assert given_files(COMMAND_ISSUE) == {"kinds.txt": "MatrixElement\n"}
    project = "```\n# conf.py\nextensions = []\n```\n```\n# docs/index.rst\nTitle\n```\n```\n# ../x.py\n```"
    assert sorted(given_files(project)) == ["conf.py", "docs/index.rst"]  # nothing outside the folder
    # A Sphinx project given without a command is built as `make html` builds it, where the
    # workspace has `sphinx-build`; the statement carries its files.
    built = example_command_run(project, commands) or ""
    assert "['sphinx-build', '-b', 'html', '.', './_build/html']" in built
    assert "'docs/index.rst': '# docs/index.rst\\nTitle\\n'" in built
    assert example_command_run(project, Commands({}, frozenset())) is None
    # `pkg-print 1.2.0` is a line of `pip list`, not a command; pytest's line is the test modules'.
    assert example_command("```\npkg-print    1.2.0\n```", commands) is None
    assert example_command("```\n$ pytest -rA\n```", Commands({"pytest": "pytest:main"}, frozenset())) is None
    # A command on a file the issue does not give runs on nothing: none; the issue's one unnamed
    # Python block is the `.py` file its command names (an `ini` block is no such file).
    assert example_command_run("```\n$ pkg-print missing.txt\n```", commands) is None
    lint = "```python\n# YES: yes\n```\n```ini\nDefault\n```\n```shell\npkg-print test.py --notes=YES\n```"
    assert command_files(lint, commands) == {"test.py": "# YES: yes\n"}
    # A directory tree drawn as `tree` prints it lays out empty files, unless a block gives one's text.
    drawn = (
        "Given:\n```\n.\n|-- a\n|   |-- a.py\n|   `-- b.py\n`-- r.py\n```\n"
        "r.py:\n```python\nfrom a import b\n```\n"
        "```\nproject/\n├── conf.py\n└── docs/\n    └── index.rst\n```"
    )
    assert given_files(drawn) == {
        "a/a.py": "",
        "a/b.py": "",
        "r.py": "from a import b\n",
        "project/conf.py": "",
        "project/docs/index.rst": "",
    }


def test_the_command_the_issue_runs_runs_the_workspace_s_script_on_its_files(tmp_path: Path) -> None:
    tree = _repo(tmp_path / "repo")
    (tree / "pkg" / "cli.py").write_text(CLI)
    (tree / "pyproject.toml").write_text(
        '[project]\nname = "pkg"\n[project.scripts]\npkg-print = "pkg.cli:main"\n'
    )
    index = RepoIndex.build_or_load(tree, None)
    statements = example_statements(COMMAND_ISSUE, workspace_commands(index))
    assert len(statements) == 1  # the output under the command is no statement
    before = sorted([*(p.name for p in tree.iterdir()), INPUT_PATH, PROGRAM_PATH])
    run = _run(tree, statements, index)
    assert run.returncode == 0, run.stderr
    report = parse_report(run.stdout, len(statements))
    # The script read the given file from its folder; its exit status (1 with `--strict`) is caught,
    # as a shell would see it, not a failure of the statement.
    assert (report.ran, report.failures) == (1, ())
    assert {
        ("pkg/cli.py", "main"),
        ("pkg/printer.py", "Printer._print_MatrixElement"),
    } <= called_symbols(index, report.calls)
    assert sorted(p.name for p in tree.iterdir()) == before
