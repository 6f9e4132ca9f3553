"""SARIF within code-scanning ingestion limits: the most confident results are kept, in
report order, with unchanged fingerprints, and the run says what was left out."""

import json

import jsonschema

from vulnsight.output.sarif import render as sarif_render
from vulnsight.output.sarif_limits import GITHUB_LIMITS, IngestionLimits, gzip_size
from vulnsight.types import Finding, Report, Severity, fingerprint


def _finding(i: int, confidence: float, suppressed: bool = False, rule: str = "r") -> Finding:
    snippet = f"eval(x{i})"
    rid = f"vulnsight.python.{rule}"
    return Finding(
        file=f"src/m{i % 3}.py",
        line_number=i + 1,
        cwe="CWE-95",
        message=f"finding {i}",
        detector="rules",
        confidence=confidence,
        severity=Severity.HIGH,
        rule_id=rid,
        snippet=snippet,
        fingerprint=fingerprint(rid, f"src/m{i % 3}.py", None, snippet),
        suppressed=suppressed,
        suppression_reason="accepted" if suppressed else None,
    )


def _fingerprints(doc: dict) -> dict[str, str]:
    return {
        r["message"]["text"]: r["partialFingerprints"]["vulnsight/v1"]
        for r in doc["runs"][0]["results"]
    }


def test_github_limits_are_the_documented_ones():
    assert GITHUB_LIMITS.max_results == 25_000
    assert GITHUB_LIMITS.max_rules == 25_000
    assert GITHUB_LIMITS.max_gzip_bytes == 10 * 1024 * 1024


def test_over_the_result_limit_keeps_the_most_confident_in_report_order(sarif_schema):
    confidences = [0.3, 0.9, 0.5, 0.95, 0.2, 0.8, 0.6, 0.99]
    findings = [_finding(i, c) for i, c in enumerate(confidences)]
    findings[7] = _finding(7, 0.99, suppressed=True)  # suppressed ranks after open ones
    report = Report(findings=tuple(findings), root="/tmp/p")
    full = json.loads(sarif_render(report, limits=None))
    doc = json.loads(sarif_render(report, limits=IngestionLimits(max_results=5)))
    jsonschema.validate(doc, sarif_schema)
    run = doc["runs"][0]
    kept = [r["message"]["text"] for r in run["results"]]
    assert kept == ["finding 1", "finding 2", "finding 3", "finding 5", "finding 6"]
    # Kept results carry the fingerprints they have without any cap.
    assert {k: _fingerprints(full)[k] for k in kept} == _fingerprints(doc)
    omitted = run["properties"]["omitted"]
    assert omitted["results_total"] == 8 and omitted["results_kept"] == 5
    assert omitted["results_omitted"] == 3 and omitted["omitted_unsuppressed"] == 2
    assert omitted["omitted_by_rule"] == {"vulnsight.python.r": 3}
    notes = run["invocations"][0]["toolExecutionNotifications"]
    note = next(n for n in notes if n["descriptor"]["id"] == "vulnsight.ingestion-limits")
    assert note["message"]["text"].startswith("3 of 8 results left out")
    assert "5 results per run" in note["message"]["text"]
    assert "lowest confidence kept 0.50" in note["message"]["text"]


def test_under_the_limits_nothing_is_said():
    report = Report(findings=tuple(_finding(i, 0.5) for i in range(4)), root="/tmp/p")
    run = json.loads(sarif_render(report))["runs"][0]
    assert len(run["results"]) == 4 and "omitted" not in run["properties"]
    assert run["invocations"][0]["toolExecutionNotifications"] == []


def test_over_the_rule_limit_drops_the_least_confident_rules():
    findings = [_finding(i, 0.1 * (i + 1), rule=f"r{i}") for i in range(6)]
    doc = json.loads(
        sarif_render(Report(findings=tuple(findings)), limits=IngestionLimits(max_rules=2))
    )
    run = doc["runs"][0]
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == [
        "vulnsight.python.r4",
        "vulnsight.python.r5",
    ]
    assert [r["ruleIndex"] for r in run["results"]] == [0, 1]
    assert "2 rules per run" in run["properties"]["omitted"]["reasons"]


def test_over_the_size_limit_shrinks_until_the_gzip_fits():
    findings = tuple(_finding(i, (i % 97) / 97) for i in range(600))
    report = Report(findings=findings, root="/tmp/p")
    whole = sarif_render(report, limits=None)
    limit = gzip_size(whole) // 3
    text = sarif_render(report, limits=IngestionLimits(max_gzip_bytes=limit))
    assert gzip_size(text) <= limit
    run = json.loads(text)["runs"][0]
    kept = run["results"]
    assert 0 < len(kept) < 600
    lowest_kept = min(r["properties"]["confidence"] for r in kept)
    kept_ids = {r["message"]["text"] for r in kept}
    dropped = [f for f in findings if f.message not in kept_ids]
    assert max(f.confidence for f in dropped) <= lowest_kept
    assert any("MB gzip-compressed" in r for r in run["properties"]["omitted"]["reasons"])
