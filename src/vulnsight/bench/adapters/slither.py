"""Slither (Solidity). It compiles through crytic-compile, which calls a native `solc`
with `--combined-json`; solcjs from npm does not implement that interface and
solc-select downloads compiler binaries at run time, so without a native `solc` (PATH
or `$VULNSIGHT_SOLC`) this peer reports that it cannot run.

Records are contract members cut out of their contracts; each is wrapped in
``contract VulnsightUnit { ... }`` with the pragma it carried. Units that do not
compile alone (undeclared state variables, missing imports) are per-record errors.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Sequence
from typing import Any

from vulnsight.bench.adapters.interface import (
    AdapterOptions,
    Batch,
    Finding,
    Prediction,
    from_findings,
)
from vulnsight.bench.adapters.tool import find_tool, version_of
from vulnsight.bench.records import Record

IMPACT = {"High": 0.9, "Medium": 0.7, "Low": 0.4, "Informational": 0.1, "Optimization": 0.1}
_PRAGMA = re.compile(r"^\s*pragma\s+solidity[^;]*;\s*$", re.MULTILINE)
_CONTRACT = re.compile(r"^\s*(abstract\s+)?(contract|library|interface)\s", re.MULTILINE)


def wrap_unit(code: str) -> tuple[str, int]:
    """A compilable file for a contract member, and how many lines were added above."""
    if _CONTRACT.search(code):
        return code, 0
    pragmas = _PRAGMA.findall(code)
    body = _PRAGMA.sub("", code)
    head = (pragmas[-1].strip() if pragmas else "pragma solidity >=0.4.0;") + "\n"
    return head + "contract VulnsightUnit {\n" + body + "\n}\n", 2


def _probe(solc: str) -> str:
    """`solc --version` output, or '' when it fails within 15 s."""
    try:
        proc = subprocess.run(
            [solc, "--version"],
            capture_output=True,
            text=True,
            timeout=15,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return proc.stdout


class SlitherAdapter:
    """`slither FILE --json -` per record (Slither analyses one compilation unit)."""

    name = "slither"
    kind = "peer"
    languages = frozenset({"solidity"})
    excluded_sources: frozenset[str] = frozenset()
    compute = "cpu"
    chunk_size = 0

    def __init__(self, options: AdapterOptions | None = None, arg: str = "") -> None:
        self.timeout = (options or AdapterOptions()).timeout_s

    def _solc(self) -> str | None:
        return find_tool("solc", "VULNSIGHT_SOLC")

    def available(self) -> str | None:
        """Needs slither and a native solc."""
        if not find_tool("slither"):
            return "slither is not installed (pip install slither-analyzer)"
        solc = self._solc()
        if solc and "Version:" not in _probe(solc):
            return (
                f"{solc} does not run offline (solc-select's shim downloads compilers at "
                "run time); set $VULNSIGHT_SOLC to a native solc binary"
            )
        if not solc:
            hint = (
                " (solcjs from npm is present but lacks --combined-json)"
                if find_tool("solcjs")
                else ""
            )
            return (
                "no native solc compiler: crytic-compile needs `solc --combined-json`"
                f"{hint}; solc-select would download binaries, which is offline-impossible"
            )
        return None

    def describe(self) -> dict[str, Any]:
        """Versions of slither and solc."""
        exe, solc = find_tool("slither"), self._solc()
        return {
            "version": version_of([exe, "--version"]) if exe else "",
            "solc": version_of([solc, "--version"]) if solc else "",
        }

    def run(self, batch: Batch, records: Sequence[Record]) -> list[Prediction]:
        """Wrap, compile and analyse each unit; map detector hits back to unit lines."""
        exe, solc = find_tool("slither"), self._solc()
        out = []
        for r in records:
            path = batch.root / batch.paths[r.id]
            text, shift = wrap_unit(path.read_text("utf-8"))
            path.write_text(text, "utf-8")
            try:
                proc = subprocess.run(
                    [str(exe), str(path), "--solc", str(solc), "--json", "-"],
                    capture_output=True,
                    text=True,
                    timeout=self.timeout,
                    check=False,
                    stdin=subprocess.DEVNULL,
                    cwd=batch.root,
                )
                data = json.loads(proc.stdout or "{}")
            except (subprocess.TimeoutExpired, json.JSONDecodeError, OSError) as exc:
                out.append(Prediction(r.id, False, 0.0, error=f"slither: {exc}"))
                continue
            if not data.get("success"):
                reason = str(data.get("error") or proc.stderr[-300:] or "failed").splitlines()
                out.append(
                    Prediction(
                        r.id, False, 0.0, error=f"slither: {reason[0] if reason else 'failed'}"
                    )
                )
                continue
            hits = []
            for det in (data.get("results") or {}).get("detectors", []):
                lines = [
                    ln
                    for el in det.get("elements", [])
                    for ln in (el.get("source_mapping") or {}).get("lines", [])
                ]
                line = max(1, (min(lines) if lines else 1) - shift)
                hits.append(
                    Finding(
                        line, None, IMPACT.get(det.get("impact", ""), 0.3), det.get("check", "")
                    )
                )
            out.append(from_findings(r.id, hits))
        return out
