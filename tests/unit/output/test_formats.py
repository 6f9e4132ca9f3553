import json

import jsonschema

from vulnsight.output import FORMATS
from vulnsight.output.sarif import RuleDescription
from vulnsight.output.sarif import render as sarif_render
from vulnsight.types import Finding, Report, ScanError, Severity, Skipped, fingerprint


def _report():
    rule = Finding(
        file="src/a b.c",
        line_number=12,
        end_line=12,
        cwe="CWE-120",
        message="strcpy into a fixed buffer",
        detector="rules",
        confidence=0.8,
        severity=Severity.HIGH,
        function="copy",
        rule_id="vulnsight.c.strcpy",
        snippet="strcpy(buf, s);",
        detectors=("rules", "llm"),
        fingerprint=fingerprint("vulnsight.c.strcpy", "src/a b.c", "copy", "strcpy(buf, s);"),
    )
    model = Finding(
        file="app.py",
        line_number=3,
        cwe="CWE-89",
        message="model flags find",
        detector="llm",
        confidence=0.7,
        function="find",
        model="gemma",
        snippet="cur.execute(q)",
        detectors=("llm",),
        fingerprint="abc",
        suppressed=True,
        suppression_reason="accepted risk",
    )
    return Report(
        findings=(rule, model),
        errors=(ScanError("bad.py", "cannot read file: Permission denied"),),
        skipped=(Skipped("x.bin", "binary file"),),
        stats={"functions": 2},
        root="/tmp/project",
    )


def test_json_has_the_documented_shape():
    data = json.loads(FORMATS.get("json")(_report()))
    assert set(data) >= {"findings", "errors", "skipped", "stats"}
    f = data["findings"][0]
    assert f["file"] == "src/a b.c" and f["line_number"] == 12 and f["cwe"] == "CWE-120"
    assert f["type"] == "Classic Buffer Overflow"
    assert f["vulnerability"] is True and f["detectors"] == ["rules", "llm"]
    assert f["rule_id"] == "vulnsight.c.strcpy" and data["findings"][1]["model"] == "gemma"
    assert data["errors"][0]["file"] == "bad.py" and data["skipped"][0]["reason"] == "binary file"


def test_sarif_is_valid_and_carries_rules_cwes_fingerprints_and_suppressions(sarif_schema):
    rules = {
        "vulnsight.c.strcpy": RuleDescription(
            "vulnsight.c.strcpy", "CWE-120", "Unbounded copy.", "high", 0.9
        )
    }
    doc = json.loads(sarif_render(_report(), rules))
    jsonschema.validate(doc, sarif_schema)
    run = doc["runs"][0]
    rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert rule_ids == ["vulnsight.c.strcpy", "vulnsight.llm.CWE-89"]
    assert "external/cwe/cwe-120" in run["tool"]["driver"]["rules"][0]["properties"]["tags"]
    first, second = run["results"]
    assert first["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "src/a%20b.c"
    assert first["locations"][0]["physicalLocation"]["region"]["startLine"] == 12
    assert first["partialFingerprints"]["vulnsight/v1"]
    assert second["ruleIndex"] == 1
    assert second["suppressions"][0]["kind"] == "inSource"
    notes = run["invocations"][0]["toolExecutionNotifications"]
    assert notes[0]["level"] == "error" and "bad.py" in notes[0]["message"]["text"]


def test_text_lists_findings_errors_and_skips():
    out = FORMATS.get("text")(_report())
    lines = out.splitlines()
    assert lines[0] == "src/a b.c"
    assert lines[1].split()[:2] == ["12", "CWE-120"] and "(rules+llm) in copy" in lines[1]
    assert "[suppressed]" in out
    assert "error: bad.py" in out and "skipped: x.bin: binary file" in out


def test_fingerprint_ignores_line_moves_and_whitespace():
    a = fingerprint("r", "f.c", "g", "strcpy(buf,  s);")
    assert a == fingerprint("r", "f.c", "g", "  strcpy(buf, s);")
    assert a != fingerprint("r", "f.c", "h", "strcpy(buf, s);")
