"""A benchmark instrument, never a backend: a policy that answers each Dev-Search stage from an
instance's gold patch, so that `bench/ceiling.py` can measure what the pipeline lets through when
the model is perfect.

The oracle answers as a perfect model would under the same rules a real model meets: each stage's
answer must be accepted by that request's decoding constraint (a constrained decoder cannot emit
anything else), so the oracle tries the ways a perfect model could write the right answer, most
natural first, and gives the first the constraint accepts; when none is, it answers nothing (an
empty, invalid sample) and records why, so the stage fails in the real search code exactly where a
real model would be stopped.

- understanding: the files the gold patch changes (those that exist);
- localization: the change regions as `path::Symbol` (innermost enclosing function or class), else
  as line spans, else merged spans (fewer locations);
- patching: the gold edits as search/replace blocks: one block per diff hunk (its context
  included), else minimal blocks (the changed lines, widened only to a non-blank edge and until
  unique), else minimal blocks split into short runs;
- the reproduction (end to end only): a script that puts the instance's test patch in place and
  runs its tests (`reproduction_script`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from swe_lsp.llm import Constraint, GenerateRequest, Generation, Sample, Score, Usage
from swe_lsp.patch.hunks import FileChange, FileDiff, parse_file_diffs
from swe_lsp.patch.text import split_lines, strip_eol
from swe_lsp.search.prompts.patch import FORMAT
from swe_lsp.workspace import RepoIndex


@dataclass(frozen=True)
class Region:
    """One run of changed lines: original lines `start..end` (1-based, inclusive) become `new`.
    A pure insertion before line `start` has `end == start - 1`."""

    start: int
    end: int
    new: tuple[str, ...]


@dataclass(frozen=True)
class Block:
    """One edit block over original lines `start..end` (1-based, inclusive) of `path`."""

    path: str
    start: int
    end: int
    search: tuple[str, ...]
    replace: tuple[str, ...]

    def text(self) -> str:
        body = "".join(f"{line}\n" for line in self.search)
        new = "".join(f"{line}\n" for line in self.replace)
        return f"### {self.path}\n<<<<<<< SEARCH\n{body}=======\n{new}>>>>>>> REPLACE"


def regions(fd: FileDiff, lines: Sequence[str]) -> list[Region]:
    """The runs of changed lines of one file's diff against the file's `lines`, in order. Each hunk
    is placed where its original lines are (nearest its header's line, as `git apply` places it:
    SWE-bench gold patches carry headers a few lines off)."""
    out: list[Region] = []
    floor = 0
    for hunk in fd.hunks:
        old = [strip_eol(x) for x in hunk.old_lines()]
        expected = hunk.source_offset
        fits = [p for p in range(floor, len(lines) - len(old) + 1) if list(lines[p : p + len(old)]) == old]
        at = min(fits, key=lambda p: (abs(p - expected), p)) if fits else expected
        floor = at + len(old)
        line = at + 1
        start: int | None = None
        new: list[str] = []
        for body in hunk.lines:
            kind, text = body[:1], strip_eol(body[1:])
            if kind == "\\":
                continue
            if kind in "-+" and start is None:
                start, new = line, []
            if kind == "-":
                line += 1
            elif kind == "+":
                new.append(text)
            else:
                if start is not None:
                    out.append(Region(start, line - 1, tuple(new)))
                    start = None
                line += 1
        if start is not None:
            out.append(Region(start, line - 1, tuple(new)))
    return out


def _blank(line: str) -> bool:
    return not line.strip()


def _count(lines: Sequence[str], run: Sequence[str]) -> int:
    width = len(run)
    return sum(1 for i in range(len(lines) - width + 1) if list(lines[i : i + width]) == list(run))


def _blocks(path: str, lines: list[str], changes: list[Region], context: int) -> list[Block]:
    """Blocks covering `changes` with `context` lines around each, widened so that SEARCH starts
    and ends on a non-blank line and occurs once in the file, overlapping extents merged."""
    n = len(lines)
    extents: list[list[int]] = []
    for r in changes:
        a, b = r.start - context, r.end + context
        if b < a:  # a pure insertion without context: quote the line before (or after) it
            a, b = (r.start - 1, r.start - 1) if r.start > 1 else (r.start, r.start)
        extents.append([max(a, 1), min(b, n)])
    while True:
        for ext in extents:
            _widen(lines, ext)
        extents.sort()
        merged: list[list[int]] = []
        for ext in extents:
            if merged and ext[0] <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], ext[1])
            else:
                merged.append(list(ext))
        if len(merged) == len(extents):
            break
        extents = merged
    blocks = []
    for a, b in extents:
        replace: list[str] = []
        at = a
        for r in (r for r in changes if a <= r.start and r.end <= b):
            replace += lines[at - 1 : r.start - 1]
            replace += r.new
            at = r.end + 1
        replace += lines[at - 1 : b]
        blocks.append(Block(path, a, b, tuple(lines[a - 1 : b]), tuple(replace)))
    return blocks


def _widen(lines: list[str], ext: list[int]) -> None:
    """Widen `ext` ([first, last], 1-based) in place until it starts and ends on a non-blank line
    and its lines occur once in the file (alternately downward and upward), or it is the file."""
    n = len(lines)
    down = True
    while True:
        while ext[0] > 1 and (ext[0] > ext[1] or _blank(lines[ext[0] - 1])):
            ext[0] -= 1
        while ext[1] < n and _blank(lines[ext[1] - 1]):
            ext[1] += 1
        if _count(lines, lines[ext[0] - 1 : ext[1]]) <= 1 or (ext[0] <= 1 and ext[1] >= n):
            return
        if (down and ext[1] < n) or ext[0] <= 1:
            ext[1] += 1
        else:
            ext[0] -= 1
        down = not down


def _split(block: Block, width: int) -> list[Block]:
    """`block` as blocks of SEARCH runs of at most `width` lines, each starting and ending on a
    non-blank line; the first carries the whole replacement, the others delete their lines."""
    if len(block.search) <= width:
        return [block]
    out: list[Block] = []
    i, lines = 0, block.search
    while i < len(lines):
        while i < len(lines) and _blank(lines[i]):
            i += 1
        j = min(i + width, len(lines))
        while j > i + 1 and _blank(lines[j - 1]):
            j -= 1
        if i >= len(lines):
            break
        run = lines[i:j]
        out.append(
            Block(block.path, block.start + i, block.start + j - 1, run, block.replace if not out else ())
        )
        i = j
    return out


@dataclass
class GoldAnswers:
    """Every way the oracle can write an instance's gold answers, per stage, most natural first."""

    files: tuple[str, ...]
    locations: list[tuple[str, list[str]]]
    patches: list[tuple[str, str]]
    features: dict[str, int]

    @staticmethod
    def from_patch(
        patch: str, index: RepoIndex, read: Callable[[str], str | None], split: int = 6
    ) -> GoldAnswers:
        """The answers for `patch` against the snapshot `index` reads (`read` gives a file's text);
        `split` is the run length of the last patch form (the shortest SEARCH a constraint asks for)."""
        fds = parse_file_diffs(patch)
        files = tuple(fd.path for fd in fds if fd.change is not FileChange.ADDED)
        per_file: dict[str, tuple[list[str], list[Region]]] = {}
        added: list[Block] = []
        for fd in fds:
            if fd.change is FileChange.ADDED:
                new = tuple(strip_eol(x) for h in fd.hunks for x in h.new_lines())
                added.append(Block(fd.path, 1, 0, (), new))
                continue
            text = read(fd.path) or ""
            lines = [strip_eol(x) for x in split_lines(text)]
            per_file[fd.path] = (lines, regions(fd, lines))
        natural = [b for p, (lines, rs) in per_file.items() for b in _blocks(p, lines, rs, 3)]
        tight = [b for p, (lines, rs) in per_file.items() for b in _blocks(p, lines, rs, 0)]
        split_blocks = [s for b in tight for s in _split(b, split)]
        patches = []
        for name, blocks in (("hunks", natural), ("minimal", tight), (f"split{split}", split_blocks)):
            patches.append((name, "\n\n".join(b.text() for b in [*blocks, *added])))
        locations = _location_forms(per_file, index)
        features = {
            "files": len(fds),
            "new_files": len(added),
            "regions": sum(len(rs) for _, rs in per_file.values()),
            "max_search_lines": max((len(b.search) for b in tight), default=0),
            "minimal_blocks": len(tight) + len(added),
            "split_blocks": len(split_blocks) + len(added),
        }
        return GoldAnswers(files, locations, patches, features)


