"""The adapter contract: a batch of snippet files in, one `Prediction` per record out."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from vulnsight.bench.records import Record


class AdapterError(Exception):
    """An adapter failed as a whole (the tool crashed, its output was unreadable)."""


@dataclass(frozen=True)
class Batch:
    """Snippet files written for one run: `root / paths[record.id]` is a record's file."""

    root: Path
    paths: Mapping[str, str]


@dataclass(frozen=True)
class Finding:
    """A hit inside a snippet: line relative to the snippet (1-based), CWE, confidence."""

    line: int
    cwe: str | None
    confidence: float
    rule: str = ""


@dataclass(frozen=True)
class Prediction:
    """An adapter's verdict on one record.

    `score` is the detector's confidence that the record is vulnerable (max finding
    confidence, or the model's P(vulnerable)), used for calibration and the threshold
    sweep; `predicted` is the verdict the detector reports at its own threshold.
    `latency_ms` is measured per record where the tool allows it, else the batch's
    wall time shared evenly (`latency_measured` says which). `error` marks a record the
    tool could not judge: it counts as not flagged and is reported separately.
    """

    record_id: str
    predicted: bool
    score: float
    lines: tuple[int, ...] = ()
    cwes: tuple[str, ...] = ()
    latency_ms: float | None = None
    latency_measured: bool = False
    tokens_in: int = 0
    tokens_out: int = 0
    error: str | None = None
    rules: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (lists for tuples)."""
        return {
            "record_id": self.record_id,
            "predicted": self.predicted,
            "score": round(self.score, 6),
            "lines": list(self.lines),
            "cwes": list(self.cwes),
            "latency_ms": None if self.latency_ms is None else round(self.latency_ms, 3),
            "latency_measured": self.latency_measured,
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
            "error": self.error,
            "rules": list(self.rules),
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> Prediction:
        """Inverse of `to_json`."""
        return cls(
            record_id=str(obj["record_id"]),
            predicted=bool(obj["predicted"]),
            score=float(obj["score"]),
            lines=tuple(int(n) for n in obj.get("lines", ())),
            cwes=tuple(str(c) for c in obj.get("cwes", ())),
            latency_ms=obj.get("latency_ms"),
            latency_measured=bool(obj.get("latency_measured", False)),
            tokens_in=int(obj.get("tokens_in", 0)),
            tokens_out=int(obj.get("tokens_out", 0)),
            error=obj.get("error"),
            rules=tuple(str(r) for r in obj.get("rules", ())),
        )


def from_findings(
    record_id: str, findings: Sequence[Finding], threshold: float = 0.0
) -> Prediction:
    """A record is flagged when any finding at or above `threshold` lies in it; its
    score is the highest confidence, its primary CWE that of the most confident hit."""
    ordered = sorted(findings, key=lambda f: (-f.confidence, f.line))
    kept = [f for f in ordered if f.confidence >= threshold]
    cwes = tuple(dict.fromkeys(f.cwe for f in kept if f.cwe))
    return Prediction(
        record_id=record_id,
        predicted=bool(kept),
        score=ordered[0].confidence if ordered else 0.0,
        lines=tuple(sorted({f.line for f in kept})),
        cwes=cwes,
        rules=tuple(dict.fromkeys(f.rule for f in kept if f.rule)),
    )


@dataclass(frozen=True)
class AdapterOptions:
    """What the command line passes to every adapter factory."""

    model: str | None = None
    threshold: float | None = None
    timeout_s: int = 600
    jobs: int = 1
    extra: dict[str, str] = field(default_factory=dict)


class Adapter(Protocol):
    """A detector as `vulnsight eval` runs it.

    `kind` is one of vulnsight, peer, endpoint, baseline. `excluded_sources` lists
    record sources the detector must not be scored on (it was fitted to them).
    `compute` is "cpu" or "gpu" (what its measured seconds are priced as).
    """

    name: str
    kind: str
    languages: frozenset[str]
    excluded_sources: frozenset[str]
    compute: str

    def available(self) -> str | None:
        """None when the detector can run here, else the reason it cannot."""
        ...

    def run(self, batch: Batch, records: Sequence[Record]) -> list[Prediction]:
        """Judge every record (all of `languages`); a record it cannot judge gets a
        prediction with `error` set. Raises `AdapterError` when the whole run fails."""
        ...

    def describe(self) -> dict[str, Any]:
        """Version and settings, saved with the results."""
        ...


#: Builds an adapter from the command-line options (and the spec's argument, if any).
AdapterFactory = Callable[..., Adapter]
