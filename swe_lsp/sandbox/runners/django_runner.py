"""Django's own test suite: `tests/runtests.py` with test apps in `tests/<app>/`.

Test modules are `tests/<app>/tests.py`, `test_*.py` or `tests_*.py`, also in sub-packages
(`tests/forms_tests/tests/test_forms.py`); their labels are dotted paths from `tests/`
(`forms_tests.tests.test_forms`). A change to `django/db/models/query.py` selects the modules that
import it, then those importing names it defines through `django.db.models` or named after it
(`tests/queries/`), then those importing anything from `django.db.models`, capped.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from swe_lsp.sandbox.runners.base import TestRunner, TestStatus
from swe_lsp.sandbox.runners.selection import CHANGED, DIRECT, NAMED, PACKAGE, Change, changes, strength
from swe_lsp.sandbox.runners.unittest_runner import parse_unittest, unittest_selector

RUNTESTS = "tests/runtests.py"

# At most this many test modules. Django's test modules run in seconds each on one core
# (tests/queries, 483 tests: 2.5 s; migrations: 5 s) but the heaviest take about 25 s
# (admin_views), so 12 of even the heaviest fit the default 300 s sandbox timeout. The weak
# evidence (importing the changed module's package: nearly every app imports django.db.models)
# ranks last, so the cap drops it first.
MAX_DJANGO_LABELS = 12

_TEST_MODULE = re.compile(r"^tests?(_\w+)?\.py$")
# Words that say nothing about what an app tests (every app is a test app, much is under db/).
_NOISE_TOKENS = frozenset({"test", "tests", "regress", "django", "contrib", "db", "py"})


@dataclass(frozen=True)
class DjangoRunner(TestRunner):
    """`python3 tests/runtests.py --verbosity 2 --settings=test_sqlite --parallel 1 [labels]`.

    Why each flag: `--verbosity 2` prints one line per test with its id; `--settings=test_sqlite`
    is the settings module shipped in tests/ that needs no database server; `--parallel 1` keeps
    each test's output line whole (parallel workers report out of order) and runs on the one CPU
    a sandbox has. `python3` rather than the script's shebang, which may name a `python` the image
    does not have.
    """

    name: ClassVar[str] = "django"
    reason: str = f"django: {RUNTESTS}"

    @property
    def env(self) -> Mapping[str, str]:
        """PYTHONIOENCODING: an older Python in a C locale encodes output as ASCII, and one test
        docstring with a non-ASCII character would then crash the runner's verbose output."""
        return {"PYTHONIOENCODING": "utf-8"}

    def argv(self, tests: Sequence[str] = ()) -> tuple[str, ...]:
        """runtests.py on `tests` (labels: `app`, `app.tests`, `app.tests.Class.test_x`)."""
        return ("python3", RUNTESTS, "--verbosity", "2", "--settings=test_sqlite", "--parallel", "1", *tests)

    def select(self, tree: Path, changed: Sequence[str]) -> list[str]:
        """Labels of the test modules tied to the change, strongest first (at most 12)."""
        return select_django(tree, changed)

    def parse(self, output: str) -> dict[str, TestStatus]:
        """Statuses from the verbose output (unittest's format)."""
        return parse_unittest(output)

    def selector(self, test_id: str) -> str:
        """`test_x (app.tests.C)` or `test_x (app.tests.C.test_x)` -> `app.tests.C.test_x`."""
        return unittest_selector(test_id)


def find_test_modules(tree: Path) -> dict[str, Path]:
    """Every Django test module under `tests/`, by label."""
    root = tree / "tests"
    found: dict[str, Path] = {}
    if not root.is_dir():
        return found
    for path in sorted(root.glob("*/**/*.py")):
        rel = path.relative_to(root)
        if not _TEST_MODULE.match(path.name) or any(p.startswith((".", "__")) for p in rel.parts[:-1]):
            continue
        # discovery only enters packages below an app's folder
        if all((root / Path(*rel.parts[:i]) / "__init__.py").is_file() for i in range(2, len(rel.parts))):
            found[".".join(rel.with_suffix("").parts)] = path
    return found


def select_django(tree: Path, changed: Sequence[str], cap: int = MAX_DJANGO_LABELS) -> list[str]:
    """Test-module labels for the change, at most `cap` (see MAX_DJANGO_LABELS for why 12).

    Evidence, strongest first: a changed test module; every module of a test app whose other files
    changed (its models, urls); then `selection`'s evidence, where an app named after the changed
    module (`queries` for `query.py`, `migrations` for `migrate.py`) counts as being named after
    it. Within one strength, apps sharing more words with the changed path come first, and apps
    take turns, so one app with sixty modules cannot fill the cap; within an app, a module named
    after the change (`test_commands` for `management/commands/`) or the app's main `tests` first.
    """
    modules = find_test_modules(tree)
    sources = changes(tree, [c for c in changed if not c.startswith("tests/")], roots=())
    apps_changed = {Path(c).parts[1] for c in changed if c.startswith("tests/") and len(Path(c).parts) > 2}
    changed_set = set(changed)
    words = set().union(*(_tokens(c.module) for c in sources))
    levels: dict[tuple[int, int], dict[str, list[tuple[int, str]]]] = {}
    for label, path in modules.items():
        app = label.split(".", 1)[0]
        if path.relative_to(tree).as_posix() in changed_set:
            score = CHANGED
        elif app in apps_changed:
            score = DIRECT
        else:
            score = max((_score(path, app, c) for c in sources), default=0)
        if score < PACKAGE:
            continue
        overlap = sum(1 for t in _tokens(app) if any(_similar(t, w) for w in words))
        own = _tokens(path.stem.removeprefix("test_").removeprefix("tests_"))
        first = 0 if any(_similar(t, w) for t in own for w in words) else 1 if path.stem == "tests" else 2
        levels.setdefault((score, overlap), {}).setdefault(app, []).append((first, label))
    chosen: list[str] = []
    for level in sorted(levels, reverse=True):
        chosen += _take_turns(levels[level])
        if len(chosen) >= cap:
            break
    return chosen[:cap]


def _take_turns(apps: dict[str, list[tuple[int, str]]]) -> list[str]:
    """The apps' modules interleaved: each app's best, then each app's second, and so on."""
    queues = [sorted(apps[app]) for app in sorted(apps)]
    order = []
    for i in range(max(len(q) for q in queues)):
        order += [q[i][1] for q in queues if i < len(q)]
    return order


def _score(path: Path, app: str, change: Change) -> int:
    score = strength(path, change)
    if score < NAMED and any(_similar(change.stem, t) for t in _tokens(app)):
        return NAMED
    return score


def _tokens(name: str) -> set[str]:
    """The words of an app or module name, singular, without the ones every test app has."""
    return {_singular(w) for w in re.split(r"[._]", name) if w and w not in _NOISE_TOKENS}


def _similar(a: str, b: str) -> bool:
    """Same word, allowing for inflection: `query`/`queries`, `migrate`/`migration`,
    `serializer`/`serialization` (a shared prefix of 5 letters or more, 80% of the shorter)."""
    a, b = _singular(a), _singular(b)
    if a == b:
        return True
    prefix = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y), min(len(a), len(b)))
    return prefix >= 5 and prefix >= 0.8 * min(len(a), len(b))


def _singular(word: str) -> str:
    if word.endswith("ies"):
        return word[:-3] + "y"
    if word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word
