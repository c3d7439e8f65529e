"""The issue's own example, run under a profile hook: which of the workspace's functions it calls.

Word overlap cannot tell a gold method from the dozens of siblings in its file that share its
file's score; the issue's example can: `latex((M*N)[i, j])` calls `LatexPrinter._print_MatrixElement`
and none of the other `_print_*` methods the issue's words match as well. Measured on the Lite
issues of every repository but flask's and requests' (`bench/trace_signal.py`), the example runs for
119 of 199 (sympy's 48 of 55 after the names its reader's session had defined, `free_names`;
Django's 26 of 71 after its unfenced code and its settings, `example_setup`) and calls a median 40
of the 1,800 candidates of the best 30 files (`retrieval.EXECUTED_WEIGHT`); the statements showing
the issue name the files that gain (`showing_files`, `retrieval.SHOWING_FILE_WEIGHT`). An issue's
example is also what it runs rather than types: its test modules under pytest (`example_tests`),
the workspace's command line it runs with the files it gives (`example_command_run`).

This module holds what does not depend on where the example runs: its statements
(`example_statements`, the run of its tests or command last), the program that runs them
(`TRACER`, one file for any Python from 3.6 on, as the workspace's environment has it), reading that
program's report (`parse_report`) and naming the workspace's symbols it called (`called_symbols`).
The job runs it in the workspace's sandbox (`search.example`), never outside one: the issue's code
is untrusted input.
"""

from __future__ import annotations

import ast
import builtins
import configparser
import doctest
import json
import re
import shlex
import sys
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from swe_lsp.workspace.example_setup import setup_code
from swe_lsp.workspace.files import read_text
from swe_lsp.workspace.index import RepoIndex
from swe_lsp.workspace.mentions import code_blocks, code_spans, led_code_blocks, outside_fences
from swe_lsp.workspace.model import Symbol
from swe_lsp.workspace.retrieval import _TEST_PATH

# Where the program and its input go in the sandbox's copy of the tree (hidden names, so that no
# project file is replaced and the test runners do not collect them).
PROGRAM_PATH = ".swe_lsp_example.py"
INPUT_PATH = ".swe_lsp_example.json"
# The start of the lines the program reports on: the example's own output is swallowed, but a
# crashing interpreter or a site hook may still print, so the reports are found by this marker.
MARKER = "SWE_LSP_EXAMPLE_REPORT "
# Seconds one statement may run before the next one is tried: an issue about a computation that
# "never returns" has one such statement, and its other statements still say what is called. The
# sympy Lite examples' whole runs took at most 3.1 s here under the hook (which slows pure Python
# about threefold); ten seconds a statement leaves room for a slower laptop and heavier work.
STATEMENT_S = 10
# Statements run at most: 114 of the 207 Lite issues have an example, the longest 77 top-level
# statements (sympy-22840, a script and its output), the next 34; an issue pasting a whole session
# is cut here rather than run for minutes.
MAX_STATEMENTS = 60
_IPYTHON_IN = re.compile(r"^(\s*)In \[\d+\]: ?")
_IPYTHON_MORE = re.compile(r"^\s*\.\.\.+: ?")
_TIGHT_PROMPT = re.compile(r"^(\s*)>>>(?=\S)")  # `>>>f(x)`, as some issues type it
# Top-level packages a user's session does not import: the project's tests, docs and examples.
_NOT_IMPORTED = frozenset({"test", "tests", "testing", "doc", "docs", "example", "examples", "benchmarks"})

