"""`vulnsight calibrate` scores records with a real model directory (the embedded base)
and writes per-language thresholds that `resolve` then hands to the scanner."""

from __future__ import annotations

import json
import math

import pytest
from click.testing import CliRunner

from vulnsight.cli import main
from vulnsight.llm.models import resolve

pytestmark = [pytest.mark.model, pytest.mark.semgrep]


def record(rid, language, code, label, project):
    return {
        "id": rid,
        "language": language,
        "code": code,
        "label": label,
        "cwe": "CWE-78" if label else None,
        "lines": [2] if label else [],
        "source": "t",
        "project": project,
        "path": "",
        "meta": {},
    }


def test_calibrate_writes_thresholds_the_scanner_reads(tmp_path, no_network):
    model = tmp_path / "model"
    model.mkdir()
    (model / "MODEL_CARD.md").write_text("# base\n\n## Data\n\nnone\n")
    (model / "vulnsight-model.json").write_text(
        json.dumps({"name": "base-calibrated", "base_gguf": "default"})
    )
    rows = [
        record("p1", "python", "def f(c):\n    os.system(c)\n", 1, "a"),
        record("p2", "python", "def g(x):\n    return x + 1\n", 0, "a"),
        record("c1", "c", "void f(char *s) {\n  char b[4]; strcpy(b, s);\n}\n", 1, "b"),
        record("c2", "c", "int g(int x) {\n  return x * 2;\n}\n", 0, "b"),
    ]
    data = tmp_path / "labelled.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows))
    clean = tmp_path / "clean.jsonl"
    clean.write_text(
        json.dumps(record("k1", "c", "int h(int y) {\n  return y - 1;\n}\n", 0, "k")) + "\n"
    )
    result = CliRunner().invoke(
        main,
        [
            "calibrate",
            "--model",
            str(model),
            "--data",
            str(data),
            "--clean",
            str(clean),
            "--max-flag-rate",
            "0.0",
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    meta = json.loads((model / "vulnsight-model.json").read_text())
    assert set(meta["thresholds"]) == {"c", "python"}
    c_row = next(r for r in meta["calibration"]["languages"] if r["language"] == "c")
    assert c_row["clean"] == 1 and c_row["clean_flag_rate"] == 0.0  # the cap holds
    kwargs = resolve(str(model)).kwargs
    for lang, value in meta["thresholds"].items():
        expected = math.inf if value is None else value
        assert kwargs["language_thresholds"][lang] == expected
    assert (model / "calibration" / "predictions.jsonl").is_file()
    card = (model / "MODEL_CARD.md").read_text()
    assert card.startswith("# base\n\n## Data\n\nnone\n\n## Per-language thresholds")
    assert "| c |" in card and "| python |" in card

    bad = CliRunner().invoke(
        main, ["calibrate", "--model", str(model), "--data", str(data), "--clean", str(data)]
    )
    assert bad.exit_code == 2 and "label 0" in bad.output
