"""Report -> SARIF 2.1.0, as code-scanning UIs ingest it."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

from vulnsight import __version__
from vulnsight.cwe import cwe_name
from vulnsight.types import Finding, Report

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
INFO_URI = "https://github.com/vulnsight/vulnsight"
# GitHub ranks alerts by `security-severity` (a CVSS-like 0-10 score).
_SECURITY_SEVERITY = {"low": "3.0", "medium": "5.5", "high": "8.0"}


@dataclass(frozen=True)
class RuleDescription:
    """What SARIF says about a rule: the rule pack's metadata, or a model's CWE."""

    id: str
    cwe: str
    description: str
    severity: str = "medium"  # low | medium | high
    confidence: float | None = None


def rule_id(f: Finding) -> str:
    """The SARIF rule of a finding: its rule, or `vulnsight.llm.<CWE>` for the model."""
    return f.rule_id or f"vulnsight.llm.{f.cwe}"


def _uri(path: str) -> str:
    return quote(path.replace("\\", "/"), safe="/", errors="surrogateescape")


def _rule(desc: RuleDescription) -> dict[str, Any]:
    cwe_num = desc.cwe.split("-")[-1]
    props: dict[str, Any] = {
        "tags": ["security", f"external/cwe/cwe-{cwe_num}"],
        "security-severity": _SECURITY_SEVERITY.get(desc.severity, "5.5"),
        "cwe": desc.cwe,
    }
    if desc.confidence is not None:
        props["precision"] = (
            "very-high"
            if desc.confidence >= 0.9
            else "high"
            if desc.confidence >= 0.7
            else "medium"
        )
    level = {"low": "note", "medium": "warning", "high": "error"}.get(desc.severity, "warning")
    return {
        "id": desc.id,
        "name": desc.id.rsplit(".", 1)[-1],
        "shortDescription": {"text": f"{desc.cwe}: {cwe_name(desc.cwe)}"},
        "fullDescription": {"text": desc.description},
        "help": {
            "text": f"{desc.description}\nSee https://cwe.mitre.org/data/definitions/{cwe_num}.html"
        },
        "helpUri": f"https://cwe.mitre.org/data/definitions/{cwe_num}.html",
        "defaultConfiguration": {"level": level},
        "properties": props,
    }


def _result(f: Finding, index: int) -> dict[str, Any]:
    region: dict[str, Any] = {"startLine": max(1, f.line_number)}
    if f.end_line and f.end_line >= f.line_number:
        region["endLine"] = f.end_line
    if f.snippet:
        region["snippet"] = {"text": f.snippet}
    result: dict[str, Any] = {
        "ruleId": rule_id(f),
        "ruleIndex": index,
        "level": f.severity.sarif_level(),
        "message": {"text": f.message},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": _uri(f.file), "uriBaseId": "%SRCROOT%"},
                    "region": region,
                },
                **({"logicalLocations": [{"name": f.function}]} if f.function else {}),
            }
        ],
        "partialFingerprints": {"vulnsight/v1": f.fingerprint},
        "properties": {
            "confidence": f.confidence,
            "cwe": f.cwe,
            "detectors": list(f.detectors or (f.detector,)),
            **({"model": f.model} if f.model else {}),
        },
    }
    if f.suppressed:
        result["suppressions"] = [
            {"kind": "inSource", "justification": f.suppression_reason or "suppressed"}
        ]
    return result


def _model_properties(report: Report) -> dict[str, Any]:
    """The model that answered (stats `model`, `model_*`), as the driver's properties."""
    stats = report.stats
    if "model" not in stats:
        return {}
    fields = {k.removeprefix("model_"): v for k, v in stats.items() if k.startswith("model_")}
    fields.pop("loaded", None)  # the review workflow's 0/1 flag, not a model field
    return {"properties": {"model": {"summary": stats["model"], **fields}}}


def render(report: Report, rules: Mapping[str, RuleDescription] | None = None) -> str:
    """SARIF 2.1.0 JSON for the report. `rules` describes rule-pack rules by id."""
    known = dict(rules or {})
    used: dict[str, RuleDescription] = {}
    for f in report.findings:
        rid = rule_id(f)
        if rid not in used:
            used[rid] = known.get(rid) or RuleDescription(
                id=rid,
                cwe=f.cwe,
                description=(
                    f"{cwe_name(f.cwe)} reported by the vulnsight model detector."
                    if f.rule_id is None
                    else f.message
                ),
                severity=f.severity.value,
            )
    order = {rid: i for i, rid in enumerate(used)}
    notifications = [
        {
            "level": "error" if "cannot" in e.reason or "model" in e.reason else "warning",
            "message": {"text": f"{e.file}: {e.reason}"},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": _uri(e.file), "uriBaseId": "%SRCROOT%"}
                    }
                }
            ],
            "descriptor": {"id": f"vulnsight.{e.detector or 'scan'}"},
        }
        for e in report.errors
    ]
    root_uri = Path(report.root).resolve().as_uri().rstrip("/") + "/"
    run: dict[str, Any] = {
        "tool": {
            "driver": {
                "name": "vulnsight",
                "version": __version__,
                "semanticVersion": __version__,
                "informationUri": INFO_URI,
                "rules": [_rule(d) for d in used.values()],
                **_model_properties(report),
            }
        },
        "invocations": [
            {
                "executionSuccessful": True,
                "toolExecutionNotifications": notifications,
            }
        ],
        "originalUriBaseIds": {"%SRCROOT%": {"uri": root_uri}},
        "results": [_result(f, order[rule_id(f)]) for f in report.findings],
        "properties": {"stats": dict(report.stats)},
    }
    doc = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}
    return json.dumps(doc, indent=2) + "\n"
