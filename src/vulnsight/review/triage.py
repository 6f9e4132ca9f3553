"""Triage decisions (true or false positive) and their export as training records.

Decisions live in SQLite beside the cache (`.vulnsight/triage.sqlite3`), one row per
fingerprint, the last decision winning. Each keeps the enclosing function's code as it
was when triaged, so `feedback export` needs no checkout of that revision. A finding
triaged as a false positive is suppressed in later scans.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from vulnsight.detectors.hybrid import FunctionIndex
from vulnsight.errors import ConfigError, ParseError
from vulnsight.languages import language_of
from vulnsight.parse import extract
from vulnsight.review.cache import connect
from vulnsight.review.suppress import suppress
from vulnsight.types import Finding, Report, SourceFile

TRIAGE_FILE = "triage.sqlite3"
SOURCE = "vulnsight-feedback"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS decisions (
    fingerprint TEXT PRIMARY KEY,
    label INTEGER NOT NULL,
    rule_id TEXT,
    cwe TEXT NOT NULL,
    file TEXT NOT NULL,
    function TEXT,
    line INTEGER NOT NULL,
    language TEXT NOT NULL,
    code TEXT NOT NULL,
    start_line INTEGER NOT NULL,
    model TEXT,
    note TEXT NOT NULL,
    triaged_at TEXT NOT NULL,
    project TEXT NOT NULL
)
"""


@dataclass(frozen=True)
class Decision:
    """A reviewer's verdict on one finding, with the function it was made on."""

    fingerprint: str
    label: int  # 1 true positive, 0 false positive
    rule_id: str | None
    cwe: str
    file: str
    function: str | None
    line: int
    language: str
    code: str
    start_line: int
    model: str | None
    note: str
    triaged_at: str
    project: str

    def record(self) -> dict[str, Any]:
        """The training record in the shared JSONL schema."""
        inside = self.line - self.start_line + 1
        lines = [inside] if self.label == 1 and 1 <= inside <= self.code.count("\n") + 1 else []
        return {
            "id": f"{SOURCE}-{self.fingerprint}",
            "language": self.language,
            "code": self.code,
            "label": self.label,
            "cwe": self.cwe,
            "lines": lines,
            "source": SOURCE,
            "project": self.project,
            "path": self.file,
            "meta": {
                "fingerprint": self.fingerprint,
                "rule_id": self.rule_id,
                "model": self.model,
                "triaged_at": self.triaged_at,
                "note": self.note,
            },
        }


def parse_label(value: str) -> int:
    """`tp`/`true`/`1` -> 1, `fp`/`false`/`0` -> 0."""
    v = value.strip().lower().replace("-", "_")
    if v in ("tp", "true", "true_positive", "1", "t"):
        return 1
    if v in ("fp", "false", "false_positive", "0", "f"):
        return 0
    raise ConfigError(f"label must be tp or fp (true/false positive), not {value!r}")


def decide(finding: Finding, root: Path, label: int, note: str = "", project: str = "") -> Decision:
    """A decision on a finding, with its enclosing function read from `root`."""
    path = root / finding.file
    language = language_of(path) or "unknown"
    try:
        text = path.read_text(encoding="utf-8")
        functions = extract(SourceFile(finding.file, language, text))
    except (OSError, UnicodeDecodeError, ParseError, ValueError) as exc:
        raise ConfigError(f"cannot read {finding.file} to triage it: {exc}") from exc
    fn = FunctionIndex(functions).enclosing(finding.file, finding.line_number)
    name: str | None = finding.function
    if fn is not None:
        code, start, name = fn.code, fn.start_line, fn.name
    else:
        lines = text.splitlines()
        code = lines[finding.line_number - 1] if 0 < finding.line_number <= len(lines) else ""
        start = finding.line_number
    return Decision(
        fingerprint=finding.fingerprint,
        label=label,
        rule_id=finding.rule_id,
        cwe=finding.cwe,
        file=finding.file,
        function=name,
        line=finding.line_number,
        language=language,
        code=code,
        start_line=start,
        model=finding.model,
        note=note,
        triaged_at=datetime.now(UTC).isoformat(timespec="seconds"),
        project=project or root.resolve().name,
    )