def _location_forms(
    per_file: dict[str, tuple[list[str], list[Region]]], index: RepoIndex
) -> list[tuple[str, list[str]]]:
    """Location answers: innermost symbols (spans outside any), all spans, then spans merged down
    to one per file."""
    spans: list[tuple[str, int, int]] = []
    symbols: list[str] = []
    for path, (lines, rs) in per_file.items():
        entry = index.file(path)
        for r in rs:
            a, b = r.start, max(r.end, r.start)
            a, b = max(1, min(a, len(lines))), max(1, min(b, len(lines)))
            spans.append((path, a, b))
            enclosing = [s for s in (entry.symbols if entry else ()) if s.start <= a and b <= s.end]
            if enclosing:
                symbols.append(f"{path}::{max(enclosing, key=lambda s: s.start).name}")
            else:
                symbols.append(f"{path}:{a}-{b}")
    forms = [("symbols", list(dict.fromkeys(symbols))), ("spans", [f"{p}:{a}-{b}" for p, a, b in spans])]
    merged = list(spans)
    while True:
        gaps = [
            (merged[i + 1][1] - merged[i][2], i)
            for i in range(len(merged) - 1)
            if merged[i][0] == merged[i + 1][0]
        ]
        if not gaps:
            break
        _, i = min(gaps)
        merged[i : i + 2] = [(merged[i][0], merged[i][1], max(merged[i][2], merged[i + 1][2]))]
        forms.append((f"merged{len(merged)}", [f"{p}:{a}-{b}" for p, a, b in merged]))
    return forms


