"""Small models built from a config, for tests and device benchmarks: no downloads.

One place for the word-level tokenizer and the Llama/Mistral/Gemma-shaped networks that
`tests/unit/train`, `benchmarks/device_bench.py` and `scripts/gpu_retrain.py --cpu-tiny`
build, plus the real Gemma 3 270M shape (random weights: speed only, not quality).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

__all__ = [
    "GEMMA3_270M",
    "TINY_SHAPE",
    "TINY_WORDS",
    "build_gemma3",
    "make_tiny_model",
    "make_tiny_tokenizer",
]

#: Gemma 3 270M's architecture (google/gemma-3-270m config.json).
GEMMA3_270M: dict[str, Any] = {
    "vocab_size": 262144,
    "hidden_size": 640,
    "intermediate_size": 2048,
    "num_hidden_layers": 18,
    "num_attention_heads": 4,
    "num_key_value_heads": 1,
    "head_dim": 256,
    "max_position_embeddings": 32768,
    "sliding_window": 512,
    "rope_theta": 1000000.0,
    "rope_local_base_freq": 10000.0,
    "query_pre_attn_scalar": 256,
    "bos_token_id": 2,
    "eos_token_id": 1,
    "pad_token_id": 0,
}
#: A 2-layer network of the same family (seconds per step on a CPU).
TINY_SHAPE: dict[str, Any] = {
    "hidden_size": 32,
    "intermediate_size": 64,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "num_key_value_heads": 2,
    "max_position_embeddings": 9216,
    "bos_token_id": 2,
    "eos_token_id": 1,
    "pad_token_id": 0,
}
#: Words the tiny tokenizer keeps whole: the verdict's JSON keys and values (so ' true'
#: and ' false' are single tokens, as the decision path needs) and some code words.
TINY_WORDS: tuple[str, ...] = (
    "true",
    "false",
    "none",
    "type",
    "line_number",
    "confidence",
    "vulnerability",
    "CWE",
    "code",
    "language",
    "verdict",
    "strcpy",
    "buf",
    "char",
    "int",
    "return",
    "def",
    "eval",
    "os",
    "system",
    "query",
    "select",
    "from",
    "where",
    "id",
    "name",
)


def make_tiny_tokenizer(path: Path) -> Any:
    """A word-level fast tokenizer (true/false, digits and JSON marks single tokens),
    saved to `path` and returned."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "<eos>": 1, "<bos>": 2, "<unk>": 3}
    for w in [*TINY_WORDS, *"0123456789{}[]():;,.\"'=+-*/<>|#_-"]:
        vocab.setdefault(w, len(vocab))
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.WhitespaceSplit(),
            pre_tokenizers.Punctuation(),
            pre_tokenizers.Digits(True),
        ]
    )
    fast = PreTrainedTokenizerFast(  # type: ignore[no-untyped-call]
        tokenizer_object=tok,
        bos_token="<bos>",
        eos_token="<eos>",
        pad_token="<pad>",
        unk_token="<unk>",
    )
    fast.save_pretrained(path)
    return fast


def tiny_config(kind: str, vocab_size: int, **overrides: Any) -> Any:
    """The config of a 2-layer `kind` ('llama', 'mistral', 'gemma') network."""
    import transformers

    shape = {**TINY_SHAPE, "max_position_embeddings": 1024, **overrides}
    common = {k: v for k, v in shape.items() if k != "head_dim"}
    common["vocab_size"] = vocab_size
    if kind == "llama":
        return transformers.LlamaConfig(**common)
    if kind == "mistral":
        return transformers.MistralConfig(**common, sliding_window=None)
    if kind == "gemma":
        return transformers.Gemma3TextConfig(**common, head_dim=shape.get("head_dim", 8))
    raise ValueError(f"unknown tiny model kind {kind!r}")


def make_tiny_model(
    kind: str, path: Path, vocab_size: int, seed: int = 0, **overrides: Any
) -> Path:
    """Save a seeded, randomly initialised 2-layer `kind` model to `path`."""
    import torch
    import transformers

    torch.manual_seed(seed)
    model = transformers.AutoModelForCausalLM.from_config(  # type: ignore[no-untyped-call]
        tiny_config(kind, vocab_size, **overrides)
    )
    model.save_pretrained(path)
    return path


def build_gemma3(out: Path, tokenizer: Path | None, tiny: bool, seed: int = 0) -> Path:
    """A Gemma-3-shaped model directory from its config (random weights, seeded, bf16):
    the 2-layer shape with the tiny tokenizer, or Gemma 3 270M's with `tokenizer`."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, Gemma3TextConfig

    out.mkdir(parents=True, exist_ok=True)
    if tiny:
        make_tiny_tokenizer(out)
        shape = {**TINY_SHAPE, "head_dim": 8, "vocab_size": len(AutoTokenizer.from_pretrained(out))}
    else:
        if tokenizer is None:
            raise ValueError("a Gemma-3-270M-shaped model needs the Gemma 3 tokenizer")
        AutoTokenizer.from_pretrained(tokenizer).save_pretrained(out)
        shape = GEMMA3_270M
    torch.manual_seed(seed)
    model = AutoModelForCausalLM.from_config(Gemma3TextConfig(**shape))  # type: ignore[no-untyped-call]
    model.to(torch.bfloat16).save_pretrained(out)
    return out
