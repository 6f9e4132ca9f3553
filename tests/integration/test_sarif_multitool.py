"""GitHub code scanning's ingestion rules, checked offline with Microsoft's SARIF
Multitool (`validate --rule-kind "Gh;Sarif"`), on a real scan with a rule hit, a model
finding and a file error, and on a report over GitHub's 25,000-results limit. .ci/run
installs the tool from npm."""

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
from vulnsight.output.sarif_limits import GITHUB_LIMITS, gzip_size
from vulnsight.pipeline import scan
from vulnsight.rules.engine import rule_metadata
from vulnsight.types import ConfigEffect, Finding, Report, ScanError, Severity, fingerprint

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


def _validate(tool: str, sarif: Path, out: Path) -> list[tuple[str, str, dict]]:
    """The Multitool's complaints about a SARIF file under GitHub's and SARIF's rules."""
    os.chmod(tool, 0o755)
    proc = subprocess.run(
        # The Multitool skips files over 10,000 KB unless told otherwise; GitHub's own
        # size limit (10 MB gzip-compressed) is asserted by the tests themselves.
        [
            tool,
            "validate",
            str(sarif),
            "--rule-kind",
            "Gh;Sarif",
            "--output",
            str(out),
            "--max-file-size-in-kb",
            "102400",
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    results = json.loads(out.read_text())["runs"][0]["results"]
    problems = [(r["ruleId"], r.get("level"), r["message"]) for r in results]
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return problems


def test_configuration_effects_and_baseline_state_pass(tmp_path, sarif_schema):
    """What a repository's configuration changed (notifications, invocation properties),
    baseline states and every kind of suppression, as GitHub ingests them."""
    import jsonschema

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
    assert _validate(tool, sarif, tmp_path / "validation.sarif") == []


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
    assert _validate(tool, sarif, tmp_path / "validation.sarif") == []


def _many_findings(n: int) -> list[Finding]:
    """`n` findings over 500 files and 6 rules, confidences spread over (0, 1)."""
    out = []
    for i in range(n):
        rid = f"vulnsight.python.rule-{i % 6}"
        file = f"pkg{i % 50}/mod{i % 500}.py"
        snippet = f"call_{i}(request.args['q'])"
        out.append(
            Finding(
                file=file,
                line_number=i // 500 + 1,
                cwe="CWE-95" if i % 2 else "CWE-78",
                message=f"finding {i}",
                detector="rules",
                confidence=round(((i * 7919) % 10007) / 10007, 4),
                severity=Severity.HIGH if i % 3 == 0 else Severity.MEDIUM,
                function=f"handler_{i % 97}",
                rule_id=rid,
                snippet=snippet,
                detectors=("rules",),
                fingerprint=fingerprint(rid, file, f"handler_{i % 97}", snippet),
                suppressed=i % 1000 == 0,
                suppression_reason="inline: reviewed" if i % 1000 == 0 else None,
            )
        )
    return sorted(out, key=lambda f: (f.file, f.line_number))


def test_sarif_over_githubs_result_limit_is_capped_and_accepted(tmp_path):
    # The Multitool's Gh rules do not count results (an uncapped 26,000-result file
    # passes them), so the cap itself is asserted here and the Multitool checks the rest.
    findings = _many_findings(26_000)
    report = Report(findings=tuple(findings), stats={"findings": 26_000}, root=str(tmp_path))
    uncapped = json.loads(sarif_render(report, limits=None))["runs"][0]["results"]
    assert len(uncapped) == 26_000
    text = sarif_render(report)
    doc = json.loads(text)
    run = doc["runs"][0]
    results = run["results"]
    assert len(results) == GITHUB_LIMITS.max_results
    assert gzip_size(text) <= GITHUB_LIMITS.max_gzip_bytes
    # The 1,000 least confident open findings are the ones left out (none suppressed
    # is kept over an open one: 26 suppressed sit at the bottom of the ranking).
    ranked = sorted(findings, key=lambda f: (f.suppressed, -f.confidence))
    left_out = {f.fingerprint for f in ranked[25_000:]}
    kept = {r["partialFingerprints"]["vulnsight/v1"] for r in results}
    assert kept.isdisjoint(left_out) and len(kept) == 25_000
    # Kept results keep their partialFingerprints and their order.
    by_fp = {r["partialFingerprints"]["vulnsight/v1"]: r for r in uncapped}
    assert [r["message"]["text"] for r in results] == [
        r["message"]["text"] for r in uncapped if r["partialFingerprints"]["vulnsight/v1"] in kept
    ]
    assert all(
        by_fp[r["partialFingerprints"]["vulnsight/v1"]]["locations"] == r["locations"]
        for r in results[:50]
    )
    omitted = run["properties"]["omitted"]
    assert omitted["results_total"] == 26_000 and omitted["results_omitted"] == 1_000
    assert sum(omitted["omitted_by_rule"].values()) == 1_000
    notes = run["invocations"][0]["toolExecutionNotifications"]
    (note,) = [n for n in notes if n["descriptor"]["id"] == "vulnsight.ingestion-limits"]
    assert note["message"]["text"].startswith("1000 of 26000 results left out")
    assert "25,000 results per run" in note["message"]["text"]

    tool = _multitool()
    if tool is None:
        pytest.skip("SARIF Multitool not installed (.ci/run installs it)")
    sarif = tmp_path / "big.sarif"
    sarif.write_text(text)
    assert _validate(tool, sarif, tmp_path / "validation.sarif") == []
