"""Tiny Llama/Mistral/Gemma models built from a config: every architecture path of
`vulnsight train` runs on the CPU in seconds, without downloads."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("peft")

from vulnsight.train.tiny import make_tiny_model, make_tiny_tokenizer  # noqa: E402

make_tokenizer = make_tiny_tokenizer
make_model = make_tiny_model


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
