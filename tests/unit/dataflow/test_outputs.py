"""The path of a data-flow finding in SARIF (codeFlows/threadFlows), text and JSON, and
how flow findings join the merged rule/model findings."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema

from tests.unit.dataflow.helpers import copy_fixture, run_flow
from vulnsight.detectors.flow import combine
from vulnsight.output import FORMATS
from vulnsight.output.sarif import render as sarif_render
from vulnsight.types import Finding, PathStep, Report


def _report(tmp_path: Path) -> Report:
    result = run_flow(copy_fixture("python", tmp_path))
    return Report(findings=result.findings, root=str(tmp_path / "python"))


def test_sarif_code_flows_follow_the_path_and_validate(tmp_path: Path, sarif_schema) -> None:
    report = _report(tmp_path)
    doc = json.loads(sarif_render(report))
    jsonschema.validate(doc, sarif_schema)
    results = doc["runs"][0]["results"]
    assert len(results) == len(report.findings) == 27
    by_location = {
        (r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
         r["locations"][0]["physicalLocation"]["region"]["startLine"]): r
        for r in results
    }  # fmt: skip
    cross = by_location[("helpers.py", 12)]
    (flow,) = cross["codeFlows"]
    (thread,) = flow["threadFlows"]
    steps = [
        (
            loc["location"]["physicalLocation"]["artifactLocation"]["uri"],
            loc["location"]["physicalLocation"]["region"]["startLine"],
            loc["location"]["logicalLocations"][0]["name"],
            loc["location"]["message"]["text"],
            loc["executionOrder"],
        )
        for loc in thread["locations"]
    ]
    assert steps == [
        ("views.py", 13, "user",
         "source: request.args (HTTP request data (Flask/Django/FastAPI/Pyramid request))", 1),
        ("views.py", 13, "user", "assigned to name", 2),
        ("views.py", 14, "user", "passed to load_user() as name", 3),
        ("helpers.py", 10, "load_user", "parameter name", 4),
        ("helpers.py", 12, "load_user", "sink: cur.execute() (SQL query, CWE-89)", 5),
    ]  # fmt: skip
    assert flow["message"]["text"] == "views.py:13 to helpers.py:12 (5 steps)"
    assert cross["ruleId"] == "vulnsight.flow.python.sql-injection"
    assert cross["properties"]["detectors"] == ["flow"]


def test_sarif_without_paths_has_no_code_flows() -> None:
    plain = Finding("a.py", 3, "CWE-89", "m", "rules", 0.8, rule_id="r")
    doc = json.loads(sarif_render(Report(findings=(plain,))))
    assert "codeFlows" not in doc["runs"][0]["results"][0]


def test_text_and_json_print_the_path(tmp_path: Path) -> None:
    report = _report(tmp_path)
    text = FORMATS.get("text")(report)
    assert (
        "         path:\n"
        "           1. views.py:13 in user: source: request.args "
        "(HTTP request data (Flask/Django/FastAPI/Pyramid request))\n"
        "           2. views.py:13 in user: assigned to name\n"
        "           3. views.py:14 in user: passed to load_user() as name\n"
        "           4. helpers.py:10 in load_user: parameter name\n"
        "           5. helpers.py:12 in load_user: sink: cur.execute() (SQL query, CWE-89)\n"
    ) in text
    data = json.loads(FORMATS.get("json")(report))
    (cross,) = [f for f in data["findings"] if (f["file"], f["line_number"]) == ("helpers.py", 12)]
    assert cross["path"][3] == {
        "file": "helpers.py",
        "line": 10,
        "function": "load_user",
        "description": "parameter name",
    }
    assert len(cross["path"]) == 5
    assert all(f["path"] for f in data["findings"])


def test_combine_attaches_the_path_to_a_rule_hit_at_the_same_place() -> None:
    step = PathStep("a.py", 2, "f", "source: x")
    rule = Finding("a.py", 5, "CWE-89", "rule", "rules", 0.6, rule_id="r", detectors=("rules",))
    other = Finding("a.py", 9, "CWE-78", "rule", "rules", 0.6, rule_id="s", detectors=("rules",))
    same = Finding("a.py", 5, "CWE-89", "flow", "flow", 0.8, detectors=("flow",), path=(step,))
    new = Finding("a.py", 7, "CWE-22", "flow", "flow", 0.8, detectors=("flow",), path=(step,))
    out = combine([rule, other], [same, new])
    assert [(f.line_number, f.detectors, f.confidence, f.path) for f in out] == [
        (5, ("rules", "flow"), 0.8, (step,)),
        (9, ("rules",), 0.6, ()),
        (7, ("flow",), 0.8, (step,)),
    ]
    assert out[0].rule_id == "r" and out[0].message == "rule"
