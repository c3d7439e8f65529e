"""What a job knows before the model is asked anything: the issue, the snapshot and its index,
the retrieval hits and the compressed tree, and the search settings it runs under."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from swe_lsp.llm import SamplingConfig
from swe_lsp.llm.limits import CHARS_PER_TOKEN, Limits
from swe_lsp.settings import SearchSettings
from swe_lsp.workspace import RepoIndex, SymbolHit, Tools, compressed_tree, retrieve, skeleton

if TYPE_CHECKING:
    from swe_lsp.workspace.learning import LearnedOrder
    from swe_lsp.workspace.semantic import EmbedProgress, SemanticModel

# The compressed tree and the skeletons shown at understanding and localization: about 1k tokens
# and 80 lines per file, whatever the model (the ranked lists and the tools carry the detail).
TREE_CHARS = 3000
SKELETON_LINES = 80
# Symbols retrieval ranks per job, from which the localization prompt lists the best of the chosen
# files (`limits.symbols_listed`): a chosen file may rank low overall, so its best symbols lie deep.
# Measured with the gold files chosen, the listed 30 of them show 80% of SWE-bench Lite's gold
# functions when taken from the first 40, 82% from 60, 86% from 100 (before the title weight; 87%
# after it); ranking more costs nothing (the candidates are scored anyway; the embedding model
# re-weighs its 200 whatever the number kept).
RANKED_SYMBOLS = 100


def _why(reasons: Sequence[str], best: Sequence[str]) -> str:
    """What the understanding prompt says of a ranked file: why retrieval ranked it, then its best
    symbols."""
    why = ", ".join(reasons) or "ranked"
    return f"{why}; best: {', '.join(best)}" if best else why


@dataclass(frozen=True)
class SearchConfig:
    """The search's knobs for one job: settings plus what the request overrode, and the model's
    limits (its manifest's `[limits]`, `limits.py`) with its context length.

    `max_tokens`, when set (settings or request), replaces every stage's output limit; None keeps the
    manifest's per-stage ones (`tokens(stage)`).

    `token_ceiling` bounds the tokens (in and out) a job may spend; None derives it from the budget:
    every model call of every stage at a full context (prompt + output fit the context, so that is
    each call's most), with room for localization rounds, refinements and the reproduction.

    `patch_keep` bounds the distinct patches ORM-scored and executed; None keeps all of them (the
    method selects by execution and the ORM; the early stop bounds the cost).

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
    max_tokens: int | None = None
    constrain_patches: bool = True
    repro_retries: int = 2
    token_ceiling: int | None = None
    seed: int | None = None
    patch_keep: int | None = None
    limits: Limits = field(default_factory=Limits)
    context_length: int = 32768
    profile: Literal["swe-lsp", "synifer"] = "swe-lsp"  # the manifest's prompt profile (prompts/synifer.py)

    def tokens(self, stage: str) -> int:
        """The output limit of a turn of `stage` (`limits.TURN_STAGES`)."""
        return self.max_tokens or self.limits.tokens(stage)

    def sampling(self, n: int, stage: str) -> SamplingConfig:
        """How a turn of `stage` samples n completions: the temperature, the stage's token limit."""
        return SamplingConfig(
            n=n, temperature=self.temperature, max_tokens=self.tokens(stage), seed=self.seed
        )

    def prompt_chars(self, stage: str) -> int:
        """Characters of prompt a turn of `stage` may fill so that prompt + output fit the context
        (at least a quarter of it, so a huge output limit cannot leave no room for the prompt)."""
        tokens = max(self.context_length - self.tokens(stage), self.context_length // 4)
        return int(tokens * CHARS_PER_TOKEN)

    @property
    def constrained_patches(self) -> bool:
        """Patch decoding is constrained only when both the settings and the manifest ask for it, and
        never under a profile whose weights were trained to write freely (`synifer`)."""
        return self.constrain_patches and self.limits.constrain_patches and self.profile == "swe-lsp"

    @staticmethod
    def from_settings(
        s: SearchSettings,
        budget: int | None = None,
        beam: int | None = None,
        strategy: str | None = None,
        limits: Limits | None = None,
        context_length: int = 32768,
        profile: Literal["swe-lsp", "synifer"] = "swe-lsp",
    ) -> SearchConfig:
        """The settings with a request's overrides on top, under a model's `limits`."""
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
            token_ceiling=(n * calls + per_job) * context_length,
            patch_keep=s.patch_keep,
            limits=limits or Limits(),
            context_length=context_length,
            profile=profile,
        )


class JobContext:
    """The snapshot a job reads (never writes), indexed, with the issue's retrieval done once.
    `limits` (the model's) say how many files and symbols the model may choose among; `learned`
    (the learned ranker, `workspace.learning.reorder_for`) orders retrieval's files, hence the
    understanding stage's choices and what the tool calls list first; `semantic` (an embedding model,
    `workspace.semantic`) re-ranks the best symbols by their similarity to the issue. `notes`: what
    the user should know about how the code was ranked (the job's report carries them), with
    retrieval's own (an embedding model that failed); `on_embed` hears how far the embedding of the
    best symbols not stored ahead has got (and may stop it: a cancel); `executed`: the symbols the
    issue's example called in the sandbox (`search.example`), which the symbol stage weighs;
    `showing`: the files its statements showing the issue ran, which the file order weighs."""

    def __init__(
        self,
        issue: str,
        index: RepoIndex,
        limits: Limits | None = None,
        learned: LearnedOrder | None = None,
        semantic: SemanticModel | None = None,
        notes: tuple[str, ...] = (),
        on_embed: EmbedProgress | None = None,
        executed: frozenset[tuple[str, str]] = frozenset(),
        showing: frozenset[str] = frozenset(),
    ) -> None:
        self.issue = issue
        self.index = index
        self.limits = limits or Limits()
        self.root: Path = index.root
        self.executed = executed
        top = max(self.limits.files_listed, self.limits.file_choices or 0)
        reorder = learned.files if learned else None
        found = retrieve(
            index,
            issue,
            top=top,
            top_symbols=RANKED_SYMBOLS,
            reorder=reorder,
            semantic=semantic,
            on_embed=on_embed,
            executed=executed,
            showing=showing,
        )
        self.hits = found.files
        self.symbol_hits = found.symbols
        self.notes = (*notes, *found.notes)
        self.tools = Tools(index, [h.path for h in found.files])
        self.tree = compressed_tree(index, TREE_CHARS)
        self._lines: dict[str, list[str] | None] = {}
        self._skeleton_lines: dict[str, list[str] | None] = {}
        self._choices: tuple[Limits, list[tuple[str, str]]] | None = None  # under these limits

    def file_choices(self) -> list[tuple[str, str]]:
        """(path, why) of the files the model may pick, best first: retrieval's hits, then the
        repository's other source files, `limits.file_choices` of them (None: all)."""
        if self._choices is None or self._choices[0] != self.limits:
            cap = self.limits.file_choices
            best = self._best_per_file()
            chosen = [(h.path, _why(h.reasons, best.get(h.path, ()))) for h in self.hits][:cap]
            if cap is None or len(chosen) < cap:
                seen = {p for p, _ in chosen}
                rest = [
                    (p, "in the repository") for p in self.index.paths if p not in seen and self._is_source(p)
                ]
                chosen += rest if cap is None else rest[: cap - len(chosen)]
            self._choices = (self.limits, chosen)
        return self._choices[1]

    def _best_per_file(self) -> dict[str, list[str]]:
        """Each file's best `limits.symbols_per_file` ranked symbols, in retrieval's order; a class
        is named only when none of its members is ranked (the member's name says the class)."""
        ranked: dict[str, list[str]] = {}
        for hit in self.symbol_hits:
            ranked.setdefault(hit.file, []).append(hit.name)
        return {
            path: [n for n in names if not any(m.startswith(n + ".") for m in names)][
                : self.limits.symbols_per_file
            ]
            for path, names in ranked.items()
        }

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
        """The qualified names of a file's symbols a location may name (`limits.location_symbols`
        of them; None: all): the ones retrieval ranked first, in its order, then the file's others in
        the file's order, so a cap keeps the likeliest."""
        entry = self.index.file(path)
        if entry is None:
            return ()
        ranked = [h.name for h in self.symbol_hits if h.file == path]
        names = dict.fromkeys([*ranked, *(s.name for s in entry.symbols)])
        return tuple(names)[: self.limits.location_symbols]

    def ranked_symbols(self, files: Sequence[str]) -> tuple[SymbolHit, ...]:
        """The symbols the localization prompt lists, in retrieval's order: the best
        `limits.symbols_listed` of `files` (the chosen ones) and the best that many overall (a chosen
        file may rank low; the issue's function may lie in a file not chosen)."""
        most = self.limits.symbols_listed
        chosen = set(files)
        inside = [h for h in self.symbol_hits if h.file in chosen][:most]
        keep = {*inside, *self.symbol_hits[:most]}
        return tuple(h for h in self.symbol_hits if h in keep)

    def skeletons(self, files: Sequence[str], most: int = SKELETON_LINES) -> str:
        """Each file's skeleton (Python) or head (other text), clipped to `most` lines, for the
        localization prompt."""
        parts = []
        for path in files:
            shown = self._skeleton(path)
            if shown is None:
                continue
            clip = "\n[...]" if len(shown) > most else ""
            parts.append(f"### {path}\n```\n" + "\n".join(shown[:most]) + clip + "\n```")
        return "\n\n".join(parts)

    def _skeleton(self, path: str) -> list[str] | None:
        """A file's skeleton lines (Python) or its lines (other text), cached: every conversation of
        a job, and each shorter try of a prompt that does not fit, shows the same files."""
        if path not in self._skeleton_lines:
            lines = self.lines(path)
            self._skeleton_lines[path] = (
                skeleton("\n".join(lines)).splitlines()
                if lines is not None and path.endswith(".py")
                else lines
            )
        return self._skeleton_lines[path]
