"""The issue's example runs in the job's sandbox before the search, and what it calls ranks higher;
a sandbox that is not ready, or an example that does not run, leaves the ranking as it was."""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest
from scripted import run_job

from swe_lsp.sandbox import RunResult
from swe_lsp.sandbox.local_sandbox import LocalSandbox
from swe_lsp.search import context
from swe_lsp.search.context import JobContext
from swe_lsp.search.example import ExampleOutcome, ExampleRunner, issue_example
from swe_lsp.search.job import Progress
from swe_lsp.search.runtime import Runtime
from swe_lsp.search.verification import SandboxVerifier
from swe_lsp.settings import SandboxSettings
from swe_lsp.workspace import Localization, RepoIndex, retrieve
from swe_lsp.workspace.example_run import MARKER

SHAPES = '''\
class Shape:
    """A shape's area and perimeter."""

    def area(self):
        return self.width * self.height

    def area_of_square(self):
        return self.width * self.width

    def area_rounded(self):
        return round(self.area_of_triangle())

    def area_of_triangle(self):
        return self.width * self.height / 2

    def __init__(self, width, height):
        self.width, self.height = width, height
'''
ISSUE = """The area of a shape is wrong

The area is not the area of the shape:

>>> from geo.shapes import Shape
>>> Shape(3, 5).area_rounded()
8
"""


def _workspace(root: Path) -> Path:
    (root / "geo").mkdir(parents=True)
    (root / "geo" / "__init__.py").write_text("")
    (root / "geo" / "shapes.py").write_text(SHAPES)
    return root


def _runtime(progress: list[Progress]) -> Runtime:
    return Runtime("job", None, threading.Event(), progress.append)  # type: ignore[arg-type]  # no model here


def _weighed(ctx: JobContext, runner: ExampleRunner, progress: list[Progress] | None = None) -> JobContext:
    """`ctx` ranked as the engine ranks a job's context after the example ran (`engine.resolve`)."""
    found = issue_example(_runtime([] if progress is None else progress), ctx.issue, ctx.index, runner)
    return JobContext(ctx.issue, ctx.index, notes=found.notes, executed=found.called, showing=found.files)


def test_the_functions_the_example_calls_rank_first(tmp_path: Path) -> None:
    tree = _workspace(tmp_path / "ws")
    ctx = JobContext(ISSUE, RepoIndex.build_or_load(tree, None))
    progress: list[Progress] = []
    with LocalSandbox(SandboxSettings(kind="local", timeout_s=60)) as box:
        verifier = SandboxVerifier(box, tree, "true", 60, threading.Event(), "job")
        assert isinstance(verifier, ExampleRunner)
        weighed = _weighed(ctx, verifier, progress)
    before, after = [h.name for h in ctx.symbol_hits], [h.name for h in weighed.symbol_hits]
    # Word overlap cannot tell the two helpers apart (the square's comes first, by line); the example
    # calls the triangle's. The class body ran at the import, which is no use of the class.
    assert before.index("Shape.area_of_square") < before.index("Shape.area_of_triangle")
    assert after.index("Shape.area_of_triangle") < after.index("Shape.area_of_square")
    assert after.index("Shape.__init__") < after.index("Shape.area")
    assert weighed.executed == {
        ("geo/shapes.py", "Shape.area_rounded"),
        ("geo/shapes.py", "Shape.area_of_triangle"),
        ("geo/shapes.py", "Shape.__init__"),
    }
    # Its last statement shows the issue; the file it ran there gains in the file order.
    shown = "the issue's example runs it where it shows the issue"
    assert [(h.path, shown in h.reasons) for h in weighed.hits] == [
        ("geo/shapes.py", True),
        ("geo/__init__.py", False),
    ]
    assert any(
        "the issue's example ran (2 of 2 statements" in n and "called 3 functions" in n for n in weighed.notes
    )
    assert any("running the issue's example" in p.message for p in progress)
    assert sorted(p.name for p in tree.rglob("*") if p.is_file()) == [
        "__init__.py",
        "shapes.py",
    ]  # ran in a copy


class _Runner:
    """A sandbox whose environment is still being built, or whose run says `result`."""

    def __init__(self, result: RunResult | None) -> None:
        self.result = result
        self.asked = 0

    def run_example(
        self, files: Mapping[str, bytes], argv: Sequence[str], timeout_s: float
    ) -> RunResult | None:
        self.asked += 1
        return self.result


def test_without_a_ready_sandbox_or_a_report_the_ranking_stays(tmp_path: Path) -> None:
    tree = _workspace(tmp_path / "ws")
    ctx = JobContext(ISSUE, RepoIndex.build_or_load(tree, None))
    before = [h.name for h in ctx.symbol_hits]
    building = _weighed(ctx, _Runner(None))
    assert [h.name for h in building.symbol_hits] == before and not building.executed
    assert building.notes[-1].endswith("the sandbox's environment is still being built")
    crashed = RunResult(1, "", "python3: can't open file '.swe_lsp_example.py'", duration_s=0.1)
    broken = _weighed(ctx, _Runner(crashed))
    assert [h.name for h in broken.symbol_hits] == before
    assert "printed no report" in broken.notes[-1] and "can't open file" in broken.notes[-1]


