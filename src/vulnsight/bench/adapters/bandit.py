"""Bandit (PyCQA), Python only: one run over every snippet, JSON output.

Confidence: Bandit's own confidence (LOW/MEDIUM/HIGH -> 0.33/0.66/1.0); CWE from its
`issue_cwe` field.
"""

from __future__ import annotations

import json
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
from vulnsight.bench.adapters.tool import find_tool, run_tool, version_of
from vulnsight.bench.records import Record

LEVEL = {"LOW": 0.33, "MEDIUM": 0.66, "HIGH": 1.0}


def relative(path: str, root: Path) -> str:
    """A tool's reported path relative to the batch root (POSIX)."""
    p = Path(path)
    if not p.is_absolute():
        p = root / p
    try:
        return p.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return p.as_posix()


class BanditAdapter:
    """Runs `bandit -r -f json` over the Python snippets."""

    name = "bandit"
    kind = "peer"
    languages = frozenset({"python"})
    excluded_sources: frozenset[str] = frozenset()
    compute = "cpu"
    chunk_size = 0

    def __init__(self, options: AdapterOptions | None = None, arg: str = "") -> None:
        self.timeout = (options or AdapterOptions()).timeout_s

    def available(self) -> str | None:
        """Needs the `bandit` executable (pip install 'vulnsight[eval]')."""
        return None if find_tool("bandit") else "bandit is not installed (pip install bandit)"

    def describe(self) -> dict[str, Any]:
        """Tool version."""
        exe = find_tool("bandit")
        return {"version": version_of([exe, "--version"]) if exe else ""}

    def run(self, batch: Batch, records: Sequence[Record]) -> list[Prediction]:
        """One Bandit run; per-file parse errors become per-record errors."""
        exe = find_tool("bandit")
        if exe is None:
            raise AdapterError("bandit is not installed")
        proc = run_tool([exe, "-r", "-q", "-f", "json", "."], self.timeout, cwd=batch.root)
        try:
            data = json.loads(proc.stdout)
        except json.JSONDecodeError as exc:
            raise AdapterError(f"bandit output is not JSON: {proc.stdout[:200]}") from exc
        hits: dict[str, list[Finding]] = defaultdict(list)
        for res in data.get("results", []):
            cwe = (res.get("issue_cwe") or {}).get("id")
            hits[relative(res["filename"], batch.root)].append(
                Finding(
                    int(res["line_number"]),
                    f"CWE-{cwe}" if cwe else None,
                    LEVEL.get(res.get("issue_confidence", ""), 0.5),
                    res.get("test_id", ""),
                )
            )
        errors = {
            relative(e["filename"], batch.root): e.get("reason", "error")
            for e in data.get("errors", [])
        }
        out = []
        for r in records:
            path = batch.paths[r.id]
            pred = from_findings(r.id, hits.get(path, []))
            if path in errors:
                from dataclasses import replace

                pred = replace(pred, error=f"bandit: {errors[path]}")
            out.append(pred)
        return out
