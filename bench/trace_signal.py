"""What running the issue's own example tells localization: the functions it calls (issue 14).

    SWE_LSP_BENCH_MIRRORS=/work/.mirror python bench/trace_signal.py [--repos sympy/sympy]

Lexical and history signals look used up on the Lite issues (README, "Not served"): a gold method of
the top file shares its file's score with dozens of siblings and differs only by word overlap. What
separates `LatexPrinter._print_MatrixElement` from its siblings is that `latex((M*N)[i, j])`, the
issue's example, calls it. Each instance's example runs here as the product runs it in the
workspace's sandbox (`swe_lsp.workspace.example_run`: its statements, the program that runs them one
by one under a profile hook with the workspace's packages star-imported, the symbols the calls name)
on the tree at the instance's base commit. Then, on `bench/symbol_tune.py`'s dumps of the product's
own candidates, variants add a weight to the called symbols' hand scores (what
`retrieval.EXECUTED_WEIGHT` serves), or to the executed files' scores, or draw the executed files
beyond the best into the candidates (symbol_tune's `dump` with the example's calls, cached under
bench/.cache/trace-drawn/), scored on the two halves by id as every symbol-stage setting is.

Only repositories whose examples run here are measured (RUNS_HERE): sympy (pure Python, its one
dependency, mpmath, is in this environment; a release older than this Python gets the few names it
misses put back, PRELUDE), Django (pure Python, its three dependencies installed under DEPS; its
examples get the settings `example_setup.setup_code` gives Django's own tree, as the product's do),
seaborn and xarray (pure Python, on their dependencies' releases of the time), and matplotlib,
scikit-learn and astropy on their released wheels (their C extensions are not built here), on the
Python of their time where this one has no wheel (PYTHON). Each
statement's own calls are kept (`ExampleReport.steps`), for the files the statements showing the
issue ran (`example_run.showing_statements`, `retrieval.SHOWING_FILE_WEIGHT`) and the variants that
weigh what they called. The issue's code runs on this machine, in a child process, only because
these are public issues of this bench; the product runs it only in the sandbox.

Needs `bench/symbol_tune.py`'s dumps (it reads them, it does not make them; they hold no example, so
a variant's weight is the whole of it). Traces are cached under bench/.cache/trace/. Summary:
bench/results/trace_signal.json.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
sys.path.insert(0, str(HERE))

from localize import CACHE, FILE_KS, SYMBOL_KS, materialize, recall, selected_rows  # noqa: E402
from rank_history import STORE  # noqa: E402
from semantic_tune import product_args, served_model  # noqa: E402
from symbol_tune import DUMPS, dump, replay, replay_files  # noqa: E402

from swe_lsp.workspace import retrieval  # noqa: E402
from swe_lsp.workspace.example_run import (  # noqa: E402
    INPUT_PATH,
    PROGRAM_PATH,
    TRACER,
    called_symbols,
    example_statements,
    parse_report,
    showing_statements,
    tracer_input,
    workspace_commands,
)
from swe_lsp.workspace.index import RepoIndex  # noqa: E402

TRACES = CACHE / "trace"
# symbol_tune's dumps with the executed files beyond the best drawn in, for the instances whose
# example called functions there (measured, not served).
DRAWN = CACHE / "trace-drawn"
RESULTS = HERE / "results" / "trace_signal.json"
# Seconds a whole example may run, imports included (its statements have `example_run.STATEMENT_S`
# each).
EXAMPLE_S = 180
# Repositories (and their versions, "*" any) whose examples run here, with what they import besides
# the standard library, installed under DEPS (pip's `--target`, made on the first run; sympy's
# mpmath is in this environment already). sympy and Django are pure Python and run from the tree.
# Matplotlib's C extensions are not built here: its examples run on the released wheel of their
# minor version (3.3.4, 3.5.3, 3.6.3, 3.7.5), whose files map to the tree's by path (`example_run`:
# an installed copy of a `lib/` layout) and whose functions map to the tree's by name where their
# lines moved: a measure of the signal on code a release or so away from the instance's, where the
# product runs the workspace's own.
# seaborn and xarray are pure Python and run from the tree, on the numpy/pandas/matplotlib (and
# dask, which `DataArray.chunk` imports) releases of their versions' time. scikit-learn's and
# astropy's C extensions are not built here either: their examples run on the released wheel of
# the version (scikit-learn 0.20.4, 0.21.3, 0.22.2.post1, 1.3.0; astropy 1.3.3).
# Sphinx 3.x-4.0 declared its dependencies open-ended; their later releases dropped what it uses
# (Jinja2's `environmentfilter`, docutils' old node API) or require a newer Sphinx.
SPHINX_3_PINS = (
    "Jinja2<3.1", "markupsafe<2.1", "docutils<0.17", "alabaster<0.7.13", "sphinxcontrib-applehelp<1.0.5",
    "sphinxcontrib-devhelp<1.0.3", "sphinxcontrib-htmlhelp<2.0.2", "sphinxcontrib-serializinghtml<1.1.6",
    "sphinxcontrib-qthelp<1.0.4",
)  # fmt: skip
RUNS_HERE: dict[str, dict[str, tuple[str, ...]]] = {
    "sympy/sympy": {"*": ()},
    "django/django": {"*": ("asgiref", "sqlparse", "pytz")},
    "matplotlib/matplotlib": {
        "3.3": ("matplotlib==3.3.4", "numpy==1.19.5"),
        "3.5": ("matplotlib==3.5.3", "numpy==1.21.6"),
        "3.6": ("matplotlib==3.6.3", "numpy<2"),
        "3.7": ("matplotlib==3.7.5", "numpy<2"),
    },
    "mwaskom/seaborn": {
        "0.12": ("numpy==1.23.5", "pandas==1.5.3", "matplotlib==3.6.3"),
        "0.13": ("numpy==1.25.2", "pandas==2.0.3", "matplotlib==3.7.5"),
    },
    "pydata/xarray": {"0.12": ("numpy==1.23.5", "pandas==1.5.3", "scipy==1.10.1", "dask[array]==2022.2.0")},
    "scikit-learn/scikit-learn": {
        "0.20": ("scikit-learn==0.20.4", "numpy==1.16.6", "scipy==1.2.3", "pandas==0.24.2"),
        "0.21": ("scikit-learn==0.21.3", "numpy==1.17.5", "scipy==1.3.3", "pandas==0.25.3"),
        "0.22": ("scikit-learn==0.22.2.post1", "numpy==1.18.5", "scipy==1.4.1", "pandas==0.25.3"),
        "1.3": ("scikit-learn==1.3.0", "numpy==1.25.2", "pandas==2.0.3"),
    },
    "astropy/astropy": {"1.3": ("astropy==1.3.3", "numpy==1.13.3")},
    # pytest runs from the tree (`src/`, INSTALLED_FROM) on its release's dependencies (the release
    # itself is installed with them, and shadowed by the tree; a 5.4 tree late in its cycle imports
    # 6.0's new ones too); 6.3 was never released (it became 7.0), so 6.2.5's stand in.
    "pytest-dev/pytest": {
        "4.4": ("pytest==4.4.2",),
        "4.5": ("pytest==4.5.0",),
        "4.6": ("pytest==4.6.11",),
        "5.0": ("pytest==5.0.1",),
        "5.2": ("pytest==5.2.4",),
        "5.4": ("pytest==5.4.3", "iniconfig==1.0.1", "toml==0.10.1"),
        "6.3": ("pytest==6.2.5",),
        "7.0": ("pytest==7.0.1",),
        "8.0": ("pytest==8.0.2",),
    },
    # pylint and Sphinx run from the tree on their release's dependencies (the release installed
    # with them, shadowed by the tree; pylint 2.13's tree still imports `toml`); their examples are
    # commands (`pylint test.py --notes=...`) and projects of given files (`conf.py`, `index.rst`),
    # `example_run.example_command_run`.
    "pylint-dev/pylint": {
        "2.13": ("pylint==2.13.9", "toml==0.10.2"),
        "2.14": ("pylint==2.14.5",),
        "2.15": ("pylint==2.15.10",),
    },
    "sphinx-doc/sphinx": {
        **{
            version: (f"Sphinx=={release}", *SPHINX_3_PINS)
            for version, release in (
                ("3.1", "3.1.2"),
                ("3.2", "3.2.1"),
                ("3.3", "3.3.1"),
                ("3.4", "3.4.3"),
                ("3.5", "3.5.4"),
                ("4.0", "4.0.3"),
            )
        },
        "5.0": ("Sphinx==5.0.2",),
        "5.1": ("Sphinx==5.1.1",),
    },
}
# The folder of the tree a user's environment has installed (editable) for a `src/` layout run
# from the tree, and the module its build writes that the tree lacks (setuptools_scm's version).
INSTALLED_FROM = {"pytest-dev/pytest": "src"}
WRITTEN_AT_INSTALL = {"pytest-dev/pytest": "_pytest._version"}
# (repository, version) whose examples run on a released wheel of the project (above) rather than
# the tree: the tree must not be importable there, so the program runs from outside it.
FROM_RELEASE = {
    ("matplotlib/matplotlib", "3.3"),
    ("matplotlib/matplotlib", "3.5"),
    ("matplotlib/matplotlib", "3.6"),
    ("matplotlib/matplotlib", "3.7"),
    ("scikit-learn/scikit-learn", "0.20"),
    ("scikit-learn/scikit-learn", "0.21"),
    ("scikit-learn/scikit-learn", "0.22"),
    ("scikit-learn/scikit-learn", "1.3"),
    ("astropy/astropy", "1.3"),
}
# (repository, version) whose releases of the time have no wheel for this Python: their examples
# run on the Python of their time, as a user's environment of then had (the product runs the
# program with the workspace's own interpreter; it is written for any Python 3 from 3.6 on). This
# machine kind has them under pyenv (`PYENV_ROOT`, ~/.pyenv by default).
PYTHON = {
    ("matplotlib/matplotlib", "3.3"): "3.8",
    ("matplotlib/matplotlib", "3.5"): "3.10",
    ("scikit-learn/scikit-learn", "0.20"): "3.7",
    ("scikit-learn/scikit-learn", "0.21"): "3.7",
    ("scikit-learn/scikit-learn", "0.22"): "3.7",
    ("astropy/astropy", "1.3"): "3.6",
    **{("pytest-dev/pytest", v): "3.7" for v in ("4.4", "4.5", "4.6", "5.0", "5.2", "5.4")},
    ("pytest-dev/pytest", "6.3"): "3.9",
    ("pytest-dev/pytest", "7.0"): "3.9",
    ("pylint-dev/pylint", "2.13"): "3.10",
    ("pylint-dev/pylint", "2.14"): "3.10",
    **{("sphinx-doc/sphinx", v): "3.9" for v in ("3.1", "3.2", "3.3", "3.4", "3.5", "4.0", "5.0", "5.1")},
}
DEPS = CACHE / "example-deps"
# Run before the workspace's imports: a sympy release older than this Python misses a few names the
# standard library has moved since (`collections.Mapping`, `fractions.gcd`, `time.clock`); the
# product runs the example in the workspace's own environment, which needs none of this.
PRELUDE = """
import collections, collections.abc, fractions, math, time
for name in ("Mapping", "MutableMapping", "Sequence", "MutableSequence", "Set", "MutableSet",
             "Iterable", "Iterator", "Callable", "Hashable"):
    if not hasattr(collections, name):
        setattr(collections, name, getattr(collections.abc, name))
