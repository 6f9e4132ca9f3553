"""`vulnsight eval` end to end on a dozen records: rules and the two baselines."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from vulnsight.cli import main

pytestmark = [pytest.mark.semgrep]

ROWS = [
    ("py1", "python", "import os\n\ndef run(cmd):\n    os.system('ls ' + cmd)\n", 1, [4], "p1"),
    ("py2", "python", "def add(a, b):\n    return a + b\n", 0, [], "p1"),
    ("py3", "python", "import pickle\n\ndef load(b):\n    return pickle.loads(b)\n", 1, [4], "p2"),
    ("py4", "python", "def name(u):\n    return u.strip().lower()\n", 0, [], "p2"),
    (
        "c1",
        "c",
        "#include <string.h>\nvoid f(char *s) {\n    char b[8];\n    strcpy(b, s);\n}\n",
        1,
        [4],
        "p3",
    ),
    ("c2", "c", "int sq(int x) {\n    return x * x;\n}\n", 0, [], "p3"),
    ("js1", "javascript", "function f(req, res) {\n  eval(req.query.code);\n}\n", 1, [2], "p4"),
    ("js2", "javascript", "function g(a) {\n  return a + 1;\n}\n", 0, [], "p4"),
    ("sg1", "python", "import os\nos.system(input())\n", 1, [2], "rule.yaml"),
    ("sg2", "python", "x = 1\n", 0, [], "rule.yaml"),
]


def write_data(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.jsonl"
    with path.open("w") as fh:
        for rid, lang, code, label, lines, project in ROWS:
            source = "semgrep_rules_tests" if rid.startswith("sg") else "tiny"
            fh.write(
                json.dumps(
                    {
                        "id": rid,
                        "language": lang,
                        "code": code,
                        "label": label,
                        "cwe": "CWE-78" if label else None,
                        "lines": lines,
                        "source": source,
                        "project": project,
                        "path": "x",
                    }
                )
                + "\n"
            )
    return path


def test_eval_writes_leaderboard_predictions_and_plots(tmp_path):
    data = write_data(tmp_path)
    out = tmp_path / "out"
    args = [
        "eval",
        "--data",
        str(data),
        "--detectors",
        "rules,flag-all,flag-none",
        "--out",
        str(out),
        "--seed",
        "3",
        "--perturb",
        "comment",
        "--no-progress",
    ]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    results = json.loads((out / "results.json").read_text())
    by_name = {d["detector"]: d for d in results["detectors"]}
    assert by_name["flag-all"]["overall"]["recall"] == 1.0
    assert by_name["flag-all"]["overall"]["n"] == 10
    # The rule pack is never scored on Semgrep's own rule tests.
    assert by_name["rules"]["n"] == 8
    assert by_name["rules"]["not_scored"] == {"fitted to semgrep_rules_tests": 2}
    assert by_name["rules"]["overall"]["tp"] >= 2
    assert by_name["rules"]["overall"]["fp"] == 0
    assert results["config"]["seed"] == 3
    preds = (out / "predictions.jsonl").read_text().splitlines()
    assert len([p for p in preds if '"perturbation": "none"' in p]) == 28
    assert (out / "LEADERBOARD.md").read_text().startswith("# vulnsight eval leaderboard")
    if importlib.util.find_spec("matplotlib") is not None:
        assert {p.name for p in (out / "plots").iterdir()} >= {
            "f1_by_language.png",
            "threshold_sweep.png",
            "reliability.png",
        }
    # A second run resumes: nothing new is appended.
    res2 = CliRunner().invoke(main, args)
    assert res2.exit_code == 0, res2.output
    assert (out / "predictions.jsonl").read_text().splitlines() == preds


def test_attack_perturbations_of_vulnerable_records_only(tmp_path):
    data = write_data(tmp_path)
    out = tmp_path / "out"
    args = ["eval", "--data", str(data), "--detectors", "flag-all", "--out", str(out)]
    args += ["--perturb", "identifier,literal", "--perturb-vulnerable", "--no-progress"]
    res = CliRunner().invoke(main, args)
    assert res.exit_code == 0, res.output
    vulnerable = {row[0] for row in ROWS if row[3] == 1}
    perturbed: dict[str, set[str]] = {}
    for line in (out / "predictions.jsonl").read_text().splitlines():
        row = json.loads(line)
        if row["perturbation"] != "none":
            perturbed.setdefault(row["perturbation"], set()).add(row["record_id"])
    assert set(perturbed) == {"identifier", "literal"}
    assert perturbed["literal"] <= vulnerable and perturbed["identifier"] <= vulnerable
    # every vulnerable function here has a body with `{` or a simple first statement
    assert perturbed["literal"] == vulnerable - {"sg1"}
    results = json.loads((out / "results.json").read_text())
    robust = results["detectors"][0]["robustness"]
    assert robust["literal"]["flip_rate"] == 0.0 and robust["literal"]["mean_score_shift"] == 0.0
    assert results["config"]["perturb_vulnerable"] is True
    assert "Mean score shift of vulnerable records" in (out / "LEADERBOARD.md").read_text()
