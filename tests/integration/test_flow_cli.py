"""`vulnsight scan --detectors flow` as a user runs it: a real subprocess over the data-flow
fixtures copied into a temporary directory; the path reaches every output format."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import jsonschema

from ..conftest import FIXTURES, ROOT


def _scan(tmp_path: Path, fmt: str) -> tuple[int, str]:
    project = tmp_path / "project"
    if not project.exists():
        shutil.copytree(FIXTURES / "dataflow" / "python", project)
        (project / "expected.json").unlink()
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT / "src"), env.get("PYTHONPATH", "")) if p
    )
    proc = subprocess.run(
        [sys.executable, "-m", "vulnsight.cli", "scan", str(project), "--detectors", "flow"]
        + ["--format", fmt, "--no-progress", "--no-cache"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    return proc.returncode, proc.stdout + proc.stderr


def test_scan_with_flow_reports_paths_in_text_json_and_sarif(tmp_path, sarif_schema) -> None:
    code, text = _scan(tmp_path, "text")
    assert code == 1, text
    assert "           3. views.py:14 in user: passed to load_user() as name\n" in text
    assert (
        "           5. helpers.py:12 in load_user: sink: cur.execute() (SQL query, CWE-89)" in text
    )

    code, out = _scan(tmp_path, "json")
    assert code == 1, out
    findings = json.loads(out)["findings"]
    located = {(f["file"], f["line_number"], f["cwe"]) for f in findings}
    assert ("helpers.py", 12, "CWE-89") in located and ("views.py", 25, "CWE-78") in located
    assert not {("helpers.py", 18), ("views.py", 30)} & {(f, ln) for f, ln, _ in located}
    assert all(f["detectors"] == ["flow"] and f["path"] for f in findings)

    code, out = _scan(tmp_path, "sarif")
    assert code == 1, out
    doc = json.loads(out)
    jsonschema.validate(doc, sarif_schema)
    results = doc["runs"][0]["results"]
    assert len(results) == len(findings)
    assert all(r["codeFlows"][0]["threadFlows"][0]["locations"] for r in results)