if not hasattr(fractions, "gcd"):
    fractions.gcd = math.gcd
if not hasattr(time, "clock"):
    time.clock = time.perf_counter
"""


def trace(row: dict) -> dict:
    """The instance's example run at its base commit as the product runs it (`example_run`):
    statements tried and run, the symbols it called (`called_symbols`) and the files they are in;
    cached under TRACES."""
    out = TRACES / f"{row['instance_id']}.json"
    # The statements depend on the workspace's commands (`workspace_commands`), so the tree is
    # checked out even for a cached trace: the statements decide whether it still holds.
    repo = row["repo"]
    tree = materialize(repo, row["base_commit"], CACHE / "trees" / f"rank-{repo.replace('/', '+')}")
    index = RepoIndex.build_or_load(tree, CACHE / "index", key=f"rank-{repo}")
    statements = example_statements(row["problem_statement"], workspace_commands(index))
    digest = hashlib.sha256(json.dumps(statements).encode()).hexdigest()[:16]
    if out.exists():
        kept = json.loads(out.read_text())
        # A trace from before each statement's run was kept has no `steps`: the showing statements'
        # files would read as none, so it is traced again rather than scored as if it had none; and
        # so is one of other statements (the command the issue runs is one more, its files in it).
        same = kept.get("digest", digest) == digest and kept["statements"] == len(statements)
        if ("steps" in kept or not kept["ran"]) and same:
            return kept
    found: dict = {"statements": len(statements), "digest": digest, "ran": 0, "called": []}
    if statements:
        # A released copy of the project runs the program from outside the tree: the tree's own
        # package (`sklearn/` at its root, unbuilt) must not shadow the installed one, and a
        # script's folder comes first on `sys.path`.
        outside = (repo, row["version"]) in FROM_RELEASE
        place = Path(tempfile.mkdtemp(prefix="trace-")) if outside else tree
        prelude = PRELUDE
        if repo in WRITTEN_AT_INSTALL:
            parent, _, child = WRITTEN_AT_INSTALL[repo].rpartition(".")
            prelude += (
                f"import importlib, sys, types\n_written = types.ModuleType({parent + '.' + child!r})\n"
                f"_written.version = {row['version'] + '.0'!r}\nsys.modules[_written.__name__] = _written\n"
                f"setattr(importlib.import_module({parent!r}), {child!r}, _written)\n"
            )
        (place / INPUT_PATH).write_text(tracer_input(statements, index, prelude))
        (place / PROGRAM_PATH).write_text(TRACER)
        started = time.perf_counter()
        try:
            run = subprocess.run(
                [interpreter(repo, row["version"]), str(place / PROGRAM_PATH), str(place / INPUT_PATH)],
                capture_output=True,
                text=True,
                timeout=EXAMPLE_S,
                cwd=tree,
                env={
                    **os.environ,
                    "PYTHONPATH": os.pathsep.join(
                        [
                            *([str(tree / INSTALLED_FROM[repo])] if repo in INSTALLED_FROM else []),
                            str(deps(repo, row["version"])),
                        ]
                    ),
                    "MPLBACKEND": "Agg",
                    # The example's tests run under the tree's pytest: this environment's plugins
                    # (pytest-asyncio) are written for another.
                    "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",
                },
            )
            report = parse_report(run.stdout, len(statements))
            found["ran"] = report.ran
            found["failures"], found["setup_failures"] = list(report.failures), list(report.setup_failures)
            found["called"] = sorted(f"{p}::{n}" for p, n in called_symbols(index, report.calls))
            counts: dict[str, int] = {}
            for call in report.calls:  # each symbol's calls, summed over the code objects naming it
                for p, n in called_symbols(index, [call]):
                    counts[f"{p}::{n}"] = counts.get(f"{p}::{n}", 0) + call[3]
            found["counts"] = counts
            found["steps"] = [
                {"raised": step.raised,
                 "called": sorted(f"{p}::{n}" for p, n in called_symbols(index, step.calls))}
                for step in report.steps
            ]  # fmt: skip
        except (subprocess.TimeoutExpired, ValueError) as exc:
            found["failure"] = str(exc)
        finally:
            (place / INPUT_PATH).unlink()
            (place / PROGRAM_PATH).unlink()
            if outside:
                place.rmdir()
        found["seconds"] = round(time.perf_counter() - started, 1)
    TRACES.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(found))
    print(f"{row['instance_id']}: {found['ran']} of {found['statements']} statements ran, "
          f"{len(found['called'])} symbols called", file=sys.stderr, flush=True)  # fmt: skip
    return found


def deps(repo: str, version: str) -> Path:
    """The folder holding what `repo`'s examples at `version` import besides the standard library
    (RUNS_HERE), installed there by pip on the first call."""
    wanted = runs_here(repo, version)
    folder = DEPS / repo.replace("/", "+")
    if version in RUNS_HERE.get(repo, {}):  # what this version needs, apart from the others'
        folder = folder.with_name(f"{folder.name}-{version}")
    if wanted and not folder.exists():
        subprocess.run(
            [interpreter(repo, version), "-m", "pip", "install", "-q", "--target", str(folder), *wanted],
            check=True,
        )
    return folder


def interpreter(repo: str, version: str) -> str:
    """The Python that runs `repo`'s examples at `version`: this one, or the older one PYTHON names,
    from pyenv's versions."""
    wanted = PYTHON.get((repo, version))
    if wanted is None:
        return sys.executable
    root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv")) / "versions"
    found = sorted(root.glob(f"{wanted}.*/bin/python{wanted}"))
    if not found:
        sys.exit(f"{repo} {version}'s examples need Python {wanted}, which is not under {root}")
    return str(found[-1])