def test_an_issue_without_an_example_runs_nothing(tmp_path: Path) -> None:
    tree = _workspace(tmp_path / "ws")
    ctx = JobContext("The area of a shape is wrong for squares.", RepoIndex.build_or_load(tree, None))
    runner = _Runner(None)
    assert issue_example(_runtime([]), ctx.issue, ctx.index, runner) == ExampleOutcome()
    assert runner.asked == 0


def test_a_job_runs_the_example_in_its_sandbox_and_says_so(
    workspace: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bundled example's issue: `mean([])` raises, and that call is what the example shows. The
    job ranks its code once, after the example ran, not once before and again with its calls."""
    rankings: list[frozenset[tuple[str, str]]] = []

    def counted(*args: Any, **kwargs: Any) -> Localization:
        rankings.append(kwargs["executed"])
        return retrieve(*args, **kwargs)

    monkeypatch.setattr(context, "retrieve", counted)
    ran = run_job(workspace, tmp_path / "on", sandbox={"kind": "local"}).report
    note = (
        "the issue's example ran (1 of 2 statements without an error) and called 1 functions of the workspace"
    )
    assert ran.state == "done" and any(n.startswith(note) for n in ran.notes), ran.notes
    assert len(rankings) == 1 and len(rankings[0]) == 1
    off = run_job(workspace, tmp_path / "off", sandbox={"kind": "local"}, run_example=False).report
    assert off.state == "done" and not any("example" in n for n in off.notes)


def test_a_run_cut_at_the_limit_keeps_what_its_finished_statements_called(tmp_path: Path) -> None:
    tree = _workspace(tmp_path / "ws")
    ctx = JobContext(ISSUE, RepoIndex.build_or_load(tree, None))
    line = MARKER + json.dumps(
        {"ran": 1, "failures": [], "setup": [], "calls": [["geo/shapes.py", 13, "area_of_triangle", 1]]}
    )
    cut = RunResult(None, f"noise\n{line}\n", "", timed_out=True, duration_s=60.0)
    weighed = _weighed(ctx, _Runner(cut))
    assert weighed.executed == {("geo/shapes.py", "Shape.area_of_triangle")}
    assert "(1 of 2 statements without an error before it ran past 60 s)" in weighed.notes[-1]
    silent = _weighed(ctx, _Runner(RunResult(None, "", "", timed_out=True)))
    assert not silent.executed and silent.notes[-1].endswith("its first statement ran past 60 s")


def test_a_package_that_does_not_import_is_named_in_the_note(tmp_path: Path) -> None:
    tree = _workspace(tmp_path / "ws")
    (tree / "geo" / "__init__.py").write_text("import numpy_that_is_not_installed\n")
    ctx = JobContext(ISSUE, RepoIndex.build_or_load(tree, None))
    with LocalSandbox(SandboxSettings(kind="local", timeout_s=60)) as box:
        verifier = SandboxVerifier(box, tree, "true", 60, threading.Event(), "job")
        weighed = _weighed(ctx, verifier)
    assert not weighed.executed  # its statements failed on the same import
    assert weighed.notes[-1].endswith("its set-up failed: import geo: ModuleNotFoundError")


def test_the_command_the_issue_runs_runs_in_the_sandbox_with_the_files_it_gives(tmp_path: Path) -> None:
    """An issue about a command line (`geo-area shape.txt`) has no statements to type; the command
    runs as the workspace's console script declares it, on the file the issue gives."""
    tree = _workspace(tmp_path / "ws")
    (tree / "geo" / "cli.py").write_text(
        "import sys\n\nfrom geo.shapes import Shape\n\n\ndef main():\n"
        "    width, height = open(sys.argv[1]).read().split()\n"
        "    print(Shape(int(width), int(height)).area_rounded())\n"
    )
    (tree / "pyproject.toml").write_text(
        '[project]\nname = "geo"\n[project.scripts]\ngeo-area = "geo.cli:main"\n'
    )
    issue = "The area is wrong\n\nshape.txt:\n```\n3 5\n```\n\n```console\n$ geo-area shape.txt\n8\n```\n"
    ctx = JobContext(issue, RepoIndex.build_or_load(tree, None))
    with LocalSandbox(SandboxSettings(kind="local", timeout_s=60)) as box:
        weighed = _weighed(ctx, SandboxVerifier(box, tree, "true", 60, threading.Event(), "job"))
    assert {
        ("geo/cli.py", "main"),
        ("geo/shapes.py", "Shape.area_rounded"),
        ("geo/shapes.py", "Shape.area_of_triangle"),
    } <= weighed.executed
    assert any("the issue's example ran (1 of 1 statements" in n for n in weighed.notes), weighed.notes
    assert not (tree / "shape.txt").exists()  # the given file was written in the sandbox only
