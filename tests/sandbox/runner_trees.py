"""Small repositories shaped like the real ones each runner is for, written by the tests."""

from __future__ import annotations

from pathlib import Path


def write(root: Path, files: dict[str, str]) -> Path:
    """Write each relative path's text under `root`; returns `root`."""
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


# A runtests.py that prints what Django's does at --verbosity 2 (unittest's verbose format, on
# stderr), running the unittest-based test apps under tests/ by label like Django's.
RUNTESTS = """\
import os, sys, unittest
here = os.path.dirname(os.path.abspath(__file__))
sys.path[:0] = [here, os.path.dirname(here)]
args = sys.argv[1:]
assert args[:5] == ["--verbosity", "2", "--settings=test_sqlite", "--parallel", "1"], args
labels = args[5:] or sorted(d for d in os.listdir(here) if os.path.isdir(os.path.join(here, d)))
loader = unittest.TestLoader()
suite = unittest.TestSuite()
for label in labels:
    if os.path.isdir(os.path.join(here, *label.split("."))):
        suite.addTests(loader.discover(os.path.join(here, label), top_level_dir=here))
    else:
        suite.addTests(loader.loadTestsFromName(label))
print("Testing against Django installed in %r" % os.path.join(os.path.dirname(here), "django"))
print("Found %d test(s)." % suite.countTestCases())
result = unittest.TextTestRunner(verbosity=2).run(suite)
sys.exit(bool(result.failures or result.errors))
"""

# A bin/test that prints what SymPy's legacy runner does with -C --verbose: the file and its
# count, one `name status` line per test, `[OK]`/`[FAIL]` after a file's last test, tracebacks
# under `___ path:name ___` headers, and the closing count line.
BIN_TEST = """\
import importlib.util, os, sys, traceback
args = sys.argv[1:]
assert args[:2] == ["-C", "--verbose"], args
args, kw = args[2:], []
if "-k" in args:
    args, kw = args[: args.index("-k")], args[args.index("-k") + 1 :]
files = args or sorted(
    os.path.join(d, f) for d, _, fs in os.walk("sympy") for f in fs
    if f.startswith("test_") and f.endswith(".py") and d.endswith("tests")
)
passed = failed = 0
failures = []
print("=" * 30 + " test process starts " + "=" * 29)
print("warnings:", os.environ.get("PYTHONWARNINGS"))
for path in files:
    spec = importlib.util.spec_from_file_location(path[:-3].replace("/", "."), path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    tests = [getattr(module, n) for n in sorted(vars(module)) if n.startswith("test_")]
    tests = [t for t in tests if not kw or any(k in t.__name__ for k in kw)]
    sys.stdout.write("%s[%d] " % (path, len(tests)))
    bad = False
    for test in tests:
        sys.stdout.write("\\n" + test.__name__ + " ")
        try:
            test()
        except AssertionError:
            sys.stdout.write("F"); failed += 1; bad = True
            failures.append((path, test.__name__, traceback.format_exc()))
        except Exception:
            sys.stdout.write("E"); failed += 1; bad = True
            failures.append((path, test.__name__, traceback.format_exc()))
        else:
            sys.stdout.write("ok"); passed += 1
    sys.stdout.write("%50s\\n\\n" % ("[FAIL]" if bad else "[OK]"))
for path, name, tb in failures:
    print(("_" * 20) + " %s:%s " % (path, name) + "_" * 20)
    print(tb)
print(" tests finished: %d passed, %d failed, in 0.01 seconds " % (passed, failed))
sys.exit(1 if failed else 0)
"""


def django_tree(root: Path) -> Path:
    """django/ with a models package, and test apps under tests/ run by a runtests.py."""
    return write(
        root,
        {
            "django/__init__.py": "",
            "django/db/__init__.py": "",
            "django/db/models/__init__.py": "from django.db.models.query import Prefetch, QuerySet\n",
            "django/db/models/query.py": (
                "class QuerySet:\n    def count(self):\n        return 0\n\nclass Prefetch:\n    pass\n"
            ),
            "django/utils/__init__.py": "",
            "django/utils/text.py": "def capfirst(s):\n    return s[:1].upper() + s[1:]\n",
            "tests/runtests.py": RUNTESTS,
            "tests/test_sqlite.py": "DATABASES = {}\n",
            "tests/queries/__init__.py": "",
            "tests/queries/models.py": "",
            "tests/queries/tests.py": (
                "import unittest\nfrom django.db.models.query import QuerySet\n\n"
                "class QueryTests(unittest.TestCase):\n"
                "    def test_count(self):\n        self.assertEqual(QuerySet().count(), 0)\n\n"
                "    def test_other(self):\n        self.assertTrue(True)\n"
            ),
            "tests/prefetch_related/__init__.py": "",
            "tests/prefetch_related/tests.py": (
                "import unittest\nfrom django.db.models import Prefetch\n\n"
                "class PrefetchTests(unittest.TestCase):\n"
                "    def test_prefetch(self):\n        self.assertTrue(Prefetch)\n"
            ),
            "tests/basic/__init__.py": "",
            "tests/basic/tests.py": (
                "import unittest\nfrom django.db import models\n\n"
                "class BasicTests(unittest.TestCase):\n    def test_basic(self):\n        pass\n"
            ),
            "tests/utils_tests/__init__.py": "",
            "tests/utils_tests/test_text.py": (
                "import unittest\nfrom django.utils.text import capfirst\n\n"
                "class TextTests(unittest.TestCase):\n"
                "    def test_capfirst(self):\n        self.assertEqual(capfirst('ab'), 'Ab')\n"
            ),
            "tests/template_tests/__init__.py": "",
            "tests/template_tests/templatetags/__init__.py": "",
            "tests/template_tests/templatetags/testtags.py": "",
        },
    )


def sympy_tree(root: Path) -> Path:
    """sympy/ with core and printing packages, their tests/ folders, and a bin/test."""
    return write(
        root,
        {
            "bin/test": BIN_TEST,
            "sympy/__init__.py": "",
            "sympy/core/__init__.py": "from sympy.core.expr import Expr\n",
            "sympy/core/expr.py": "class Expr:\n    def double(self, x):\n        return 2 * x\n",
            "sympy/core/basic.py": "class Basic:\n    pass\n",
            "sympy/core/tests/__init__.py": "",
            "sympy/core/tests/test_expr.py": (
                "from sympy.core.expr import Expr\n\n"
                "def test_double():\n    assert Expr().double(2) == 4\n\n"
                "def test_zero():\n    assert Expr().double(0) == 0\n"
            ),
            "sympy/core/tests/test_basic.py": (
                "from sympy.core.basic import Basic\n\ndef test_basic():\n    assert Basic()\n"
            ),
            "sympy/core/tests/test_arit.py": (
                "from sympy.core import Expr\n\ndef test_arit():\n    assert Expr().double(1) == 2\n"
            ),
            "sympy/printing/__init__.py": "",
            "sympy/printing/str.py": "from sympy.core.expr import Expr\n",
            "sympy/printing/tests/__init__.py": "",
            "sympy/printing/tests/test_str.py": (
                "from sympy.core.expr import Expr\n\ndef test_str():\n    assert Expr().double(3) == 6\n"
            ),
            "sympy/printing/tests/test_other.py": "def test_other():\n    pass\n",
        },
    )