def _answer(body: str) -> str:
    return f"<answer>\n{body}\n</answer>"


@dataclass
class OraclePolicy:
    """Answers each stage from `gold`; `stage()` says which stage the search is in (the runtime's).
    `log` records, per stage, which form was given (or that none was accepted, and what was tried);
    `constraints`, every request's decoding constraint with its stage."""

    gold: GoldAnswers
    stage: Callable[[], str]
    log: dict[str, dict[str, object]] = field(default_factory=dict)
    constraints: list[tuple[str, Constraint]] = field(default_factory=list)

    def generate(self, requests: Sequence[GenerateRequest]) -> list[Generation]:
        for r in requests:  # what a constrained decoder would have to compile (bench/grammar.py)
            if r.constraint is not None:
                self.constraints.append((self.stage(), r.constraint))
        return [self._one(r) for r in requests]

    def _forms(self, request: GenerateRequest) -> tuple[str, Iterator[tuple[str, str]]]:
        stage = self.stage()
        prompt = request.prompt
        first_user = (
            next((m.content for m in prompt if m.role == "user"), "")
            if not isinstance(prompt, str)
            else prompt
        )
        if FORMAT in first_user:
            return "patch", ((name, _answer(text)) for name, text in self.gold.patches)
        if stage == "understand":
            return stage, iter([("files", _answer(json.dumps(list(self.gold.files))))])
        if stage == "localize":
            return stage, (
                (name, _answer("LOCATIONS\n" + "\n".join(locs))) for name, locs in self.gold.locations
            )
        return stage, iter(())

    def _one(self, request: GenerateRequest) -> Generation:
        stage, forms = self._forms(request)
        tried = []
        for name, text in forms:
            if request.constraint is None or request.constraint.accepts(text):
                self.log.setdefault(stage, {"form": name, "tried": tried})
                samples = tuple(Sample(text, "stop", True) for _ in range(request.sampling.n))
                return Generation(samples, Usage(0, 0, 1))
            tried.append(name)
        self.log.setdefault(stage, {"form": None, "tried": tried})
        samples = tuple(Sample("", "stop", False) for _ in range(request.sampling.n))
        return Generation(samples, Usage(0, 0, 1))


class UniformScorer:
    """A PRM/ORM that scores every step alike, so the oracle's single candidate is never pruned for
    its score: the ceiling measures the pipeline, not a judge."""

    def score(self, *args: object) -> list[Score]:
        return [Score(0.5, Usage()) for _ in args[-1]]  # type: ignore[attr-defined]


def reproduction_script(test_files: Mapping[str, str | None], argv: Sequence[str]) -> str:
    """The oracle's reproduction, written from the instance's tests as a perfect model could write
    one: put the test patch's files in place, run its failing tests (`argv`:
    `swebench_env.fail_to_pass_command`), and say `ISSUE REPRODUCED` (exit 1) when one fails,
    `ISSUE RESOLVED` (exit 0) when they pass."""
    files = json.dumps(json.dumps(dict(test_files)))
    return f"""import json
import pathlib
import subprocess
import sys

for path, text in json.loads({files}).items():
    target = pathlib.Path(path)
    if text is None:
        target.unlink(missing_ok=True)
    else:
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
done = subprocess.run({list(argv)!r})
if done.returncode != 0:
    print("ISSUE REPRODUCED")
    sys.exit(1)
print("ISSUE RESOLVED")
"""
