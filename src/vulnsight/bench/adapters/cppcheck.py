"""cppcheck (C/C++): `--enable=warning` with XML output. A system install:
`apt-get install -y cppcheck`. Confidence by severity: error 0.9, warning 0.7, other 0.4.
Files cppcheck cannot analyse (syntaxError, unknownMacro...) are per-record errors."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
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

SEVERITY = {"error": 0.9, "warning": 0.7}
#: Messages that say cppcheck could not judge the file, not that it is flawed.
NOT_A_VERDICT = {
    "syntaxError",
    "unknownMacro",
    "internalAstError",
    "preprocessorErrorDirective",
    "cppcheckError",
    "internalError",
    "missingInclude",
    "missingIncludeSystem",
    "checkersReport",
    "normalCheckLevelMaxBranches",
    "toomanyconfigs",
}


class CppcheckAdapter:
    """One cppcheck run over the C and C++ snippets."""

    name = "cppcheck"
    kind = "peer"
    languages = frozenset({"c", "cpp"})
    excluded_sources: frozenset[str] = frozenset()
    compute = "cpu"
    chunk_size = 0

    def __init__(self, options: AdapterOptions | None = None, arg: str = "") -> None:
        opts = options or AdapterOptions()
        self.timeout = opts.timeout_s
        self.jobs = opts.jobs

    def available(self) -> str | None:
        """Needs the `cppcheck` binary (a system package)."""
        if find_tool("cppcheck", "VULNSIGHT_CPPCHECK"):
            return None
        return "cppcheck is not installed (apt-get install -y cppcheck)"

    def describe(self) -> dict[str, Any]:
        """Version and checks."""
        exe = find_tool("cppcheck", "VULNSIGHT_CPPCHECK")
        return {"version": version_of([exe, "--version"]) if exe else "", "enable": "warning"}

    def run(self, batch: Batch, records: Sequence[Record]) -> list[Prediction]:
        """XML on stderr: one <error> per message with its <location>s."""
        exe = find_tool("cppcheck", "VULNSIGHT_CPPCHECK")
        if exe is None:
            raise AdapterError("cppcheck is not installed")
        proc = run_tool(
            [
                exe,
                "--enable=warning",
                "--xml",
                "--xml-version=2",
                "--quiet",
                "--inline-suppr",
                f"-j{max(1, self.jobs)}",
                ".",
            ],
            self.timeout,
            cwd=batch.root,
        )
        try:
            root = ET.fromstring(proc.stderr or "<results/>")
        except ET.ParseError as exc:
            raise AdapterError(f"cppcheck XML unreadable: {exc}") from exc
        hits: dict[str, list[Finding]] = defaultdict(list)
        errors: dict[str, str] = {}
        for err in root.iter("error"):
            loc = err.find("location")
            if loc is None:
                continue
            path = relative(loc.get("file", ""), batch.root)
            ident = err.get("id", "")
            if ident in NOT_A_VERDICT:
                errors.setdefault(path, f"cppcheck: {ident}")
                continue
            cwe = err.get("cwe")
            hits[path].append(
                Finding(
                    int(loc.get("line", "0")),
                    f"CWE-{cwe}" if cwe else None,
                    SEVERITY.get(err.get("severity", ""), 0.4),
                    ident,
                )
            )
        out = []
        for r in records:
            path = batch.paths[r.id]
            pred = from_findings(r.id, hits.get(path, []))
            if path in errors and not pred.predicted:
                pred = replace(pred, error=errors[path])
            out.append(pred)
        return out
