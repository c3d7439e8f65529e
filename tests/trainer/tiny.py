"""A tiny random Qwen2 with a tiny tokenizer, built offline in a second: trl trains it in a few
seconds, so the trainers' tests need no download and no real model."""

from __future__ import annotations

from pathlib import Path

CORPUS = [
    "<think> the issue is in mean </think> <answer> statsmini/core.py </answer>",
    "def mean(values): return sum(values) / len(values) if values else 0",
    "diff --git a/pkg/core.py b/pkg/core.py --- +++ @@ -1,3 +1,4 @@ raise ValueError",
    "You are a strict reviewer. Answer with Yes or No only. Proposed understand step: Issue",
    "LOCATIONS pkg/core.py::mean search_method_in_file Result of turn(s) left files chosen",
]


def build_tiny_model(dest: Path) -> Path:
    """Write a 2-layer Qwen2 and a byte-level BPE tokenizer with the ChatML tokens to `dest`."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast, Qwen2Config, Qwen2ForCausalLM

    if (dest / "config.json").is_file():
        return dest
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    special = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    trainer = trainers.BpeTrainer(
        vocab_size=400, special_tokens=special, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(CORPUS * 4, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>", bos_token=None
    )
    fast.add_tokens(["Yes", "No"])
    config = Qwen2Config(
        vocab_size=len(fast),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=4096,
        tie_word_embeddings=True,
        eos_token_id=fast.eos_token_id,
        pad_token_id=fast.pad_token_id,
    )
    import torch

    torch.manual_seed(0)
    model = Qwen2ForCausalLM(config)
    model.save_pretrained(dest)
    fast.save_pretrained(dest)
    return dest