def runs_here(repo: str, version: str) -> tuple[str, ...] | None:
    """What `repo`'s examples at `version` need installed (RUNS_HERE), or None when they cannot run
    here."""
    versions = RUNS_HERE.get(repo, {})
    return versions.get(version, versions.get("*"))


def with_trace(dump: dict, found: dict) -> dict:
    """The dump with each candidate's `called` flag and the example's `called` symbols and
    `executed_files`."""
    called, counts = set(found["called"]), found.get("counts", {})
    steps = found.get("steps", [])
    shown = showing_statements([(step["raised"], bool(step["called"])) for step in steps])
    out = copy.deepcopy(dump)
    for c in out["cands"]:
        name = f"{c['file']}::{c['name']}"
        c["called"] = name in called
        c["count"] = counts.get(name, 0)
        c["steps"] = [i for i, step in enumerate(steps) if name in step["called"]]
        c["showing"] = bool(shown & set(c["steps"]))
    out["showing_steps"] = len(shown)
    out["showing_files"] = sorted({n.partition("::")[0] for i in shown for n in steps[i]["called"]})
    out["called"] = sorted(called)
    out["executed_files"] = sorted({name.partition("::")[0] for name in called})
    return out


def drawn(row: dict, plain: dict, found: dict, queries: int, summary: Path) -> dict:
    """The instance's dump as the symbol stage would see it if the files the example executed beyond
    the best were drawn in (not served: it loses functions): symbol_tune's `dump` with the example's
    calls, cached under DRAWN; `plain` (the dump without) when it executed none there."""
    beyond = {name.partition("::")[0] for name in found["called"]} - set(plain["files"])
    if not beyond:
        return plain
    kept = DRAWN / f"{row['instance_id']}.json"
    if kept.exists():
        return json.loads(kept.read_text())
    model = served_model(summary, queries, row["repo"])
    made = dump(row, queries, model, executed=found["called"], under=DRAWN)
    assert made is not None, row["instance_id"]  # it has a plain dump, so rank_history cached it
    return made


