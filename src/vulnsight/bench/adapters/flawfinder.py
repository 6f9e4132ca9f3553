"""Flawfinder (C/C++): lexical scan of dangerous calls; level 0-5 -> confidence level/5."""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from vulnsight.bench.adapters.bandit import relative
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

_CWE = re.compile(r"CWE-\d+")


class FlawfinderAdapter:
    """`flawfinder --csv --minlevel=1` over the C and C++ snippets."""

    name = "flawfinder"
    kind = "peer"
    languages = frozenset({"c", "cpp"})
    excluded_sources: frozenset[str] = frozenset()
    compute = "cpu"
    chunk_size = 0

    def __init__(self, options: AdapterOptions | None = None, arg: str = "") -> None:
        self.timeout = (options or AdapterOptions()).timeout_s
        self.minlevel = int(arg or 1)

    def available(self) -> str | None:
        """Needs `flawfinder` (pip install flawfinder)."""
        return (
            None
            if find_tool("flawfinder")
            else "flawfinder is not installed (pip install flawfinder)"
        )

    def describe(self) -> dict[str, Any]:
        """Version and minimum level."""
        exe = find_tool("flawfinder")
        return {"version": version_of([exe, "--version"]) if exe else "", "minlevel": self.minlevel}

    def run(self, batch: Batch, records: Sequence[Record]) -> list[Prediction]:
        """One run over the batch directory."""
        exe = find_tool("flawfinder")
        if exe is None:
            raise AdapterError("flawfinder is not installed")
        proc = run_tool(
            [exe, "--csv", "--quiet", "--dataonly", f"--minlevel={self.minlevel}", "."],
            self.timeout,
            cwd=batch.root,
        )
        hits: dict[str, list[Finding]] = defaultdict(list)
        for row in csv.DictReader(io.StringIO(proc.stdout)):
            cwes = _CWE.findall(row.get("CWEs", ""))
            hits[relative(row["File"], batch.root)].append(
                Finding(
                    int(row["Line"]),
                    cwes[0] if cwes else None,
                    int(row.get("Level") or 0) / 5,
                    row.get("Name", ""),
                )
            )
        return [from_findings(r.id, hits.get(batch.paths[r.id], [])) for r in records]
