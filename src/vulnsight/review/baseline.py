"""Baselines: today's findings recorded by fingerprint, so later scans show only new ones.

Fingerprints leave the line number out (rule, file, function, normalised flagged line),
so a finding still matches after the code around it moves. Each fingerprint is counted:
a second copy of the same flagged line in the same function is a new finding.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from vulnsight import __version__
from vulnsight.errors import ConfigError
from vulnsight.types import Finding, Report

BASELINE_VERSION = 1


@dataclass(frozen=True)
class Baseline:
    """Fingerprints and how often each was present when the baseline was taken."""

    counts: dict[str, int]
    created: str = ""

    @classmethod
    def of(cls, findings: tuple[Finding, ...] | list[Finding]) -> Baseline:
        """The baseline of a list of findings (suppressed ones too: they are known)."""
        counts = Counter(f.fingerprint for f in findings if f.fingerprint)
        return cls(dict(counts), datetime.now(UTC).isoformat(timespec="seconds"))


def to_json(report: Report) -> str:
    """A baseline file: one entry per finding, readable in review."""
    baseline = Baseline.of(list(report.findings))
    entries = [
        {
            "fingerprint": f.fingerprint,
            "rule_id": f.rule_id,
            "cwe": f.cwe,
            "file": f.file,
            "function": f.function,
            "line": f.line_number,
            "snippet": f.snippet,
        }
        for f in sorted(report.findings, key=lambda f: (f.file, f.line_number))
    ]
    doc: dict[str, Any] = {
        "version": BASELINE_VERSION,
        "tool": f"vulnsight {__version__}",
        "created": baseline.created,
        "findings": entries,
    }
    return json.dumps(doc, indent=2) + "\n"


def load(path: Path) -> Baseline:
    """Read a baseline file; a missing or malformed one is a `ConfigError`."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read baseline {path}: {exc.strerror or exc}") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(f"baseline {path} is not JSON: {exc}") from exc
    if not isinstance(doc, dict) or doc.get("version") != BASELINE_VERSION:
        raise ConfigError(f"baseline {path}: expected a vulnsight baseline (version 1)")
    findings = doc.get("findings")
    if not isinstance(findings, list) or not all(
        isinstance(e, dict) and isinstance(e.get("fingerprint"), str) for e in findings
    ):
        raise ConfigError(f"baseline {path}: 'findings' must list objects with a fingerprint")
    counts = Counter(str(e["fingerprint"]) for e in findings)
    return Baseline(dict(counts), str(doc.get("created", "")))


def new_findings(report: Report, baseline: Baseline) -> Report:
    """The report without findings the baseline already holds."""
    left = dict(baseline.counts)
    kept: list[Finding] = []
    for f in report.findings:
        if left.get(f.fingerprint, 0) > 0:
            left[f.fingerprint] -= 1
            continue
        kept.append(f)
    stats = dict(report.stats)
    stats["baseline_matched"] = len(report.findings) - len(kept)
    stats["findings"] = len(kept)
    return replace(report, findings=tuple(kept), stats=stats)


def mark_known(report: Report, baseline: Baseline, label: str) -> Report:
    """The report with the findings the baseline already holds marked suppressed (kind
    "baseline"), so JSON and SARIF still list them (`baselineState: unchanged`) and the
    text output counts them; `label` names the baseline file in the reason."""
    from vulnsight.review.suppress import suppress

    left = dict(baseline.counts)
    out: list[Finding] = []
    matched = 0
    for f in report.findings:
        if left.get(f.fingerprint, 0) > 0:
            left[f.fingerprint] -= 1
            matched += 1
            f = suppress(f, f"in baseline {label}", "baseline")
        out.append(f)
    stats = dict(report.stats)
    stats["baseline_matched"] = matched
    stats["suppressed_baseline"] = sum(1 for f in out if f.suppressed_by == "baseline")
    stats["suppressed"] = sum(1 for f in out if f.suppressed)
    stats["findings"] = sum(1 for f in out if f.suppressed_by != "baseline")
    return replace(report, findings=tuple(out), stats=stats)