Weigh = Callable[[dict], float]  # a called candidate's share of the weight (not served: measured)


def boosted(
    dumps: list[dict],
    symbol: float,
    file: float,
    most: int | None = None,
    weigh: Weigh | None = None,
    showing: float = 0.0,
) -> list[dict]:
    """The dumps as the stage would see them if each executed symbol's hand score gained `symbol`
    (only those the example called at most `most` times, when given; times `weigh(candidate)`, when
    given: neither measured as served), each executed file's score `file` and each file the
    statements showing the issue executed `showing` (the files re-sorted)."""
    out = []
    for d in dumps:
        e = copy.deepcopy(d)
        for c in e["cands"]:
            if c["called"] and (most is None or c["count"] <= most):
                gain = symbol * (weigh(c) if weigh else 1.0)
                c["hand"] = round(c["hand"] + gain, 4)
                c["hand_plain"] = round(c["hand_plain"] + gain, 4)
        executed, shown = set(e["executed_files"]), set(e["showing_files"])
        files = zip(e["files"], e["file_scores"], strict=True)
        scores = [s + (file if p in executed else 0.0) + (showing if p in shown else 0.0) for p, s in files]
        order = sorted(range(len(scores)), key=lambda i: -scores[i])
        e["files"], e["file_scores"] = [e["files"][i] for i in order], [scores[i] for i in order]
        out.append(e)
    return out