# The program. Its argument is INPUT_PATH: {"statements", "imports", "packages", "free", "sources",
# "modules", "paths", "aliases", "statement_s", "prelude"}. It runs `prelude` and the `imports` (each
# may fail), unbinds the submodules of `packages` a star-import bound without their package's
# `__all__` naming them (`from shop import *` after `django.setup()` imported `shop.models` binds
# `models` to it, which the example means as `django.db.models`; a session importing the package
# first has no such name), then imports the `free` names the imports left undefined from the
# `sources` ([module, names]) binding them, the module binding the most still-missing names first,
# then the shallowest (`name_sources`), then the `modules` ([name, module]) among them (`re` of
# `re.UNICODE`, `np`: the reader's session had imported them, `module_named`), then each statement
# in one namespace with the example's output swallowed, a profile hook counting the calls whose
# code lies in one of `paths` (the workspace's Python files, matched by path suffix, so an installed
# copy of the project counts too; `aliases` name the files of a `src/` or `lib/` layout as
# installed) except those made while a module is being imported (a statement's `from pkg.sub
# import f` runs `pkg.sub`'s set-up code, which says nothing of the issue), and an alarm ending a
# statement after `statement_s`; a statement that fails is left and the next one runs. After each
# statement a report line: statements run and failed so far, the set-up lines that failed (a
# package that does not import says why the statements failed), the calls it added as [path, first
# line, name, count]. Written for any Python 3 from 3.6 on (the workspace's own interpreter runs
# it).
TRACER = (
    r"""
import builtins, io, json, os, signal, sys
config = json.load(open(sys.argv[1]))
paths = dict((p, p) for p in config["paths"])
paths.update(config.get("aliases", {}))
places = {}
def place(filename):
    if filename not in places:
        parts = os.path.abspath(filename).replace(os.sep, "/").split("/")
        tails = ["/".join(parts[i:]) for i in range(len(parts))]
        places[filename] = next((paths[tail] for tail in tails if tail in paths), None)
    return places[filename]
calls = {}
importing = [0]
real_import = builtins.__import__
def counted_import(*args, **kwargs):
    importing[0] += 1
    try:
        return real_import(*args, **kwargs)
    finally:
        importing[0] -= 1
builtins.__import__ = counted_import
def hook(frame, event, arg):
    if event == "call" and not importing[0]:
        code = frame.f_code
        where = place(code.co_filename)
        if where is not None:
            key = (where, code.co_firstlineno, code.co_name)
            calls[key] = calls.get(key, 0) + 1
def stop(signum, frame):
    raise TimeoutError("statement ran past %s s" % config["statement_s"])
signal.signal(signal.SIGALRM, stop)
namespace = {"__name__": "__main__"}
real_out, real_err = sys.stdout, sys.stderr
sys.stdout = sys.stderr = io.StringIO()
setup = []
for source in [config.get("prelude") or ""] + config["imports"]:
    try:
        exec(compile(source, "<setup>", "exec"), namespace)
    except BaseException as e:
        setup.append("%s: %s" % (source.splitlines()[0] if source else "", type(e).__name__))
for name, value in list(namespace.items()):
    where = getattr(value, "__name__", "") if type(value) is type(sys) else ""
    parent = where.rpartition(".")[0]
    if (where.rpartition(".")[2] == name and parent.partition(".")[0] in config["packages"]
            and name not in getattr(sys.modules.get(parent), "__all__", ())):
        del namespace[name]
sources = dict((module, set(names)) for module, names in config.get("sources", []))
missing = set(config.get("free", [])) - set(namespace)
while missing and sources:
    module = max(sorted(sources), key=lambda m: (len(missing & sources[m]), -m.count(".")))
    wanted = sorted(missing & sources.pop(module))
    if not wanted:
        break
    source = "from %s import %s" % (module, ", ".join(wanted))
    try:
        exec(compile(source, "<setup>", "exec"), namespace)
        missing -= set(wanted)
    except BaseException:  # a guess (another module may bind them); a name left out fails as such
        pass
for name, module in config.get("modules", []):
    if name in missing:
        try:
            exec(compile("import %s as %s" % (module, name), "<setup>", "exec"), namespace)
        except BaseException:
            pass
ran, failures, reported = 0, [], {}
for source in config["statements"]:
    signal.alarm(int(config["statement_s"]))
    sys.setprofile(hook)
    try:
        exec(compile(source, "<issue>", "exec"), namespace)
        ran += 1
    except BaseException as e:
        failures.append(type(e).__name__)
    finally:
        sys.setprofile(None)
        signal.alarm(0)
        sys.stdout = sys.stderr = io.StringIO()
    new = [[p, l, n, c - reported.get((p, l, n), 0)] for (p, l, n), c in sorted(calls.items())
           if c != reported.get((p, l, n), 0)]
    reported = dict(calls)
    real_out.write("\n"""
    + MARKER
    + r"""" + json.dumps({"ran": ran, "failures": failures, "setup": setup, "calls": new}) + "\n")
    real_out.flush()
"""
)


Call = tuple[str, int, str, int]  # (path, first line, name, count): a code object the hook counted


@dataclass(frozen=True)
class ExampleStep:
    """One statement's run, in the order tried: whether it raised, and the calls it made (not those
    of the statements before it)."""

    raised: bool
    calls: tuple[Call, ...]


@dataclass(frozen=True)
class ExampleReport:
    """What the example's run reported: statements run and tried, the failures' exception names,
    each function of the workspace it called as (path, first line, name) with its call count, the
    set-up lines that failed before the statements (`import pkg: ModuleNotFoundError`), and each
    reported statement's own run (`steps`: which statement called what)."""

    ran: int
    tried: int
    failures: tuple[str, ...]
    calls: tuple[Call, ...]
    setup_failures: tuple[str, ...] = ()
    steps: tuple[ExampleStep, ...] = ()


def example_statements(issue: str, commands: Commands | None = None) -> list[str]:
    """The issue's example as statements to run in order: its prompt lines (`>>>`, IPython's
    `In [n]:`, read by the standard library's doctest parser) when it has any, else the top-level
    statements of its fenced blocks that parse as Python (a block with a Python 2 `print x` or its
    output pasted in keeps the rest), else its inline code spans that are calls or operations
    (`latex(acsc(x), inv_trig_style="full")`, `0**-oo`), else the code typed between its prose
    without fences (`_unfenced_code`: Django's issues, converted from Trac, have no fences; 30 of
    its 71 Lite issues have code so); at most MAX_STATEMENTS. Then, last, the run of what the issue
    runs rather than types: its test modules under pytest (`example_test_run`), else the command it
    runs of the workspace's `commands` (`example_command_run`: `pylint test.py --notes=...`), with
    the files it gives by name."""
    plain = "\n".join(line.rstrip() for line in issue.splitlines())  # GitHub's \r\n, trailing blanks
    try:
        sources = [e.source for e in doctest.DocTestParser().get_examples(_as_doctest(plain))]
    except ValueError:  # a prompt block indented inconsistently
        sources = []
    run, consumed = _run_of(plain, commands)
    if not sources:
        sources = [
            s for block in code_blocks(plain) if block not in consumed for s in _block_statements(block)
        ]
    if not sources:
        sources = [span for span in code_spans(plain) if _computes(span)]
    if not sources:
        sources = [s for run in _unfenced_code(plain) for s in _block_statements(run) if _does_something(s)]
    found = []
    for source in sources:
        try:
            ast.parse(source)
        except SyntaxError:
            continue
        found.append(source)
    return [*found[: MAX_STATEMENTS - 1], run] if run else found[:MAX_STATEMENTS]


