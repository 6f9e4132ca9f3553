"""`vulnsight eval --loso` end to end in a subprocess: the table, the decision file, and
a rerun that resumes from the cache in --out instead of recomputing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import vulnsight

SRC = str(Path(vulnsight.__file__).resolve().parents[1])  # the copy under test
pytestmark = [
    pytest.mark.semgrep,
    pytest.mark.skipif(
        shutil.which("semgrep") is None and not (Path(sys.executable).parent / "semgrep").is_file(),
        reason="no semgrep",
    ),
]

VULN = "import os\n\n\ndef run(cmd):\n    os.system('ls ' + cmd)\n"
CLEAN = "def add(a, b):\n    return a + b\n"


def write_data(path: Path) -> Path:
    rows = []
    for source in ("alpha", "beta", "semgrep_rules_tests"):
        for k in range(4):
            label = k % 2
            rows.append(
                {
                    "id": f"{source}-{k}",
                    "language": "python",
                    "code": VULN if label else CLEAN.replace("add", f"add{k}"),
                    "label": label,
                    "cwe": "CWE-78" if label else None,
                    "lines": [5] if label else [],
                    "source": source,
                    "project": f"{source}/p{k // 2}",
                    "path": "x.py",
                }
            )
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    code = "from vulnsight.cli import main\nmain(prog_name='vulnsight')"
    env = {**os.environ, "PYTHONPATH": SRC}
    return subprocess.run(
        [sys.executable, "-c", code, *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_loso_table_and_resume(tmp_path: Path) -> None:
    data = write_data(tmp_path / "d.jsonl")
    out = tmp_path / "out"
    args = ("eval", "--loso", "--loso-no-model", "--data", str(data), "--out", str(out))
    first = run_cli(*args, cwd=tmp_path)
    assert first.returncode == 0, first.stderr
    result = json.loads((out / "loso.json").read_text())
    assert [f["held_out"] for f in result["folds"]] == ["alpha", "beta"]
    assert result["config"]["dev_only_dropped"] == 4
    rows = {(r["held_out"], r["detector"]): r for r in result["rows"]}
    assert set(rows) == {(s, d) for s in ("alpha", "beta") for d in ("rules", "flow", "rules+flow")}
    # the rule pack flags the os.system call and not the addition, in both sources
    for source in ("alpha", "beta"):
        assert rows[(source, "rules")]["recall"] == 1.0
        assert rows[(source, "rules")]["clean_flag_rate"] == 0.0
    decision = json.loads((out / "model-decision.json").read_text())
    assert decision["python"]["model"] == "off"
    assert "| alpha | python | rules |" in (out / "LOSO.md").read_text()
    # the shipped model is off in Python: the shipped scan's row is rules+flow's, measured
    pooled = {r["detector"]: r for r in result["by_language"] if r["language"] == "python"}
    assert pooled["shipped hybrid"]["model"] == "off"
    assert pooled["shipped hybrid"]["youden_j"] == pooled["rules+flow"]["youden_j"]
    assert "## The shipped scan against the rules alone" in (out / "LOSO.md").read_text()
    usage = (out / "detectors" / "usage.jsonl").read_text()
    predictions = (out / "detectors" / "predictions.jsonl").read_text()
    again = run_cli(*args, cwd=tmp_path)
    assert again.returncode == 0, again.stderr
    # nothing was recomputed: no new chunk ran, the same predictions were reused
    assert (out / "detectors" / "usage.jsonl").read_text() == usage
    assert (out / "detectors" / "predictions.jsonl").read_text() == predictions
    assert json.loads((out / "loso.json").read_text())["rows"] == result["rows"]
