"""The data-flow detector: source-to-sink paths from `vulnsight.dataflow`, per scan."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from vulnsight.detectors.interface import DetectorResult, Progress, ScanBatch
from vulnsight.types import Finding


class FlowDetector:
    """Inter-procedural taint analysis over the batch's parse and call graph (Python,
    JavaScript, TypeScript, C, C++, Solidity), plus the blind-class checks (C, C++,
    Solidity, Python: `vulnsight.dataflow.blind`); each finding carries its path."""

    name = "flow"

    def units(self, batch: ScanBatch) -> int:
        """One unit: the whole analysis."""
        return 1

    def detect_all(self, batch: ScanBatch, progress: Progress | None = None) -> DetectorResult:
        """Findings whose `path` runs from a source to a sink (the batch's shared
        analysis when it has one; with `changed`, those whose path touches a selected
        function or whose sink lies in a selected file)."""
        from vulnsight.dataflow import analyse
        from vulnsight.dataflow.blind import run_checks

        try:
            if batch.flow is not None:
                result = batch.flow()
            else:
                result = analyse(batch.files, batch.functions, batch.graph)
            # the checks for the classes taint cannot see (NULL after malloc, reentrancy...)
            checked, check_errors = run_checks(batch.files, batch.functions)
        finally:
            if progress:
                progress(1)
        findings, errors = result.findings, result.errors
        if batch.changed and batch.flow is not None:
            files = {f.path for f in batch.files}
            chosen = {(fn.file, fn.name) for fn in batch.functions}
            findings = tuple(
                f
                for f in findings
                if f.file in files or any((s.file, s.function) in chosen for s in f.path)
            )
            errors = tuple(e for e in errors if e.file in files)
        stats: dict[str, float | int | str] = {**result.stats}
        stats["flow_check_findings"] = len(checked)
        return DetectorResult(
            findings=tuple(_merge_checks(findings, checked)),
            errors=(*errors, *check_errors),
            stats=stats,
        )


def _merge_checks(flows: Sequence[Finding], checked: Sequence[Finding]) -> list[Finding]:
    """Taint findings, then check findings at (file, line, CWE) places taint left free."""
    taken = {(f.file, f.line_number, f.cwe) for f in flows}
    extra = [f for f in checked if (f.file, f.line_number, f.cwe) not in taken]
    return sorted((*flows, *extra), key=lambda f: (f.file, f.line_number, f.cwe))


def combine(merged: Sequence[Finding], flow: Sequence[Finding]) -> list[Finding]:
    """Flow findings added to the merged rule/model findings.

    Where a finding already stands at the same file, line and CWE, it gains the path and
    `flow` among its detectors (and the higher confidence); otherwise the flow finding is
    added as it is. Nothing is removed.
    """
    out = list(merged)
    where = {(f.file, f.line_number, f.cwe): i for i, f in enumerate(out)}
    for f in flow:
        i = where.get((f.file, f.line_number, f.cwe))
        if i is None:
            where[(f.file, f.line_number, f.cwe)] = len(out)
            out.append(f)
            continue
        old = out[i]
        detectors = tuple(dict.fromkeys((*(old.detectors or (old.detector,)), "flow")))
        out[i] = replace(
            old,
            detectors=detectors,
            confidence=max(old.confidence, f.confidence),
            path=old.path or f.path,
        )
    return out
