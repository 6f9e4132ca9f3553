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

_CANDIDATES = [
    os.environ.get("VULNSIGHT_SARIF_MULTITOOL", ""),
    str(ROOT / ".ci/tools/node_modules/@microsoft/sarif-multitool-linux/Sarif.Multitool"),
]


def _multitool() -> str | None:
    for c in _CANDIDATES:
        if c and Path(c).is_file():
            return c
    return shutil.which("sarif-multitool-native")


def _validate(tool: str, sarif: Path, tmp_path: Path) -> list[tuple[str, str, str]]:
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
    return [(r["ruleId"], r.get("level"), r["message"]) for r in results]


def test_configuration_effects_and_baseline_state_pass(tmp_path, sarif_schema):
    """What a repository's configuration changed (notifications, invocation properties),
    baseline states and every kind of suppression, as GitHub ingests them."""
    import jsonschema

    from vulnsight.types import ConfigEffect, Finding, Report, ScanError

    tool = _multitool()
    if tool is None:
        pytest.skip("SARIF Multitool not installed (.ci/run installs it)")

    def finding(line: int, by: str | None) -> Finding:
        return Finding(
            "app.py",
            line,
            "CWE-89",
            "sql",
            "rules",
            0.7,
            rule_id="vulnsight.python.sqli",
            snippet="cur.execute(q)",
            fingerprint=f"fp{line}",
            suppressed=by is not None,
            suppression_reason=f"by {by}" if by else None,
            suppressed_by=by,
        )

    report = Report(
        (finding(3, None), finding(5, "baseline"), finding(7, "inline"), finding(9, "config")),
        errors=(ScanError("(state)", "verdict cache x is unusable: scanned without it", "state"),),
        stats={"baseline_matched": 1, "suppressed_baseline": 1, "suppressed_inline": 1},
        root=str(tmp_path),
        config=(
            ConfigEffect("model", "refused", "model 'http://x/v1' refused", "vulnsight.toml"),
            ConfigEffect(
                "baseline", "applied", "1 findings hidden by baseline b.json", "vulnsight.toml", 1
            ),
        ),
    )
    sarif = tmp_path / "report.sarif"
    sarif.write_text(sarif_render(report, {}))
    doc = json.loads(sarif.read_text())
    jsonschema.validate(doc, sarif_schema)
    states = [r["baselineState"] for r in doc["runs"][0]["results"]]
    assert states == ["new", "unchanged", "new", "new"]
    assert _validate(tool, sarif, tmp_path) == []


@pytest.mark.semgrep
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
    assert _validate(tool, sarif, tmp_path) == []