class TriageStore:
    """Decisions by fingerprint in one SQLite file (WAL, safe for concurrent writers)."""

    def __init__(self, path: Path, read_only: bool = False) -> None:
        self.path = path
        if read_only:
            self._conn = _open_for_reading(path)
            return
        self._conn = connect(path)
        try:
            self._conn.execute(_SCHEMA)
        except sqlite3.Error as exc:
            self._conn.close()
            raise ConfigError(f"cannot use triage decisions {path}: {exc}") from exc

    @classmethod
    def in_dir(cls, directory: Path) -> TriageStore:
        """The triage file inside a `.vulnsight` directory."""
        return cls(directory / TRIAGE_FILE)

    def save(self, decision: Decision) -> None:
        """Record (or replace) the decision on a fingerprint."""
        row = asdict(decision)
        cols = ",".join(row)
        marks = ",".join("?" * len(row))
        with self._conn:
            self._conn.execute("BEGIN IMMEDIATE")
            self._conn.execute(
                f"INSERT OR REPLACE INTO decisions ({cols}) VALUES ({marks})", list(row.values())
            )

    def decisions(self) -> list[Decision]:
        """Every decision, oldest first."""
        names = list(Decision.__dataclass_fields__)
        cur = self._conn.execute(
            f"SELECT {','.join(names)} FROM decisions ORDER BY triaged_at, fingerprint"
        )
        return [Decision(**dict(zip(names, row, strict=True))) for row in cur]

    def false_positives(self) -> dict[str, str]:
        """Fingerprints triaged as false positives, with their notes."""
        cur = self._conn.execute("SELECT fingerprint, note FROM decisions WHERE label = 0")
        return {fp: note for fp, note in cur}

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()


def _open_for_reading(path: Path) -> sqlite3.Connection:
    """A connection that only reads (a read-only state directory is fine); a damaged
    file fails here, not halfway through a scan."""
    try:
        conn = connect(path)
    except ConfigError:
        uri = path.absolute().as_uri() + "?mode=ro&immutable=1"
        try:
            conn = sqlite3.connect(uri, uri=True, isolation_level=None)
        except sqlite3.Error as exc:
            raise ConfigError(f"cannot open {path}: {exc}") from exc
    try:
        conn.execute("SELECT COUNT(*) FROM decisions").fetchone()
    except sqlite3.Error as exc:
        conn.close()
        raise ConfigError(f"cannot read {path}: {exc}") from exc
    return conn


def suppress_false_positives(report: Report, false_positives: dict[str, str]) -> Report:
    """Mark findings a reviewer called false positives as suppressed."""
    if not false_positives:
        return report
    out = tuple(
        suppress(
            f,
            f"triaged as false positive: {false_positives[f.fingerprint] or 'no note'}",
            "triage",
        )
        if f.fingerprint in false_positives
        else f
        for f in report.findings
    )
    stats = dict(report.stats)
    stats["suppressed_triage"] = sum(1 for f in out if f.suppressed_by == "triage")
    return replace(report, findings=out, stats=stats)


def to_jsonl(decisions: Iterable[Decision]) -> str:
    """Training records, one JSON object a line."""
    return "".join(json.dumps(d.record(), ensure_ascii=False) + "\n" for d in decisions)


def findings_from_json(doc: dict[str, Any]) -> Sequence[Finding]:
    """Findings of a `vulnsight scan --format json` report (for triage by report)."""
    from vulnsight.types import Severity

    out = []
    for f in doc.get("findings", []):
        try:
            out.append(
                Finding(
                    file=str(f["file"]),
                    line_number=int(f["line_number"]),
                    cwe=str(f["cwe"]),
                    message=str(f.get("message", "")),
                    detector=str(f.get("detector", "")),
                    confidence=float(f.get("confidence", 0.0)),
                    severity=Severity(f.get("severity", "medium")),
                    function=f.get("function"),
                    rule_id=f.get("rule_id"),
                    model=f.get("model"),
                    snippet=str(f.get("snippet", "")),
                    fingerprint=str(f["fingerprint"]),
                    suppressed=bool(f.get("suppressed", False)),
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise ConfigError(f"not a vulnsight JSON report finding: {exc}") from exc
    return out