def scored(
    dumps: list[dict],
    symbol: float,
    file: float,
    most: int | None = None,
    weigh: Weigh | None = None,
    showing: float = retrieval.SHOWING_FILE_WEIGHT,
    showing_moves_symbols: bool = False,
) -> dict[str, float | None]:
    """`boosted` dumps scored as the product ranks them: the functions with the symbol and file
    weights, the files with the file weights only (their similarity is read from the symbol order
    without the example's weight, `retrieval._without_example`); the showing statements' files'
    weight (`retrieval.SHOWING_FILE_WEIGHT`) moves the files after the symbols are ranked (with
    `showing_moves_symbols`, not served, the symbols' file places too)."""
    on_symbols = showing if showing_moves_symbols else 0.0
    files = [
        {"gold": d["gold_files"], "ranked": replay_files(d)}
        for d in boosted(dumps, 0.0, file, showing=showing)
    ]
    functions = [
        {"gold": d["gold_symbols"], "ranked": replay(d)}
        for d in boosted(dumps, symbol, file, most, weigh, on_symbols)
    ]
    return {
        **{f"file@{k}": recall(files, "gold", "ranked", k) for k in FILE_KS},
        **{f"function@{k}": recall(functions, "gold", "ranked", k) for k in SYMBOL_KS},
    }


