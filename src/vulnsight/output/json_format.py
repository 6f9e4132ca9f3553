"""Report -> JSON text."""

from __future__ import annotations

import json
from typing import Any

from vulnsight import __version__
from vulnsight.types import ConfigEffect, Finding, Report


def finding_dict(f: Finding) -> dict[str, Any]:
    """The public JSON shape of one finding."""
    return {
        "file": f.file,
        "function": f.function,
        "line_number": f.line_number,
        "end_line": f.end_line,
        "cwe": f.cwe,
        "type": f.type,
        "vulnerability": True,
        "confidence": f.confidence,
        "severity": f.severity.value,
        "detector": "+".join(f.detectors) if f.detectors else f.detector,
        "detectors": list(f.detectors or (f.detector,)),
        "rule_id": f.rule_id,
        "model": f.model,
        "message": f.message,
        "snippet": f.snippet,
        "fingerprint": f.fingerprint,
        "suppressed": f.suppressed,
        "suppressed_by": f.suppressed_by,
        "suppression_reason": f.suppression_reason,
        "path": [
            {"file": s.file, "line": s.line, "function": s.function, "description": s.description}
            for s in f.path
        ],
    }


def effect_dict(e: ConfigEffect) -> dict[str, Any]:
    """The public JSON shape of one configuration effect."""
    return {
        "key": e.key,
        "action": e.action,
        "message": e.message,
        "source": e.source,
        "count": e.count,
        "origin": e.origin,
    }


def report_dict(report: Report) -> dict[str, Any]:
    """The whole report as plain data."""
    return {
        "version": __version__,
        "findings": [finding_dict(f) for f in report.findings],
        "errors": [
            {"file": e.file, "reason": e.reason, "detector": e.detector} for e in report.errors
        ],
        "skipped": [{"file": s.file, "reason": s.reason} for s in report.skipped],
        "stats": dict(report.stats),
        "config": [effect_dict(e) for e in report.config],
    }


def render(report: Report) -> str:
    """JSON text, one trailing newline."""
    return json.dumps(report_dict(report), indent=2) + "\n"