def _run_of(issue: str, commands: Commands | None) -> tuple[str | None, set[str]]:
    """The statement running what the issue runs (`example_statements`), with the fenced blocks it
    writes as files and the one holding its command line: those are not statements of the example
    as well."""
    tests = example_tests(issue)
    run = example_test_run(tests, example_test_options(issue))
    if run is not None or commands is None:
        return run, {block for _, block in tests}
    plan = _command_plan(issue, commands)
    if plan is None:
        return None, set()
    # The block holding the command line is a shell session (`$ cmd`, its output).
    return _command_statement(plan, commands), {*plan.files.values(), plan.source} - {""}


# A test module: pytest collects `test*` functions and `Test*` classes at its top level.
_TEST_DEFINITION = re.compile(r"^(?:async\s+)?def\s+test\w*\s*\(|^class\s+Test\w*\s*[(:]", re.M)
_TEST_MODULE = re.compile(r"^(?:test_\w*|\w*_test)\.py$")  # pytest's default `python_files`
# A pytest command line, at a shell prompt or not, as `python -m pytest` or not; its words after.
_PYTEST_COMMAND = re.compile(r"^\s*(?:\$\s*)?(?:python[\d.]*\s+-m\s+)?(?:py\.test|pytest)(?=\s|$)(.*)$", re.M)
# pytest's options whose value is the next word (dropped with it: `-k expr` selects among tests the
# run does not have, `-p` loads a plugin the sandbox may not have, `-n` needs xdist), and those left
# out: they stop for a debugger or wait on one.
_PYTEST_VALUED = frozenset(
    {"-k", "-m", "-p", "-c", "-o", "-W", "-n", "--rootdir", "--basetemp", "--confcutdir", "--ignore",
     "--deselect", "--junitxml", "--log-file", "--numprocesses"}
)  # fmt: skip
_PYTEST_LEFT_OUT = frozenset(
    {"--pdb", "--trace", "--pdbcls", "--lf", "--last-failed", "--ff", "--sw", "--stepwise"}
)


def example_tests(issue: str) -> list[tuple[str, str]]:
    """The test modules of the issue's example as (file name, source): its fenced blocks that parse
    as Python and define tests at their top level (`def test_show_wrong_path(private_dir)` with its
    fixture, pytest-7220), named as the issue names them (`test_path_error.py:` before the block, or
    `# content of test_x.py` in its first line; a block named otherwise, `noxfile.py`, is none), else
    `test_example_<n>.py`. A pytest issue's example is a test file run with pytest, not statements:
    its functions only run when pytest collects them, with their fixtures."""
    found: list[tuple[str, str]] = []
    for fenced in led_code_blocks(issue):
        lead, block = fenced.lead, fenced.text
        if not _TEST_DEFINITION.search(block):
            continue
        try:
            ast.parse(block)
        except SyntaxError:
            continue
        named = _given_name(lead, block)
        if named and not _TEST_MODULE.match(named.rpartition("/")[2]):
            continue  # a file of tests' other kind (`noxfile.py`'s `def test(session)`), not pytest's
        name = named.rpartition("/")[2] if named else f"test_example_{len(found) + 1}.py"
        if name in {n for n, _ in found}:
            name = f"{name[:-3]}_{len(found) + 1}.py"
        found.append((name, block))
    return found


def example_test_options(issue: str) -> list[str]:
    """The options of the first pytest command line in the issue's code (fenced, then inline):
    `-rA`, `--fixtures`, `--import-mode=importlib`. Its paths are left out (the run has the
    example's own test modules), and so are `_PYTEST_VALUED`'s options with their values,
    `_PYTEST_LEFT_OUT`'s, and what follows a pipe, a redirection or another command."""
    for text in [*code_blocks(issue), *code_spans(issue)]:
        match = _PYTEST_COMMAND.search(text)
        if match is None:
            continue
        out, valued = [], False
        for word in match.group(1).split():
            if word in ("|", "&&", "||", ";") or word.startswith((">", "2>")):
                break
            option = word.partition("=")[0]
            if valued:
                valued = False
            elif word in _PYTEST_VALUED:
                valued = True
            elif word.startswith("-") and word != "--" and option not in _PYTEST_VALUED | _PYTEST_LEFT_OUT:
                out.append(word)
        return out
    return []


def example_test_run(tests: list[tuple[str, str]], options: list[str]) -> str | None:
    """The statement running the example's test modules (`example_tests`) with pytest, in a fresh
    folder of the sandbox, with the issue's pytest `options`: it raises when the tests fail (pytest's
    exit code 1, or any but 0 and 5, none collected), as the statement showing the issue does. None
    when the issue has no test module and no pytest option (a bare `pytest` runs nothing of the
    example)."""
    if not tests and not options:
        return None
    arguments = ["-p", "no:cacheprovider", *options]
    return _in_fresh_folder(
        dict(tests),
        f"_swe_lsp_code = __import__('pytest').main({sorted(dict(tests))!r} + {arguments!r})\n"
        "if int(_swe_lsp_code) not in (0, 5):\n"
        "    raise AssertionError('the example tests failed: pytest exit code %s' % int(_swe_lsp_code))\n",
    )


@dataclass(frozen=True)
class Commands:
    """What the workspace lets an issue's command line run: its console scripts (name ->
    `module:attribute`, from its packaging: `pylint = pylint:run_pylint`) and its top-level packages
    (`python -m sphinx`)."""

    scripts: Mapping[str, str]
    packages: frozenset[str]