# name -> (weight of the executed symbols, of the executed files, of the showing statements' files)
SERVED = (
    f"served: executed symbols +{retrieval.EXECUTED_WEIGHT}, showing files +{retrieval.SHOWING_FILE_WEIGHT}"
)
VARIANTS = {
    "no example": (0.0, 0.0, 0.0),
    **{f"executed symbols +{w}": (w, 0.0, 0.0) for w in (0.2, 0.4, 0.6, 0.8, 1.0)},
    **{f"executed files +{w}": (0.0, w, 0.0) for w in (0.1, 0.2, 0.3)},
    "executed symbols +0.6, files +0.2": (0.6, 0.2, 0.0),
    **{
        f"executed symbols +{retrieval.EXECUTED_WEIGHT}, showing files +{w}": (
            retrieval.EXECUTED_WEIGHT,
            0.0,
            w,
        )
        for w in (0.2, 0.4, 0.5, 0.7)
    },
    SERVED: (retrieval.EXECUTED_WEIGHT, 0.0, retrieval.SHOWING_FILE_WEIGHT),
}


# Which statements called a symbol, measured (not served): the weight only, or more, for what the
# statements showing the issue called (`example_run.showing_statements`), or less for what many
# statements called.
STEP_VARIANTS: dict[str, Weigh] = {
    "only what the showing statements called": lambda c: float(c["showing"]),
    "half for what only the others called": lambda c: 1.0 if c["showing"] else 0.5,
    "over the root of the statements calling it": lambda c: 1 / math.sqrt(max(1, len(c["steps"]))),
    "only what one statement called": lambda c: float(len(c["steps"]) <= 1),
}


