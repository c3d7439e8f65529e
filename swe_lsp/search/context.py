"""What a job knows before the model is asked anything: the issue, the snapshot and its index,
the retrieval hits and the compressed tree, and the search settings it runs under."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from swe_lsp.settings import SearchSettings
from swe_lsp.workspace import RepoIndex, Tools, compressed_tree, retrieve, skeleton

# The file-selection grammar enumerates the candidate paths: a few dozen keep it small and fast.
MAX_FILE_CHOICES = 30
TREE_CHARS = 3000
SKELETON_LINES = 80
MAX_SYMBOLS = 60


@dataclass(frozen=True)
class SearchConfig:
    """The search's knobs for one job: settings plus what the request overrode.

    `token_ceiling` bounds the tokens (in and out) a job may spend; None derives it from the budget:
    every stage's n samples at max_tokens, with room for prompts, localization rounds and refinements.

    `repro_retries` bounds how often the issue's reproduction script is rewritten after a run on the
    original tree that did not reproduce it (so at most 1 + repro_retries attempts per job). Why 2:
    the first retry fixes what the run's log names outright (an invented import or name, a missing
    `ISSUE REPRODUCED`), the second a script that then runs but misses the behaviour the issue
    describes; a script still wrong after that rarely converges, and every attempt costs a model call
    and a sandbox run (minutes in a cold environment) before any candidate is verified. Candidates
    are then judged by the tests alone. It does not depend on the model: each retry prompt holds only
    the latest attempt and a capped log, so its size is the same whatever the bound.
    """

    budget: int
    beam: int
    strategy: str
    max_localization_rounds: int
    max_refinements: int
    early_stop_score: float
    temperature: float
    max_tokens: int
    constrain_patches: bool = True
    repro_retries: int = 2
    token_ceiling: int | None = None
    seed: int | None = None

    @staticmethod
    def from_settings(
        s: SearchSettings, budget: int | None = None, beam: int | None = None, strategy: str | None = None
    ) -> SearchConfig:
        """The settings with a request's overrides on top."""
        n = budget or s.budget
        rounds = s.max_localization_rounds
        calls = 1 + rounds + 1 + s.max_refinements + 2 * (1 + s.max_refinements)
        per_job = 1 + s.repro_retries  # the issue's reproduction attempts, once per job
        return SearchConfig(
            budget=n,
            beam=min(beam or s.beam, n),
            strategy=strategy or s.strategy,
            max_localization_rounds=rounds,
            max_refinements=s.max_refinements,
            early_stop_score=s.early_stop_score,
            temperature=s.temperature,
            max_tokens=s.max_tokens,
            constrain_patches=s.constrain_patches,
            repro_retries=s.repro_retries,
            token_ceiling=(n * calls + per_job) * (s.max_tokens + 4096),
        )


class JobContext:
    """The snapshot a job reads (never writes), indexed, with the issue's retrieval done once."""

    def __init__(self, issue: str, index: RepoIndex) -> None:
        self.issue = issue
        self.index = index
        self.root: Path = index.root
        self.tools = Tools(index)
        found = retrieve(index, issue, top=MAX_FILE_CHOICES)
        self.hits = found.files
        self.symbol_hits = found.symbols
        self.tree = compressed_tree(index, TREE_CHARS)
        self._lines: dict[str, list[str] | None] = {}

    def file_choices(self) -> list[tuple[str, str]]:
        """(path, why) of the files the model may pick, best first; every file of a tiny repo."""
        chosen = [(h.path, ", ".join(h.reasons) or "ranked") for h in self.hits]
        if len(chosen) < MAX_FILE_CHOICES:
            seen = {p for p, _ in chosen}
            rest = [p for p in self.index.paths if p not in seen and self._is_source(p)]
            chosen += [(p, "in the repository") for p in rest[: MAX_FILE_CHOICES - len(chosen)]]
        return chosen

    def _is_source(self, path: str) -> bool:
        entry = self.index.file(path)
        return entry is not None and entry.status in ("ok", "decoded_latin1") and entry.language != "text"

    def lines(self, path: str) -> list[str] | None:
        """A snapshot file's lines (cached), or None if it is not a text file of the index."""
        if path not in self._lines:
            entry = self.index.file(path)
            text = None
            if entry is not None and entry.lines:
                try:
                    text = (self.root / path).read_bytes().decode("utf-8", errors="replace")
                except OSError:
                    text = None
            self._lines[path] = text.splitlines() if text is not None else None
        return self._lines[path]

    def symbol_names(self, path: str) -> tuple[str, ...]:
        """The qualified names of a file's symbols (at most MAX_SYMBOLS), for constrained locations."""
        entry = self.index.file(path)
        return tuple(s.name for s in entry.symbols[:MAX_SYMBOLS]) if entry else ()

    def skeletons(self, files: tuple[str, ...]) -> str:
        """Each file's skeleton (Python) or head (other text), clipped, for the localization prompt."""
        parts = []
        for path in files:
            lines = self.lines(path)
            if lines is None:
                continue
            shown = skeleton("\n".join(lines)).splitlines() if path.endswith(".py") else lines
            clip = "\n[...]" if len(shown) > SKELETON_LINES else ""
            parts.append(f"### {path}\n```\n" + "\n".join(shown[:SKELETON_LINES]) + clip + "\n```")
        return "\n\n".join(parts)
