"""GitHub code scanning's ingestion rules, checked offline with Microsoft's SARIF
Multitool (`validate --rule-kind "Gh;Sarif"`), on a real scan with a rule hit, a model
finding and a file error. .ci/run installs the tool from npm."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from vulnsight.config import ScanConfig
from vulnsight.detectors.flow import FlowDetector
from vulnsight.detectors.llm import LLMDetector
from vulnsight.detectors.rules import RulesDetector
from vulnsight.llm.fake import FakeBackend
from vulnsight.output.sarif import RuleDescription
from vulnsight.output.sarif import render as sarif_render
from vulnsight.pipeline import scan
from vulnsight.rules.engine import rule_metadata

from ..conftest import EXAMPLE, ROOT

pytestmark = pytest.mark.semgrep

_CANDIDATES = [
    os.environ.get("VULNSIGHT_SARIF_MULTITOOL", ""),
    str(ROOT / ".ci/tools/node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool"),
]


def _multitool() -> str | None:
    for c in _CANDIDATES:
        if c and Path(c).is_file():
            return c
    return shutil.which("sarif-multitool-native")


def test_sarif_passes_github_ingestion_rules(tmp_path):
    tool = _multitool()
    if tool is None:
        pytest.skip("SARIF Multitool not installed (.ci/run installs it)")
    project = tmp_path / "p"
    shutil.copytree(EXAMPLE, project)
    (project / "python" / "broken.py").write_text("def f(:\n    return (\n")
    shutil.copytree(ROOT / "tests/fixtures/dataflow/python", project / "flow")

    def responder(prompt):
        flagged = "eval(" in prompt.body
        return {
            "vulnerability": flagged,
            "type": "CWE-95" if flagged else "none",
            "line_number": 0,
            "confidence": 0.9,
        }

    detectors = [
        RulesDetector(),
        FlowDetector(),
        LLMDetector(FakeBackend(responder=responder)),
    ]
    report = scan([project], ScanConfig(), detectors)
    assert any("llm" in f.detectors for f in report.findings)
    assert any(f.path and f.file.startswith("flow/") for f in report.findings)
    assert any(e.file == "python/broken.py" for e in report.errors)
    rules = {
        rid: RuleDescription(rid, m.cwe, m.message, m.severity.value, m.confidence)
        for rid, m in rule_metadata().items()
    }
    sarif = tmp_path / "report.sarif"
    sarif.write_text(sarif_render(report, rules))
    out = tmp_path / "validation.sarif"
    os.chmod(tool, 0o755)
    proc = subprocess.run(
        [tool, "validate", str(sarif), "--rule-kind", "Gh;Sarif", "--output", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    results = json.loads(out.read_text())["runs"][0]["results"]
    problems = [(r["ruleId"], r.get("level"), r["message"]) for r in results]
    assert problems == []
