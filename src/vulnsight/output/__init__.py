"""Output formats: each turns a `Report` into a string; only the CLI writes files."""

from __future__ import annotations

from collections.abc import Callable

from vulnsight.registry import Registry
from vulnsight.types import Report

FORMATS: Registry[Callable[[Report], str]] = Registry("output format")
FORMATS.register("text", "vulnsight.output.text:render")
FORMATS.register("json", "vulnsight.output.json_format:render")
FORMATS.register("sarif", "vulnsight.output.sarif:render")


def render_report(report: Report, fmt: str) -> str:
    """The report in `fmt` ("text", "json" or "sarif"); SARIF describes the rule pack's
    rules. Shared by the CLI, the API server and the language server."""
    if fmt == "sarif":
        from vulnsight.output.sarif import RuleDescription
        from vulnsight.output.sarif import render as sarif_render
        from vulnsight.rules.engine import rule_metadata

        rules = {
            rid: RuleDescription(
                id=rid,
                cwe=m.cwe,
                description=m.message,
                severity=m.severity.value,
                confidence=m.confidence,
            )
            for rid, m in rule_metadata().items()
        }
        return sarif_render(report, rules)
    return FORMATS.get(fmt)(report)
