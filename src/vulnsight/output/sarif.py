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
from vulnsight.output.sarif_limits import (
    GITHUB_LIMITS,
    IngestionLimits,
    Selection,
    gzip_size,
    select,
)
from vulnsight.types import ConfigEffect, Finding, Report

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


def code_flow(f: Finding) -> dict[str, Any]:
    """The finding's data-flow path as one SARIF `codeFlow` with one `threadFlow`
    (GitHub code scanning shows it as the alert's "Show paths")."""
    locations = [
        {
            "location": {
                "physicalLocation": {
                    "artifactLocation": {"uri": _uri(step.file), "uriBaseId": "%SRCROOT%"},
                    "region": {"startLine": max(1, step.line)},
                },
                "message": {"text": step.description},
                **({"logicalLocations": [{"name": step.function}]} if step.function else {}),
            },
            "executionOrder": order,
        }
        for order, step in enumerate(f.path, start=1)
    ]
    first, last = f.path[0], f.path[-1]
    return {
        "message": {
            "text": f"{first.file}:{first.line} to {last.file}:{last.line} ({len(f.path)} steps)"
        },
        "threadFlows": [{"locations": locations}],
    }


def _result(f: Finding, index: int, baseline: bool = False) -> dict[str, Any]:
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
    if f.path:
        result["codeFlows"] = [code_flow(f)]
    if f.suppressed:
        kind = "inSource" if f.suppressed_by in (None, "inline") else "external"
        result["suppressions"] = [
            {"kind": kind, "justification": f.suppression_reason or "suppressed"}
        ]
    if baseline:
        result["baselineState"] = "unchanged" if f.suppressed_by == "baseline" else "new"
    return result


def _effect_notification(e: ConfigEffect) -> dict[str, Any]:
    """A configuration effect as a tool execution notification."""
    note: dict[str, Any] = {
        "level": "note" if e.action == "applied" else "warning",
        "message": {"text": f"{e.origin} configuration {e.source}: {e.key}: {e.message}"},
        "descriptor": {"id": f"vulnsight.config.{e.action}"},
        "properties": {"key": e.key, "action": e.action, "origin": e.origin},
    }
    if e.count is not None:
        note["properties"]["count"] = e.count
    if e.source and not Path(e.source).is_absolute():
        note["locations"] = [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": _uri(e.source), "uriBaseId": "%SRCROOT%"}
                }
            }
        ]
    return note


def _model_properties(report: Report) -> dict[str, Any]:
    """The model that answered (stats `model`, `model_*`), as the driver's properties."""
    stats = report.stats
    if "model" not in stats:
        return {}
    fields = {k.removeprefix("model_"): v for k, v in stats.items() if k.startswith("model_")}
    fields.pop("loaded", None)  # the review workflow's 0/1 flag, not a model field
    return {"properties": {"model": {"summary": stats["model"], **fields}}}


def render(
    report: Report,
    rules: Mapping[str, RuleDescription] | None = None,
    limits: IngestionLimits | None = GITHUB_LIMITS,
) -> str:
    """SARIF 2.1.0 JSON for the report. `rules` describes rule-pack rules by id.

    Within `limits` (default: GitHub code scanning's): when the report has more results
    than a run may hold, or the file would be too large, the most confident findings are
    kept and the run says what was left out. `limits=None` keeps everything."""
    if limits is None:
        return _render(report, rules, Selection(report.findings, ()), None)
    chosen = select(report.findings, limits, rule_id)
    text = _render(report, rules, chosen, limits)
    while not limits.fits(text) and chosen.kept:
        # Shrink in proportion to the overshoot (with a margin), then check again.
        ratio = limits.max_gzip_bytes / gzip_size(text)
        budget = max(0, min(len(chosen.kept) - 1, int(len(chosen.kept) * ratio * 0.95)))
        size_reason = f"{limits.max_gzip_bytes // (1024 * 1024)} MB gzip-compressed per file"
        chosen = select(report.findings, limits, rule_id, budget, size_reason)
        text = _render(report, rules, chosen, limits)
    return text


def _render(
    report: Report,
    rules: Mapping[str, RuleDescription] | None,
    chosen: Selection,
    limits: IngestionLimits | None,
) -> str:
    findings = chosen.kept
    known = dict(rules or {})
    used: dict[str, RuleDescription] = {}
    for f in findings:
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
    notifications.extend(_effect_notification(e) for e in report.config)
    baseline = "baseline_matched" in report.stats
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
                "properties": {
                    "configuration": [
                        {
                            "key": e.key,
                            "action": e.action,
                            "message": e.message,
                            "source": e.source,
                            "origin": e.origin,
                            **({"count": e.count} if e.count is not None else {}),
                        }
                        for e in report.config
                    ],
                    "suppressed": {
                        kind: int(report.stats.get(f"suppressed_{kind}", 0))
                        for kind in ("inline", "config", "baseline", "triage")
                    },
                },
            }
        ],
        "originalUriBaseIds": {"%SRCROOT%": {"uri": root_uri}},
        "results": [_result(f, order[rule_id(f)], baseline) for f in findings],
        "properties": {"stats": dict(report.stats)},
    }
    if limits is not None and chosen.omitted:
        notifications.append(chosen.notification(limits))
        run["properties"]["omitted"] = chosen.properties(limits)
    doc = {"$schema": SARIF_SCHEMA, "version": "2.1.0", "runs": [run]}
    return json.dumps(doc, indent=2) + "\n"
