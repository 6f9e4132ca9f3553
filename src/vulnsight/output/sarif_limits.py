"""What a SARIF upload may hold: GitHub code scanning's ingestion limits, and which
findings to keep when a report is over them.

GitHub rejects a SARIF file with more than 25,000 results in a run, more than 25,000
rules, more than 20 runs, more than 1,000 locations in a result or more than 20 tags on
a rule, and any upload over 10 MB once gzip-compressed ("SARIF results exceed limit" in
GitHub's code scanning documentation). vulnsight writes one run, one location per result
and two tags per rule, so results and size are what can overflow: the most confident
findings are kept, and what was left out is said in the run.
"""

from __future__ import annotations

import gzip
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from vulnsight.types import Finding

_SEVERITY_RANK = {"high": 2, "medium": 1, "low": 0}


@dataclass(frozen=True)
class IngestionLimits:
    """The most a code-scanning service accepts in one SARIF upload."""

    name: str = "GitHub code scanning"
    max_results: int = 25_000  # per run
    max_rules: int = 25_000  # per run
    max_gzip_bytes: int = 10 * 1024 * 1024

    def fits(self, text: str) -> bool:
        """Whether the SARIF text is small enough once gzip-compressed."""
        return gzip_size(text) <= self.max_gzip_bytes


#: GitHub code scanning's hard limits (github.com and GHES alike).
GITHUB_LIMITS = IngestionLimits()


def gzip_size(text: str) -> int:
    """Bytes of `text` (UTF-8) once gzip-compressed, as GitHub measures an upload."""
    return len(gzip.compress(text.encode("utf-8"), compresslevel=6))


def priority(f: Finding) -> tuple[int, float, int]:
    """Sort key, best first: open before suppressed, then confidence, then severity."""
    return (int(f.suppressed), -f.confidence, -_SEVERITY_RANK.get(f.severity.value, 1))


@dataclass(frozen=True)
class Selection:
    """The findings a SARIF run holds (in report order) and those left out."""

    kept: tuple[Finding, ...]
    omitted: tuple[Finding, ...]
    reasons: tuple[str, ...] = ()

    def notification(self, limits: IngestionLimits) -> dict[str, Any]:
        """A SARIF toolExecutionNotification saying what was left out and why."""
        worst = min((f.confidence for f in self.kept), default=None)
        floor = f"; lowest confidence kept {worst:.2f}" if worst is not None else ""
        return {
            "level": "warning",
            "message": {
                "text": (
                    f"{len(self.omitted)} of {len(self.kept) + len(self.omitted)} results "
                    f"left out to stay within {limits.name}'s limits "
                    f"({'; '.join(self.reasons)}); kept the most confident{floor}. "
                    "The JSON report (--format json) has them all."
                )
            },
            "descriptor": {"id": "vulnsight.ingestion-limits"},
        }

    def properties(self, limits: IngestionLimits) -> dict[str, Any]:
        """Run properties: counts of what was left out, by rule, for tools to read."""
        by_rule = Counter(f.rule_id or f"vulnsight.llm.{f.cwe}" for f in self.omitted)
        return {
            "limits": limits.name,
            "results_total": len(self.kept) + len(self.omitted),
            "results_kept": len(self.kept),
            "results_omitted": len(self.omitted),
            "omitted_unsuppressed": sum(1 for f in self.omitted if not f.suppressed),
            "omitted_by_rule": dict(sorted(by_rule.items())),
            "reasons": list(self.reasons),
        }


def select(
    findings: Sequence[Finding],
    limits: IngestionLimits,
    rule_of: Callable[[Finding], str],
    budget: int | None = None,
    size_reason: str | None = None,
) -> Selection:
    """Keep at most `budget` (default: the limit) results and `max_rules` rules, the
    most confident first; the kept ones stay in report order, so a result's place and
    fingerprint do not depend on what else was dropped."""
    cap = min(limits.max_results, budget if budget is not None else limits.max_results)
    ranked = sorted(range(len(findings)), key=lambda i: (priority(findings[i]), i))
    rules: set[str] = set()
    keep: set[int] = set()
    over_rules = False
    for i in ranked:
        if len(keep) >= cap:
            break
        rid = rule_of(findings[i])
        if rid not in rules and len(rules) >= limits.max_rules:
            over_rules = True
            continue
        rules.add(rid)
        keep.add(i)
    reasons: list[str] = []
    if len(findings) > limits.max_results:
        reasons.append(f"{limits.max_results:,} results per run")
    if over_rules:
        reasons.append(f"{limits.max_rules:,} rules per run")
    if size_reason:
        reasons.append(size_reason)
    return Selection(
        kept=tuple(f for i, f in enumerate(findings) if i in keep),
        omitted=tuple(findings[i] for i in ranked if i not in keep),
        reasons=tuple(reasons),
    )
