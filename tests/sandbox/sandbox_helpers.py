"""Helpers for the sandbox tests: a tiny buggy pure-Python package, a C extension's source, and
test settings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from swe_lsp.settings import SandboxSettings

BUGGY = "def add(a, b):\n    return a - b\n"
GOOD = "def add(a, b):\n    return a + b\n"
BAD = "def add(a, b):\n    return a * b\n"
REPRO = "from calc.ops import add\nassert add(2, 3) == 5, add(2, 3)\nprint('fixed')\n"
# An extension module `_fast` with `add(a, b)`, for the projects that build one.
FAST_ADD_C = """\
    #include <Python.h>
    static PyObject* add(PyObject* s, PyObject* a) {
        long x, y; if (!PyArg_ParseTuple(a, "ll", &x, &y)) return NULL; return PyLong_FromLong(x + y);
    }
    static PyMethodDef M[] = {{"add", add, METH_VARARGS, ""}, {NULL, NULL, 0, NULL}};
    static struct PyModuleDef D = {PyModuleDef_HEAD_INIT, "_fast", NULL, -1, M};
    PyMODINIT_FUNC PyInit__fast(void) { return PyModule_Create(&D); }
    """


@dataclass(frozen=True)
class CalcRepo:
    """A pure-Python package whose `add` subtracts, with a pytest test that catches it."""

    path: Path
    good: dict[str, bytes | None]
    bad: dict[str, bytes | None]
    repro: str


def make_calc_repo(repo: Path) -> CalcRepo:
    """Write the buggy package to `repo`; the patches fix it (good) or break it differently (bad)."""
    (repo / "calc").mkdir(parents=True)
    (repo / "tests").mkdir()
    (repo / "calc" / "__init__.py").write_text("")
    (repo / "calc" / "ops.py").write_text(BUGGY)
    (repo / "calc" / "text.py").write_text("def shout(s):\n    return s.upper()\n")
    (repo / "tests" / "test_ops.py").write_text(
        "from calc.ops import add\n\ndef test_add():\n    assert add(2, 3) == 5\n"
    )
    (repo / "tests" / "test_text.py").write_text(
        "from calc import text\n\ndef test_shout():\n    assert text.shout('a') == 'A'\n"
    )
    (repo / "pyproject.toml").write_text('[project]\nname = "calc"\nversion = "0"\ndependencies = []\n')
    return CalcRepo(repo, {"calc/ops.py": GOOD.encode()}, {"calc/ops.py": BAD.encode()}, REPRO)


def settings(**overrides: object) -> SandboxSettings:
    """Sandbox settings for tests: short timeouts unless a test asks otherwise."""
    values: dict[str, object] = {"timeout_s": 120.0, "max_output_bytes": 4096}
    values.update(overrides)
    return SandboxSettings.model_validate(values)