def workspace_commands(index: RepoIndex) -> Commands:
    """The console scripts the workspace's packaging declares (pyproject.toml's `[project.scripts]`,
    setup.cfg's `console_scripts`, the `name = module:function` strings of setup.py's
    `entry_points`) and its top-level packages: what an issue's `pylint a` or `python -m sphinx`
    runs of it."""
    scripts: dict[str, str] = {}
    pyproject = read_text(index.root, "pyproject.toml") if "pyproject.toml" in index.paths else None
    if pyproject:
        try:
            declared = tomllib.loads(pyproject).get("project", {}).get("scripts", {})
        except tomllib.TOMLDecodeError:
            declared = {}
        scripts.update({str(k): str(v) for k, v in declared.items() if isinstance(v, str)})
    setup_cfg = read_text(index.root, "setup.cfg") if "setup.cfg" in index.paths else None
    if setup_cfg:
        parser = configparser.RawConfigParser()
        try:
            parser.read_string(setup_cfg)
            listed = parser.get("options.entry_points", "console_scripts", fallback="")
        except configparser.Error:
            listed = ""
        scripts.update(dict(_ENTRY_POINT.findall(listed)))
    setup_py = read_text(index.root, "setup.py") if "setup.py" in index.paths else None
    if setup_py and "console_scripts" in setup_py:
        scripts.update(dict(_QUOTED_ENTRY_POINT.findall(setup_py)))
    paths = sorted(p for p in index.paths if p.endswith(".py"))
    return Commands(scripts, frozenset(_packages(paths)))


_ENTRY_POINT = re.compile(r"^\s*([\w.-]+)\s*=\s*([\w.]+:[\w.]+)\s*$", re.M)
_QUOTED_ENTRY_POINT = re.compile(r"[\"']\s*([\w.-]+)\s*=\s*([\w.]+:[\w.]+)\s*[\"']")
# A shell prompt before a command (`$ `, `(venv) host:project user$ `); a quote before the `$`
# means the `$` is the command's own.
_SHELL_PROMPT = re.compile(r"^[^'\"`]*?\$\s+")
_SHELL_ENDS = frozenset({"|", "||", "&&", ";", "&"})
_PYTHON = re.compile(r"^python[\d.]*$")
_VERSION = re.compile(r"^v?\d+(?:\.\d+)+\S*$")
_TEST_RUNNERS = frozenset({"pytest", "py.test"})
_PYTHON_FENCES = frozenset({"", "python", "python3", "py", "py3"})
_FILE_ARGUMENT = re.compile(r"^[\w./-]+(?:\.(?:py|rst|txt|cfg|ini|toml|json|yaml|yml)|/)$")


def example_command(issue: str, commands: Commands) -> list[str] | None:
    """The first command line in the issue's code (fenced, then inline) that runs one of the
    workspace's console scripts or packages (`pylint test.py --notes="YES,???"`,
    `python3 -m sphinx -b html docs/ out`), as the argument vector its entry sees: the script's name
    or `-m` and the package, then the words up to a pipe, redirection or next command. None when
    it has none."""
    found = _found_command(issue, commands)
    return found[0] if found else None


def _found_command(issue: str, commands: Commands) -> tuple[list[str], str] | None:
    """`example_command`'s argument vector with the code (block or span) it was found in."""
    for text in [*code_blocks(issue), *code_spans(issue)]:
        for line in text.splitlines():
            try:
                words = shlex.split(_SHELL_PROMPT.sub("", line.strip(), count=1))
            except ValueError:  # an unclosed quote: prose or output, not a command
                continue
            if not words:
                continue
            ends = [i for i, w in enumerate(words) if w in _SHELL_ENDS or w.startswith((">", "2>", "<"))]
            words = words[: ends[0]] if ends else words
            if not words:
                continue
            program = words[0].rpartition("/")[2]
            if program in _TEST_RUNNERS or _VERSION.match(words[1] if len(words) > 1 else ""):
                continue  # pytest's line is `example_test_options`'; `pytest 4.4.0` is `pip list`'s
            if program in commands.scripts:
                return [program, *words[1:]], text
            module = words[2] if _PYTHON.match(program) and words[1:2] == ["-m"] and len(words) > 2 else ""
            if module.partition(".")[0] in commands.packages:
                return ["-m", *words[2:]], text
    return None


def given_files(issue: str) -> dict[str, str]:
    """The files the issue gives by name, each a fenced block: named by a comment as its first line
    (`# example.py`, `# in conf.py`, `# content of test_x.py`) or at the end of the line before it
    (`.pylintrc:`, "Simple `helloworld.py`"); relative paths only, the first block of a name. The
    files a directory tree it draws lays out (`_diagram_files`) and no block gives are empty."""
    out: dict[str, str] = {}
    laid_out: list[str] = []
    for fenced in led_code_blocks(issue):
        diagram = _diagram_files(fenced.text)
        name = None if diagram is not None else _given_name(fenced.lead, fenced.text)
        laid_out += diagram or []
        if name and name not in out:
            out[name] = fenced.text
    return {**dict.fromkeys(laid_out, ""), **out}


# A line of a directory tree as `tree` prints it (`|-- a.py`, `` `-- b.py``, `├── conf.py`), under
# its parents' rails (`|   `, `│   `) or blanks, four characters a level.
_DIAGRAM_ENTRY = re.compile(r"^(?P<rails>(?:[|│] {3}| {4})*)(?:[|`├└]-- |[├└]── )(?P<name>[^\s/]+)/?\s*$")


