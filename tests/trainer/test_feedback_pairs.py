"""The ORM's pairs from the user's feedback (`swe-train orm --feedback`): a candidate applied hunk by
hunk is chosen as the diff of the hunks applied, not as the whole candidate."""

from __future__ import annotations

from pathlib import Path

from unidiff import PatchSet

from swe_lsp.patch import Patch, content_hash
from swe_lsp.search.job import Candidate, Evidence, Issue, JobReport
from swe_lsp.server.store import JobStore
from trainer.orm import store_pairs

BASE = "".join(f"def f{i}(x):\n    return x + {i}\n\n\n" for i in range(10))
# Two changes far apart: two hunks in one file.
BOTH = BASE.replace("x + 1\n", "x - 1\n").replace("x + 8\n", "x - 8\n")
OTHER = BASE.replace("x + 5\n", "x * 5\n")


def _store(db: Path) -> tuple[JobStore, Patch]:
    store = JobStore(db)
    store.add_job("j", "/ws", Issue("f1 and f8 add instead of subtracting"))
    cands = []
    for rank, new in enumerate([BOTH, OTHER]):
        patch = Patch.from_texts({"m.py": BASE}, {"m.py": new})
        cands.append(
            Candidate(rank, patch.diff, patch.files, {"m.py": content_hash(BASE)}, 1.0, Evidence(False))
        )
    store.update_job("j", state="running")
    store.finish_job(JobReport("j", "done", tuple(cands)), {"m.py": BASE})
    return store, Patch.parse(cands[0].diff)


def test_a_partial_apply_chooses_only_the_applied_hunks(tmp_path: Path) -> None:
    store, whole = _store(tmp_path / "jobs.sqlite3")
    assert [h.id for h in whole.hunks()] == ["m.py#0", "m.py#1"]
    store.add_feedback("j", 0, "applied", ["m.py#1"])
    store.close()
    (pair,) = store_pairs(tmp_path / "jobs.sqlite3")
    assert pair["chosen_hunks"] == ["m.py#1"]
    (patched,) = PatchSet(pair["chosen"])
    assert len(patched) == 1 and "-    return x + 8" in str(patched[0])
    # The chosen diff is what the user's file holds now: only the second change.
    assert Patch.parse(pair["chosen"]).apply({"m.py": BASE})["m.py"] == BASE.replace("x + 8\n", "x - 8\n")
    assert pair["rejected"] == Patch.from_texts({"m.py": BASE}, {"m.py": OTHER}).diff


def test_applies_of_every_hunk_or_of_the_whole_choose_the_whole_candidate(tmp_path: Path) -> None:
    store, whole = _store(tmp_path / "jobs.sqlite3")
    store.add_feedback("j", 0, "applied", ["m.py#0"])
    store.add_feedback("j", 0, "declined", ["m.py#1"])  # not applied: not chosen
    (pair,) = store.preference_pairs()
    assert pair["chosen_hunks"] == ["m.py#0"] and pair["chosen"] != whole.diff
    store.add_feedback("j", 0, "applied", ["m.py#1"])
    (pair,) = store.preference_pairs()
    assert pair["chosen_hunks"] == ["m.py#0", "m.py#1"] and pair["chosen"] == whole.diff
    store.add_feedback("j", 0, "applied")
    (pair,) = store.preference_pairs()
    assert pair["chosen_hunks"] is None and pair["chosen"] == whole.diff
    store.close()
