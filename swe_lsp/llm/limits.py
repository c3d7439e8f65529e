"""What the search lets a model see and write, by model class: a manifest's `[limits]` table.

The defaults are for the models the project is for: strong open reasoning models of 27-32B on one
GPU with a 32k context (Qwen2.5-Coder-32B, QwQ-32B, Qwen3-32B, SWE-Reasoner). The embedded 135M
model's manifest sets the tight values it needs: it cannot copy code, count blocks or stop
thinking, so its answers are fenced in by small grammars. A tight limit binds a strong model (an
oracle answering from SWE-bench gold patches cannot write about one fix in five under the tiny
values: bench/results/ceiling.json), so no limit here is global.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

# Stages with their own output limit: understanding, localization (per round), patching, the
# reproduction script, and the refinement of a failed patch.
TURN_STAGES = ("understand", "localize", "patch", "reproduce", "refine")
# A conservative characters-per-token ratio for source code and prose in Qwen/Llama-style BPE
# vocabularies (about 3.3-4 on Python): prompts are clipped in characters so that prompt + output
# fit the context without running the tokenizer in the search.
CHARS_PER_TOKEN = 3.0


class Limits(BaseModel):
    """A model class's limits. Each field says why its default (the strong-model value) is what it
    is; `models/smollm2-135m.toml` shows the tiny model's."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    turn_tokens: dict[str, int] = Field(
        default_factory=lambda: {
            "understand": 8192,
            "localize": 8192,
            "patch": 16384,
            "reproduce": 8192,
            "refine": 16384,
        },
        description="Output tokens per turn, thinking included. Reasoning models think 2k-10k tokens "
        "on a repository step before they answer (R1-distilled and QwQ-style models; the paper's "
        "trajectories are long-reasoning); cutting the thought removes the method's internal "
        "test-time scaling. A patch turn thinks longest and also writes the edits, hence 16k; with "
        "a 32k context that leaves about 16k tokens of prompt.",
    )
    file_choices: int | None = Field(
        None,
        ge=1,
        description="Files understanding may choose from (retrieval order first). None: every source "
        "file of the repository: a gold file that retrieval ranks 31st must still be choosable.",
    )
    files_listed: int = Field(
        50,
        ge=1,
        description="Ranked files listed in the understanding prompt with why retrieval ranked them "
        "(the rest are in the tree): 50 paths cost about 1k tokens.",
    )
    max_files: int = Field(
        10,
        ge=1,
        description="Files one understanding answer may name: gold patches of SWE-bench touch 1-4 "
        "files; 10 leaves room for the files a fix must read but not change.",
    )
    location_files: int | None = Field(
        None,
        ge=1,
        description="Files a location may name: the chosen ones first, then retrieval's order. None: "
        "any source file, so a fix found through a tool call in another file can be located there.",
    )
    location_symbols: int | None = Field(
        None,
        ge=1,
        description="Symbols of a chosen file a location may name. None: all of them (a django "
        "model file has hundreds; the method of a large class comes late in the file).",
    )
    symbols_per_file: int = Field(
        5,
        ge=0,
        description="Best-ranked symbols named beside each file of the understanding prompt's ranked "
        "list (`best: Query.build_filter, ...`, from the job's 100 ranked symbols), so the model picks "
        "files knowing which of their functions matched the issue. On SWE-bench Lite the list then "
        "names 55% of the gold functions beside their file (1: 27%, 3: 46%) for a median 856 "
        "characters (about 280 tokens): only the best files have ranked symbols "
        "(bench/results/localize_prompt.json, `understanding`). 0: the reasons alone.",
    )
    symbols_listed: int = Field(
        30,
        ge=0,
        description="Ranked symbols listed in the localization prompt, each with its lines and why "
        "retrieval ranked it: the best this many in the chosen files and the best this many overall "
        "(about 35 lines, 1k tokens). The chosen files' skeletons are cut at 80 lines, so with the "
        "gold files chosen they show 31% of SWE-bench Lite's gold functions; the list raises that to "
        "87% (70% with the top 3 files chosen instead: 21% without it); 20 gives 82%, 50 gives 87% "
        "(bench/results/localize_prompt.json). 0: no list.",
    )
    max_locations: int = Field(
        10,
        ge=1,
        description="Locations per answer: the method's released localization allows up to 10 "
        "(classes, functions and global code).",
    )
    shown_lines: int = Field(
        600,
        ge=20,
        description="Lines of code shown per file at the patch step (the locations with context): "
        "600 lines are about 7k tokens, which fits a 16k-token prompt with the issue and the "
        "gathered context.",
    )
    import_header: bool = Field(
        True,
        description="Show each located file's import block at the patch step, so a fix that needs a "
        "new import can quote the imports and add one.",
    )
    gathered_context: bool = Field(
        True,
        description="Show the patch step what localization's tool calls found (the method's released "
        "code writes the patch on the whole retrieval conversation).",
    )
    constrain_patches: bool = Field(
        True,
        description="Constrain patch decoding to the edit-block form and to SEARCH lines of the shown "
        "code. Off: free text, checked after decoding (for a model trained on another format).",
    )
    search_lines: int | None = Field(
        None,
        ge=1,
        description="Lines one SEARCH may quote under the constraint. None: any number of the shown "
        "lines (each exact; that they are consecutive is checked when the block is applied). A "
        "number: runs of at most that many consecutive shown lines, enforced in the grammar (its "
        "size grows with the number, so only small numbers are practical).",
    )
    replace_lines: int | None = Field(
        None, ge=1, description="Lines one REPLACE may write. None: as many as the turn's tokens allow."
    )
    max_blocks: int = Field(
        16,
        ge=1,
        description="Edit blocks per answer: SWE-bench gold patches need up to about 12 minimal "
        "blocks; 16 lets a multi-site fix through without letting a runaway answer loop.",
    )
    new_files: bool = Field(
        True, description="Whether a patch may create files (a gold fix sometimes adds a module)."
    )

    @field_validator("turn_tokens", mode="before")
    @classmethod
    def _over_defaults(cls, value: Any) -> Any:
        """A manifest may set some stages only; the others keep their defaults."""
        if not isinstance(value, dict):
            return value
        unknown = sorted(set(value) - set(TURN_STAGES))
        if unknown:
            raise ValueError(f"unknown stage(s) {', '.join(unknown)}; stages: {', '.join(TURN_STAGES)}")
        if any(not isinstance(v, int) or v < 16 for v in value.values()):
            raise ValueError("every stage needs a whole number of at least 16 tokens")
        defaults = cls.model_fields["turn_tokens"].default_factory()  # type: ignore[misc]
        return {**defaults, **value}

    def tokens(self, stage: str) -> int:
        """The output limit of a turn of `stage`."""
        return self.turn_tokens[stage]