def _diagram_files(block: str) -> list[str] | None:
    """The files a directory tree drawn as `tree` prints it lays out (`a/a.py`, `a/b.py` of
    pylint-7114's `.` / `|-- a` / `|   |-- a.py`), to be made empty where the issue gives no text
    for them ("which are all empty"); None when the block is no such drawing. Its first line is the
    root (`.` or a folder, which the paths start with); an entry with entries under it is a folder,
    and so is one without an extension."""
    lines = [line for line in block.splitlines() if line.strip()]
    entries = [_DIAGRAM_ENTRY.match(line) for line in lines[1:]]
    if not entries or not all(entries) or _DIAGRAM_ENTRY.match(lines[0]):
        return None
    root = lines[0].strip().rstrip("/")
    stack: list[str] = [] if root == "." else [root]
    base = len(stack)
    paths: list[str] = []
    for entry in entries:
        assert entry is not None
        depth = base + len(entry.group("rails")) // 4
        stack[depth:] = [entry.group("name")]
        paths.append("/".join(stack))
    folders = {p.rpartition("/")[0] for p in paths}
    files = [p for p in paths if p not in folders and "." in p.rpartition("/")[2]]
    return [p for p in files if ".." not in p.split("/")]


_GIVEN = r"((?:[\w-]+/)*(?:[\w.-]+\.(?:py|rst|txt|cfg|ini|toml|json|yaml|yml)|\.?pylintrc))"
_NAMED_BY_COMMENT = re.compile(rf"^#\s*(?:in\s+|content\s+of\s+|file:?\s+)?{_GIVEN}\s*:?\s*$")
_NAMED_BEFORE = re.compile(rf"(?:^|[\s`'\"]){_GIVEN}[`'\"]?\s*:?\s*$")


def _given_name(lead: str, block: str) -> str | None:
    """The file name the issue gives a block (`given_files`), or None."""
    first = block.strip().splitlines()[0].strip() if block.strip() else ""
    named = _NAMED_BY_COMMENT.match(first) or _NAMED_BEFORE.search(lead)
    name = named.group(1) if named else None
    return name if name and ".." not in name.split("/") else None


def example_command_run(issue: str, commands: Commands) -> str | None:
    """The statement running the command the issue runs (`example_command`) as its console script
    or `python -m` would, in a fresh folder of the sandbox holding the files the issue gives
    (`command_files`): `sys.argv` set, the script's function called or the package run as
    `__main__`, its `SystemExit` caught (a linter exits non-zero when it reports). An exception it
    raises is the statement's own. None when the issue runs no command of the workspace's."""
    plan = _command_plan(issue, commands)
    return _command_statement(plan, commands) if plan else None


def command_files(issue: str, commands: Commands) -> dict[str, str] | None:
    """The files the command the issue runs gets in its folder (`example_command_run`): those it
    gives by name, and a `.py` file the command names that no block is named as when the issue has
    one unnamed Python block (fenced as Python or as nothing). None when it runs no command of the
    workspace's, or runs one on a file or folder it does not give (`docs/` of `python -m sphinx -b
    html docs/ out`, its project's `conf.py` left out): that run would show nothing of the issue."""
    plan = _command_plan(issue, commands)
    return dict(plan.files) if plan else None


@dataclass(frozen=True)
class _CommandPlan:
    """The command an issue runs, read once: its argument vector (`example_command`, else the build
    of the project it gives, `DEFAULT_BUILDS`), the files its folder gets (`command_files`) and the
    code its line was found in ("" for a build the issue does not write out)."""

    argv: tuple[str, ...]
    files: Mapping[str, str]
    source: str


def _command_plan(issue: str, commands: Commands) -> _CommandPlan | None:
    found = _found_command(issue, commands)
    given = given_files(issue)
    argv = found[0] if found else _default_build(given, commands)
    if argv is None:
        return None
    files = dict(given)
    unnamed = [
        b.text
        for b in led_code_blocks(issue)
        if b.language in _PYTHON_FENCES and not _given_name(b.lead, b.text) and _parses(b.text)
    ]
    wanted = [w for w in argv[1:] if w.endswith(".py") and not w.startswith("-") and w not in files]
    if len(unnamed) == 1 and len(wanted) == 1 and ".." not in wanted[0].split("/"):
        files[wanted[0]] = unnamed[0]
    folders = {name.rpartition("/")[0] + "/" for name in files}
    if any(
        _FILE_ARGUMENT.match(w) and w not in files and w.rstrip("/") + "/" not in folders for w in argv[1:]
    ):
        return None  # it runs on a file or folder the issue does not give: on nothing, here
    return _CommandPlan(tuple(argv), files, found[1] if found else "")


def _command_statement(plan: _CommandPlan, commands: Commands) -> str:
    """`example_command_run`'s statement for a command read (`_command_plan`)."""
    argv = list(plan.argv)
    if argv[0] == "-m":
        call = f"__import__('runpy').run_module({argv[1]!r}, run_name='__main__', alter_sys=True)"
        shown = ["python -m " + argv[1], *argv[2:]]
    else:
        module, _, attribute = commands.scripts[argv[0]].partition(":")
        entry = f"__import__('importlib').import_module({module!r})"
        call = f"__import__('functools').reduce(getattr, {attribute.split('.')!r}, {entry})()"
        shown = argv
    return _in_fresh_folder(
        plan.files,
        "_swe_lsp_sys = __import__('sys')\n"
        f"_swe_lsp_argv, _swe_lsp_sys.argv = _swe_lsp_sys.argv, {shown!r}\n"
        "try:\n"
        f"    {call}\n"
        "except SystemExit:\n"
        "    pass\n"
        "finally:\n"
        "    _swe_lsp_sys.argv = _swe_lsp_argv\n",
    )


