"""Held-out metrics, computed on the model being trained, with the same arithmetic the backends
use: P(Yes) against P(No) for the next token (the PRM's AUC) and the summed log-probability of a
continuation (the ORM's implicit reward, beta * (log pi - log pi_ref), for pairwise accuracy).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from typing import Any

from swe_lsp.llm.backend import NO, YES, yes_probability


@contextlib.contextmanager
def base_only(model: Any) -> Iterator[None]:
    """Run a peft model with its adapters disabled (the reference model); a no-op otherwise."""
    if hasattr(model, "disable_adapter"):
        with model.disable_adapter():
            yield
    else:
        yield


def p_yes(model: Any, tokenizer: Any, prompts: Sequence[str]) -> list[float]:
    """P(Yes) / (P(Yes) + P(No)) for the token after each rendered prompt."""
    import torch

    yes, no = (tokenizer.encode(w, add_special_tokens=False)[0] for w in (YES, NO))
    out = []
    model.eval()
    for prompt in prompts:
        ids = torch.tensor([tokenizer.encode(prompt, add_special_tokens=False)], device=model.device)
        with torch.no_grad():
            logp = torch.log_softmax(model(input_ids=ids).logits[0, -1].float(), dim=-1)
        out.append(yes_probability(float(logp[yes]), float(logp[no])))
    return out


def logprob(model: Any, tokenizer: Any, prompt: str, continuation: str) -> float:
    """log P(continuation | prompt), summed over the continuation's tokens."""
    import torch

    prompt_ids = tokenizer.encode(prompt, add_special_tokens=False)
    cont_ids = tokenizer.encode(continuation, add_special_tokens=False)
    if not cont_ids:
        return 0.0
    ids = torch.tensor([prompt_ids + cont_ids], device=model.device)
    model.eval()
    with torch.no_grad():
        logits = model(input_ids=ids).logits[0].float()
    logp = torch.log_softmax(logits[len(prompt_ids) - 1 : -1], dim=-1)
    return float(logp.gather(1, torch.tensor(cont_ids, device=model.device)[:, None]).sum())


def auc(scores: Sequence[float], labels: Sequence[bool]) -> float | None:
    """The ROC AUC (ties count one half); None when one class is missing."""
    pos = [s for s, y in zip(scores, labels, strict=True) if y]
    neg = [s for s, y in zip(scores, labels, strict=True) if not y]
    if not pos or not neg:
        return None
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    return wins / (len(pos) * len(neg))


def pairwise_accuracy(chosen: Sequence[float], rejected: Sequence[float]) -> float | None:
    """The share of pairs whose chosen reward beats the rejected one (ties count one half)."""
    if not chosen:
        return None
    wins = sum(1.0 if c > r else 0.5 if c == r else 0.0 for c, r in zip(chosen, rejected, strict=True))
    return wins / len(chosen)


def split_heldout(
    rows: Sequence[dict[str, Any]], fraction: float, key: str | None = None
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(train, held out): every `1/fraction`-th row of each `key` group (e.g. each label), at
    least one per group that has two or more rows, so both classes are held out where possible."""
    if fraction <= 0:
        return list(rows), []
    groups: dict[object, list[int]] = {}
    for i, row in enumerate(rows):
        groups.setdefault(row.get(key) if key else None, []).append(i)
    held: set[int] = set()
    for members in groups.values():
        if len(members) < 2:
            continue
        count = max(1, round(len(members) * fraction))
        stride = max(1, len(members) // count)
        held.update(members[::stride][:count])
    return [r for i, r in enumerate(rows) if i not in held], [r for i, r in enumerate(rows) if i in held]
