"""Tiny Llama/Mistral/Gemma models built from a config: every architecture path of
`vulnsight train` runs on the CPU in seconds, without downloads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("peft")

WORDS = [
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
]


def make_tokenizer(path: Path):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {"<pad>": 0, "<eos>": 1, "<bos>": 2, "<unk>": 3}
    for w in WORDS + list("0123456789{}[]():;,.\"'=+-*/<>|#_-"):
        vocab.setdefault(w, len(vocab))
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [
            pre_tokenizers.WhitespaceSplit(),
            pre_tokenizers.Punctuation(),
            pre_tokenizers.Digits(True),
        ]
    )
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        bos_token="<bos>",
        eos_token="<eos>",
        pad_token="<pad>",
        unk_token="<unk>",
    )
    fast.save_pretrained(path)
    return fast


def make_model(kind: str, path: Path, vocab_size: int) -> Path:
    common = dict(
        vocab_size=vocab_size,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=1024,
        bos_token_id=2,
        eos_token_id=1,
        pad_token_id=0,
    )
    if kind == "llama":
        config = transformers.LlamaConfig(**common)
    elif kind == "mistral":
        config = transformers.MistralConfig(**common, sliding_window=None)
    elif kind == "gemma":
        config = transformers.Gemma3TextConfig(**common, head_dim=8)
    else:
        raise ValueError(kind)
    torch.manual_seed(0)
    model = transformers.AutoModelForCausalLM.from_config(config)
    model.save_pretrained(path)
    return path


@pytest.fixture(params=["llama", "mistral", "gemma"])
def tiny_base(request, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp(f"tiny-{request.param}")
    tok = make_tokenizer(path)
    make_model(request.param, path, len(tok))
    return path


VULNERABLE_C = "int f(char *s) {\n    char buf[8];\n    strcpy(buf, s);\n    return 0;\n}"
CLEAN_C = "int f(int id) {\n    return id + 1;\n}"


def write_records(
    path: Path,
    n: int,
    projects: int,
    vulnerable: str = VULNERABLE_C,
    clean: str = CLEAN_C,
) -> Path:
    """`n` labelled C records in the shared JSONL schema, alternating vulnerable (the
    strcpy on line 3, CWE-120) and clean, spread over `projects` projects."""
    rows = []
    for i in range(n):
        vuln = i % 2 == 0
        rows.append(
            {
                "id": f"r{i}",
                "language": "c",
                "code": vulnerable if vuln else clean,
                "label": int(vuln),
                "cwe": "CWE-120" if vuln else None,
                "lines": [3] if vuln else [],
                "source": "unit",
                "project": f"proj{i % projects}",
                "path": "f.c",
                "meta": {},
            }
        )
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    return path


@pytest.fixture
def tiny_data(tmp_path) -> Path:
    return write_records(tmp_path / "data.jsonl", 24, 6)