# How a project the issue gives without saying how to run it is built, by the file marking it, when
# the workspace has the command: a Sphinx project (`conf.py`, as sphinx-quickstart writes it) with
# `sphinx-build` in HTML, as its `make html` does. 3 of the 13 Sphinx issues of the Lite dev set give
# their project so (`# conf.py`, `# index.rst`, `# example.py`) and no command.
DEFAULT_BUILDS = {"conf.py": ["sphinx-build", "-b", "html", "{folder}", "{folder}/_build/html"]}


def _default_build(files: Mapping[str, str], commands: Commands) -> list[str] | None:
    """The command building the project the issue gives (`DEFAULT_BUILDS`), or None."""
    for marker, argv in DEFAULT_BUILDS.items():
        given = [name for name in files if name.rpartition("/")[2] == marker]
        if given and argv[0] in commands.scripts:
            folder = given[0].rpartition("/")[0] or "."
            return [word.format(folder=folder) for word in argv]
    return None


def _parses(block: str) -> bool:
    try:
        ast.parse(block)
    except SyntaxError:
        return False
    return True


def _in_fresh_folder(files: Mapping[str, str], body: str) -> str:
    """A statement writing `files` (relative path -> text) into a fresh folder, running `body`
    there and removing the folder, back where it was. Names bound start with `_swe_lsp_`: the
    example's own stay as they were."""
    indented = "".join(f"    {line}\n" for line in body.splitlines())
    return (
        "_swe_lsp_os, _swe_lsp_shutil = __import__('os'), __import__('shutil')\n"
        "_swe_lsp_dir, _swe_lsp_cwd = __import__('tempfile').mkdtemp(), _swe_lsp_os.getcwd()\n"
        f"for _swe_lsp_name, _swe_lsp_source in {dict(files)!r}.items():\n"
        "    _swe_lsp_path = _swe_lsp_os.path.join(_swe_lsp_dir, _swe_lsp_name)\n"
        "    _swe_lsp_os.makedirs(_swe_lsp_os.path.dirname(_swe_lsp_path), exist_ok=True)\n"
        "    with open(_swe_lsp_path, 'w', encoding='utf-8') as _swe_lsp_file:\n"
        "        _swe_lsp_file.write(_swe_lsp_source)\n"
        "_swe_lsp_os.chdir(_swe_lsp_dir)\n"
        "try:\n"
        f"{indented}"
        "finally:\n"
        "    _swe_lsp_os.chdir(_swe_lsp_cwd)\n"
        "    _swe_lsp_shutil.rmtree(_swe_lsp_dir, ignore_errors=True)\n"
    )


def _block_statements(block: str) -> list[str]:
    """The top-level statements of a code block: all of them when it parses, else each top-level
    chunk (a line at the left margin and the indented lines under it) that parses alone. A bare
    annotation is left out: it is a pasted error line (`KeyError: 1`), not code."""
    try:
        return [ast.unparse(node) for node in ast.parse(block).body if not _bare_annotation(node)]
    except SyntaxError:
        pass
    chunks: list[list[str]] = []
    for line in block.splitlines():
        if line.strip() and (line[0].isspace() or line.lstrip().startswith((")", "]", "}"))) and chunks:
            chunks[-1].append(line)
        elif line.strip():
            chunks.append([line])
    out = []
    for chunk in chunks:
        try:
            out.extend(ast.unparse(n) for n in ast.parse("\n".join(chunk)).body if not _bare_annotation(n))
        except SyntaxError:
            continue
    return out


# A line at the left margin that starts code rather than prose: an import, a definition or
# decorator, a compound statement's keyword, an assignment, or a call written without a space
# before its parenthesis (`text.slugify('x')`; prose puts one there).
_CODE_LINE = re.compile(
    r"(?:from\s+[\w.]+\s+import\s|import\s+\w|(?:async\s+)?def\s+\w+\s*\(|class\s+\w+\s*[(:]|@[\w.]+"
    r"|(?:for|if|while|with|try|elif|else|except|finally)\b.*:$"
    r"|[\w.]+(?:\[[^\]]*\])?\s*(?:[-+*/|&]?=)(?!=)\s*\S|[\w.]+\(.*\)[\w.()\[\]]*\s*(?:#.*)?$)"
)


def _unfenced_code(text: str) -> list[str]:
    """The runs of code lines in `text` outside its fences: a line at the margin that starts code
    (`_CODE_LINE`) begins or continues a run, with the indented lines, closing brackets and comments
    under it (their leading tabs as four spaces: Trac keeps tabs); any other line ends it, and so
    does the line a traceback's frame quotes."""
    runs: list[list[str]] = []
    current: list[str] | None = None
    frame = False
    for line in outside_fences(text).splitlines():
        after_frame, frame = frame, bool(_FRAME_LINE.match(line))
        if not line.strip() or after_frame:  # a traceback's frame quotes its line: not the example
            current = None
        elif line[0].isspace() or line.startswith((")", "]", "}", "#")):
            if current is not None:
                current.append(_TABS.sub(lambda m: m.group(0).replace("\t", "    "), line))
        elif _CODE_LINE.match(line):
            if current is None:
                current = []
                runs.append(current)
            current.append(line)
        else:
            current = None
    return ["\n".join(run) for run in runs]


