"""Semgrep as a peer: the `semgrep` CLI run directly with vulnsight's rule pack (the
registry cannot be fetched offline), or with a local config given as `semgrep:PATH`.
Never scored on `semgrep_rules_tests`, the files Semgrep's registry rules are fitted to."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vulnsight.bench.adapters.interface import (
    AdapterError,
    AdapterOptions,
    Batch,
    Finding,
    Prediction,
    from_findings,
)
from vulnsight.bench.records import SEMGREP_FITTED_SOURCE, Record
from vulnsight.types import LANGUAGES


class SemgrepAdapter:
    """`semgrep scan --json` over every snippet, one run."""

    kind = "peer"
    languages = frozenset(LANGUAGES)
    excluded_sources = frozenset({SEMGREP_FITTED_SOURCE})
    compute = "cpu"
    chunk_size = 0

    def __init__(self, options: AdapterOptions | None = None, arg: str = "") -> None:
        opts = options or AdapterOptions()
        self.config = Path(arg) if arg else None
        self.name = "semgrep" if not arg else f"semgrep[{Path(arg).name}]"
        self.timeout = opts.timeout_s
        self.jobs = opts.jobs

    def _rules(self) -> list[Path]:
        from vulnsight.rules.engine import pack_files

        if self.config is None:
            return pack_files()
        return sorted(self.config.rglob("*.y*ml")) if self.config.is_dir() else [self.config]

    def available(self) -> str | None:
        """Needs semgrep, and the config when one is given."""
        from vulnsight.errors import VulnsightError
        from vulnsight.rules.engine import semgrep_command

        if self.config is not None and not self.config.exists():
            return f"semgrep config {self.config} not found"
        try:
            semgrep_command([], [], 1, 1)
        except VulnsightError as exc:
            return str(exc)
        return None

    def describe(self) -> dict[str, Any]:
        """Version and rules."""
        from vulnsight.bench.adapters.tool import find_tool, version_of

        exe = find_tool("semgrep")
        return {
            "version": version_of([exe, "--version"]) if exe else "",
            "config": str(self.config) if self.config else "vulnsight pack",
        }

    def run(self, batch: Batch, records: Sequence[Record]) -> list[Prediction]:
        """One Semgrep run; rule confidence from the rule's metadata (default 0.5)."""
        from vulnsight.errors import VulnsightError
        from vulnsight.rules.engine import run_semgrep

        targets = [batch.root / batch.paths[r.id] for r in records]
        try:
            findings, _ = run_semgrep(
                targets, batch.root, rules=self._rules(), timeout=60, jobs=self.jobs
            )
        except VulnsightError as exc:
            raise AdapterError(str(exc)) from exc
        hits: dict[str, list[Finding]] = defaultdict(list)
        for f in findings:
            hits[f.file].append(
                Finding(f.line_number, f.cwe or None, f.confidence, f.rule_id or "")
            )
        return [from_findings(r.id, hits.get(batch.paths[r.id], [])) for r in records]
