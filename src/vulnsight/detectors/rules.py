"""The static-rules detector: vulnsight's Semgrep rule pack, run once per scan."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from vulnsight.detectors.interface import DetectorResult, Progress, ScanBatch
from vulnsight.errors import RulesError
from vulnsight.types import ScanError


class RulesDetector:
    """Runs Semgrep offline over every file of the batch in one process."""

    name = "rules"

    def __init__(self, rules: Sequence[Path] | None = None, jobs: int = 1) -> None:
        self._rules = rules
        self._jobs = jobs

    def units(self, batch: ScanBatch) -> int:
        """One unit: the single Semgrep run."""
        return 1

    def detect_all(self, batch: ScanBatch, progress: Progress | None = None) -> DetectorResult:
        """Findings of the rule pack over exactly the text discovery read, with the
        batch's paths (so every file counted as scanned is scanned by the rules)."""
        from vulnsight.rules.engine import run_semgrep_sources

        if not batch.files:
            return DetectorResult()
        try:
            findings, errors = run_semgrep_sources(batch.files, rules=self._rules, jobs=self._jobs)
        except RulesError as exc:
            errs = (ScanError(file=".", reason=str(exc), detector=self.name),)
            return DetectorResult(errors=errs)
        finally:
            if progress:
                progress(1)
        return DetectorResult(findings=tuple(findings), errors=tuple(errors))