_TABS = re.compile(r"^[\t ]+")
_FRAME_LINE = re.compile(r'^\s*File "[^"]+", line \d+')


def _does_something(statement: str) -> bool:
    """Whether a statement of unfenced code runs anything: not a bare name, attribute or literal
    (a word of prose that happens to parse, `Description`)."""
    body = ast.parse(statement).body
    return any(not (isinstance(n, ast.Expr) and isinstance(n.value, ast.Name | ast.Attribute | ast.Constant))
               for n in body)  # fmt: skip


def _bare_annotation(node: ast.stmt) -> bool:
    return isinstance(node, ast.AnnAssign) and node.value is None


def _computes(span: str) -> bool:
    """An inline code span worth running: one expression that calls or operates on something (not a
    bare name, attribute or literal, which runs nothing of the workspace)."""
    try:
        tree = ast.parse(span, mode="eval")
    except SyntaxError:
        return False
    return any(isinstance(node, ast.Call | ast.BinOp | ast.UnaryOp | ast.Compare | ast.Subscript)
               for node in ast.walk(tree.body))  # fmt: skip


def _as_doctest(text: str) -> str:
    """`text` with IPython's prompts as doctest's (`In [n]:` as `>>>`, its `...:` continuations at
    their prompt's indent, as IPython aligns them only for the eye) and `>>>x` as `>>> x`."""
    lines, indent = [], ""
    for line in text.splitlines():
        cell, more = _IPYTHON_IN.match(line), _IPYTHON_MORE.match(line)
        if cell:
            indent = cell.group(1)
            line = f"{indent}>>> {line[cell.end() :]}"
        elif more:
            line = f"{indent}... {line[more.end() :]}"
        lines.append(_TIGHT_PROMPT.sub(r"\1>>> ", line))
    return "\n".join(lines)


def tracer_input(statements: list[str], index: RepoIndex, prelude: str = "") -> str:
    """The program's input (INPUT_PATH): the statements, the workspace's top-level packages to
    star-import first (an issue's snippet often leaves out the imports its reader's session has;
    not its tests', docs' or examples' packages), the example's free names with the workspace's
    modules that bind them (`name_sources`), its Python files, STATEMENT_S and the code run before
    the imports: `prelude`, then what the workspace's framework needs (`example_setup.setup_code`:
    Django's settings)."""
    paths = sorted(p for p in index.paths if p.endswith(".py"))
    packages = _packages(paths)
    imports = [f"import {p}\nfrom {p} import *" for p in packages]
    free = free_names(statements)
    sources = sorted((module, sorted(names)) for module, names in name_sources(index, packages, free).items())
    # An installed copy of a `src/` or `lib/` layout has its files without that folder.
    aliases = {p.split("/", 1)[1]: p for p in paths if p.startswith(("src/", "lib/"))}
    modules = [[name, module] for name in free if (module := module_named(name))]
    config = {"statements": statements, "imports": imports, "packages": packages, "paths": paths,
              "aliases": aliases, "modules": modules, "statement_s": STATEMENT_S}  # fmt: skip
    setup = "\n".join(code for code in (prelude, setup_code(index)) if code)
    return json.dumps({**config, "free": free, "sources": sources, "prelude": setup})


# The names the Python data stack's own documentation imports its modules as, which an issue's
# example uses without importing them (`xr.DataArray(np.random.randn(3, 3))`, xarray-4493;
# `so.Plot(...)`, seaborn-3010). `sp` is left out: scipy's and sympy's readers both use it.
CONVENTIONAL_MODULES = {
    "np": "numpy",
    "pd": "pandas",
    "plt": "matplotlib.pyplot",
    "mpl": "matplotlib",
    "sns": "seaborn",
    "so": "seaborn.objects",
    "xr": "xarray",
    "u": "astropy.units",
    "nx": "networkx",
    "da": "dask.array",
    "dd": "dask.dataframe",
}


def module_named(name: str) -> str | None:
    """The module a free name of the example stands for in its reader's session: a standard-library
    module of that name (`re` of `re.UNICODE`) or one of CONVENTIONAL_MODULES (`np`); None when the
    name is no module's."""
    if name in sys.stdlib_module_names and not name.startswith("_"):
        return name
    return CONVENTIONAL_MODULES.get(name)


def _packages(paths: list[str]) -> list[str]:
    """The workspace's top-level packages a user's session imports (at the root or under `src/` or
    `lib/`, as matplotlib has them)."""
    found = sorted({p.split("/")[0] for p in paths if p.count("/") == 1 and p.endswith("/__init__.py")})
    found += sorted({p.split("/")[1] for p in paths if p.startswith(("src/", "lib/")) and p.count("/") == 2
                     and p.endswith("/__init__.py")})  # fmt: skip
    return [p for p in found if p.isidentifier() and p not in _NOT_IMPORTED]


def free_names(statements: list[str]) -> list[str]:
    """The names the example reads and never binds that Python does not provide: what its reader's
    session had defined (`x` after `from sympy.abc import x`, `joule` from `sympy.physics.units`).
    11 of the 37 sympy Lite examples that failed to run at all failed on such a name."""
    bound: set[str] = set()
    read: set[str] = set()
    for source in statements:
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.Name):
                (read if isinstance(node.ctx, ast.Load) else bound).add(node.id)
            elif isinstance(node, ast.alias):
                bound.add((node.asname or node.name).partition(".")[0])
            elif isinstance(node, ast.arg):
                bound.add(node.arg)
            elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef | ast.ExceptHandler):
                bound.add(node.name or "")
    return sorted(n for n in read - bound if not hasattr(builtins, n))