def coverage(dumps: list[dict], traces: dict[str, dict]) -> dict:
    """How often the example ran and reached the gold functions and files."""
    ran = [d for d in dumps if traces[d["instance_id"]]["ran"]]
    with_gold = [d for d in ran if d["gold_symbols"]]
    among = [{f"{c['file']}::{c['name']}" for c in d["cands"] if c["called"]} for d in with_gold]
    outside = [
        d["instance_id"]
        for d in ran
        if not set(d["gold_files"]) <= set(d["files"]) and set(d["gold_files"]) <= set(d["executed_files"])
    ]

    def median(values: list[int]) -> int:
        return sorted(values)[len(values) // 2] if values else 0

    return {
        "instances": len(dumps),
        "with_example": sum(1 for d in dumps if traces[d["instance_id"]]["statements"]),
        "example_ran": len(ran),
        "gold_functions_all_called": sum(set(d["gold_symbols"]) <= set(d["called"]) for d in with_gold),
        "gold_functions_all_called_among_candidates": sum(
            set(d["gold_symbols"]) <= names for d, names in zip(with_gold, among, strict=True)
        ),
        "ran_with_gold_functions": len(with_gold),
        "gold_files_all_executed": sum(set(d["gold_files"]) <= set(d["executed_files"]) for d in ran),
        "median_candidates_called": median([sum(c["called"] for c in d["cands"]) for d in ran]),
        "median_candidates": median([len(d["cands"]) for d in ran]),
        "median_files_executed": median([len(d["executed_files"]) for d in ran]),
        "median_seconds": median([traces[d["instance_id"]].get("seconds", 0) for d in ran]),
        "gold_files_executed_outside_the_symbol_stage_files": outside,
    }


def whole_dataset(data: Path, queries: int, dumps: list[dict], drawn_dumps: list[dict]) -> dict[str, dict]:
    """The product's recall over every instance rank_history cached (its own files and functions),
    with the traced instances' replayed by the symbol stage without and with the example's weight
    (`retrieval.EXECUTED_WEIGHT`), and with the files it executed beyond the best drawn in as well
    (not served): what the README's table would read if the example ran where it runs here."""
    rows = [json.loads(line) for line in data.read_text().splitlines() if line.strip()]
    out = {}
    for name, weight, showing, chosen in (
        ("product (replayed)", 0.0, 0.0, dumps),
        ("product with the example's symbols only (as served before)", retrieval.EXECUTED_WEIGHT, 0.0, dumps),
        ("product with the example", retrieval.EXECUTED_WEIGHT, retrieval.SHOWING_FILE_WEIGHT, dumps),
        (
            "product with the example, its files drawn (not served)",
            retrieval.EXECUTED_WEIGHT,
            retrieval.SHOWING_FILE_WEIGHT,
            drawn_dumps,
        ),
    ):
        traced = {d["instance_id"]: d for d in chosen}
        files, functions = [], []
        for row in rows:
            cached = STORE / f"instances-q{queries}" / f"{row['instance_id']}.json"
            if not cached.exists():
                continue
            record = json.loads(cached.read_text())
            d = traced.get(row["instance_id"])
            ranked_files, ranked = record["product_files"], record["product_symbols"]
            if d is not None:
                ranked_files = replay_files(boosted([d], 0.0, 0.0, showing=showing)[0])
                ranked = replay(boosted([d], weight, 0.0)[0])
            files.append({"gold": record["gold_files"], "ranked": ranked_files})
            functions.append({"gold": record["gold_symbols"], "ranked": ranked})
        out[name] = {
            "instances": len(files),
            **{f"file@{k}": recall(files, "gold", "ranked", k) for k in FILE_KS},
            **{f"function@{k}": recall(functions, "gold", "ranked", k) for k in SYMBOL_KS},
        }
    return out


def main() -> int:
    args = product_args(__doc__.split("\n\n")[0], RESULTS)
    if not args.repos:
        args.repos = ",".join(RUNS_HERE)
    rows = [r for r in selected_rows(args) if runs_here(r["repo"], r["version"]) is not None]
    missing = [r["instance_id"] for r in rows if not (DUMPS / f"{r['instance_id']}.json").exists()]
    if missing:
        sys.exit(
            f"no symbol_tune dump for {len(missing)} instances (run bench/symbol_tune.py): {missing[:3]}"
        )
    traces = {r["instance_id"]: trace(r) for r in rows}
    dumps = sorted(
        (with_trace(json.loads((DUMPS / f"{i}.json").read_text()), t) for i, t in traces.items()),
        key=lambda d: d["instance_id"],
    )
    by_id = {r["instance_id"]: r for r in rows}
    drawn_dumps = [
        with_trace(drawn(by_id[d["instance_id"]], d, traces[d["instance_id"]], args.queries, args.summary),
                   traces[d["instance_id"]])
        for d in dumps
    ]  # fmt: skip
    results = {}
    halves = {"a": dumps[0::2], "b": dumps[1::2], "all": dumps}
    for name, (symbol, file, showing) in VARIANTS.items():
        results[name] = {h: scored(part, symbol, file, showing=showing) for h, part in halves.items()}
    for most in (1, 3, 10, 100):
        results[f"executed symbols +{retrieval.EXECUTED_WEIGHT}, called at most {most} times"] = {
            h: scored(part, retrieval.EXECUTED_WEIGHT, 0.0, most) for h, part in halves.items()
        }
    for name, weigh in STEP_VARIANTS.items():
        results[f"executed symbols +{retrieval.EXECUTED_WEIGHT}, {name}"] = {
            h: scored(part, retrieval.EXECUTED_WEIGHT, 0.0, weigh=weigh) for h, part in halves.items()
        }
    results[f"{SERVED}, the showing files' weight moving the symbols' file places"] = {
        h: scored(part, retrieval.EXECUTED_WEIGHT, 0.0, showing_moves_symbols=True)
        for h, part in halves.items()
    }
    drawn_halves = {"a": drawn_dumps[0::2], "b": drawn_dumps[1::2], "all": drawn_dumps}
    for w in (0.6, 0.8):
        results[
            f"executed symbols +{w}, showing files +{retrieval.SHOWING_FILE_WEIGHT}, their files drawn"
        ] = {h: scored(part, w, 0.0) for h, part in drawn_halves.items()}
    repos = sorted({r["repo"] for r in rows})
    for repo in repos:
        part = [d for d in dumps if d["instance_id"].startswith(repo.replace("/", "__") + "-")]
        for name in ("no example", f"executed symbols +{retrieval.EXECUTED_WEIGHT}", SERVED):
            symbol, file, showing = VARIANTS[name]
            results[name][repo] = scored(part, symbol, file, showing=showing)
    summary = {
        "repos": repos,
        "coverage": coverage(dumps, traces),
        "variants": results,
        "whole_dataset": whole_dataset(args.data, args.queries, dumps, drawn_dumps),
    }
    args.out.write_text(json.dumps(summary, indent=1) + "\n")
    print(json.dumps({k: summary[k] for k in ("coverage", "whole_dataset")}, indent=1))
    for name, r in results.items():
        shown = "  ".join(
            f"{h} "
            + "/".join(
                str(r[h][m]) for m in [*(f"file@{k}" for k in FILE_KS), *(f"function@{k}" for k in SYMBOL_KS)]
            )
            for h in halves
        )
        print(f"{name:36s} {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