# A binding at a module's top level: `def`/`class`, an assignment to names (`a, b = symbols("a b")`)
# or a `from ... import` (a package's `__init__` re-exporting its names).
_BINDING = re.compile(
    r"^(?:async\s+def|def|class)\s+(\w+)"
    r"|^(\w+(?:[ \t]*,[ \t]*\w+)*)[ \t]*=(?!=)"
    r"|^from[ \t]+[\w.]+[ \t]+import[ \t]+(\([^)]*\)|[^\n#;]+)",
    re.M,
)


def name_sources(index: RepoIndex, packages: list[str], names: list[str]) -> dict[str, set[str]]:
    """The modules of `packages` (not their tests, docs, examples or benchmarks) that bind some of
    `names` at their top level, each with those names: where the program looks for what the example
    left undefined. It imports them greedily, first the module that binds the most names still
    missing (`x`, `y`, `z` together from `sympy.abc` rather than one by one from wherever a module
    happens to define an `x`), then the one nearest the package's top."""
    wanted = set(names)
    out: dict[str, set[str]] = {}
    if not wanted:
        return out
    for path in index.paths:
        parts = path.removeprefix("src/").removeprefix("lib/").removesuffix(".py").split("/")
        if (not path.endswith(".py") or parts[0] not in packages or _TEST_PATH.search(path)
                or not all(p.isidentifier() and p not in _NOT_IMPORTED for p in parts)):  # fmt: skip
            continue
        text = read_text(index.root, path)
        if text is None:
            continue
        bound = set()
        for match in _BINDING.finditer(text):
            single, targets, imported = match.groups()
            if single:
                bound.add(single)
            elif targets:
                bound.update(t.strip() for t in targets.split(","))
            else:
                for item in imported.strip("()").split(","):
                    bound.add(item.split()[-1] if item.split() else "")
        found = bound & wanted
        if found:
            module = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            out[module] = found
    return out


def parse_report(stdout: str, tried: int) -> ExampleReport:
    """The program's report from its standard output: it prints one line per statement run, with
    the calls that statement added, so a run stopped partway (the sandbox's time limit) still tells
    what its finished statements called. ValueError with the reason when there is none (the
    interpreter failed before a statement finished) or one does not read."""
    found = [line[len(MARKER) :] for line in stdout.splitlines() if line.startswith(MARKER)]
    if not found:
        raise ValueError("the example's program printed no report (its interpreter failed before it ran)")
    counts: dict[tuple[str, int, str], int] = {}
    steps: list[ExampleStep] = []
    failed = 0
    try:
        for text in found:
            data = json.loads(text)
            own = tuple((str(path), int(line), str(name), int(n)) for path, line, name, n in data["calls"])
            for path, line, name, n in own:
                counts[(path, line, name)] = counts.get((path, line, name), 0) + n
            steps.append(ExampleStep(len(data["failures"]) > failed, own))
            failed = len(data["failures"])
        calls = tuple((*key, n) for key, n in sorted(counts.items()))
        failures, setup = tuple(str(f) for f in data["failures"]), tuple(str(s) for s in data["setup"])
        return ExampleReport(int(data["ran"]), tried, failures, calls, setup, tuple(steps))
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"the example's report does not read: {exc}") from exc


def called_symbols(index: RepoIndex, calls: Iterable[Call]) -> frozenset[tuple[str, str]]:
    """(path, qualified name) of the indexed symbols the calls ran: the function of the call's name
    whose span starts at its code's first line (a symbol's span starts at its first decorator, as a
    code object's first line does), else the innermost one of that name holding that line, else the
    file's one symbol of that name (an installed copy of another version, its lines moved). Lambdas,
    comprehensions and module bodies (`<lambda>`, `<module>`) name no symbol, nor does a class body:
    it runs when its module is imported, which says nothing of the class's use (its methods do)."""
    out: set[tuple[str, str]] = set()
    for path, line, name, _ in calls:
        entry = index.file(path)
        if entry is None or name.startswith("<"):
            continue
        same = [s for s in entry.symbols if s.short_name == name]
        found = _at(same, line) or (same[0] if len(same) == 1 else None)
        if found is not None and found.kind != "class":
            out.add((path, found.name))
    return frozenset(out)


def showing_statements(steps: Sequence[tuple[bool, bool]]) -> set[int]:
    """Which of the example's statements show the issue, given for each (whether it raised, whether
    it called the workspace): those that raised having called the workspace, else the last one that
    called it. Spectrum-based fault localization reads a failing test's coverage so; an issue's
    example sets up first and shows the bug last (or where it raises)."""
    calling = [i for i, (_, called) in enumerate(steps) if called]
    raised = {i for i in calling if steps[i][0]}
    return raised or set(calling[-1:])


def showing_files(index: RepoIndex, report: ExampleReport) -> frozenset[str]:
    """The workspace files whose functions the statements showing the issue called
    (`showing_statements`; `retrieval.SHOWING_FILE_WEIGHT`)."""
    called = [called_symbols(index, step.calls) for step in report.steps]
    shown = showing_statements([(step.raised, bool(c)) for step, c in zip(report.steps, called, strict=True)])
    return frozenset(path for i in shown for path, _ in called[i])


def _at(symbols: list[Symbol], line: int) -> Symbol | None:
    for s in symbols:
        if s.start == line:
            return s
    holding = [s for s in symbols if s.start <= line <= s.end]
    return max(holding, key=lambda s: s.start) if holding else None
