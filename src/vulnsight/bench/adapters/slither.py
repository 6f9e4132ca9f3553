"""Slither (Solidity), offline. Slither compiles through crytic-compile, which calls a
`solc` with `--combined-json`. No native solc ships from a registry reachable here, so
by default the compiler is solc-js from npm (`tools/solcjs`, installed by `npm ci`)
behind the shim in `solcjs.py`; `$VULNSIGHT_SOLC` names a native solc instead.

Records are contract members cut out of their contracts; a member is wrapped in
``contract VulnsightUnit { ... }`` (its pragma, if any, kept above). A member that
uses state of the contract it was cut from (most SolidiFI units) does not compile
alone: that record is an error (counted as not flagged, and reported by reason), not
a verdict. Each unit is compiled once with solc-js first (the pragma picks the newest
installed version it accepts; without a pragma, the newest series that compiles it),
and only units that compiled are given to Slither. Slither's informational and
optimisation detectors (compiler version, naming, pragma style) are left out: they
fire on every contract and are not vulnerability reports.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from vulnsight.bench.adapters import solcjs
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
#: Slither detector -> the CWE the corpora use for that weakness.
CWE_OF_CHECK = {
    "reentrancy-eth": "CWE-841",
    "reentrancy-no-eth": "CWE-841",
    "reentrancy-benign": "CWE-841",
    "reentrancy-events": "CWE-841",
    "reentrancy-unlimited-gas": "CWE-841",
    "unchecked-send": "CWE-252",
    "unchecked-lowlevel": "CWE-252",
    "unchecked-transfer": "CWE-252",
    "tx-origin": "CWE-477",
    "timestamp": "CWE-829",
    "weak-prng": "CWE-330",
    "arbitrary-send-eth": "CWE-284",
    "arbitrary-send-erc20": "CWE-284",
    "suicidal": "CWE-284",
    "unprotected-upgrade": "CWE-284",
    "controlled-delegatecall": "CWE-829",
    "divide-before-multiply": "CWE-682",
    "tautology": "CWE-682",
}
#: File-level lines a member may carry: they move above the wrapper contract.
_FILE_LEVEL = re.compile(r"^\s*(pragma\s[^;]*;|import\s[^;]*;)\s*$")
_CONTRACT = re.compile(r"^\s*(abstract\s+)?(contract|library|interface)\s", re.MULTILINE)
#: Marks a per-record error that is a compile failure: `slither: not compiled [REASON] ...`.
NOT_COMPILED = "slither: not compiled"


def wrap_unit(code: str) -> tuple[str, int]:
    """A compilable file for a contract member, and how many lines were added above.

    Its `pragma` and `import` lines move above ``contract VulnsightUnit {`` (their own
    lines left blank, so every other line keeps its offset); without a pragma, none is
    invented (the solc-js shim then tries each series). A unit that already declares a
    contract, library or interface is left as it is."""
    if _CONTRACT.search(code):
        return code, 0
    lines = code.split("\n")
    hoisted = [ln.strip() for ln in lines if _FILE_LEVEL.match(ln)]
    body = ["" if _FILE_LEVEL.match(ln) else ln for ln in lines]
    head = [*hoisted, "contract VulnsightUnit {"]
    return "\n".join([*head, *body]) + "\n}\n", len(head)


def findings_of(data: Mapping[str, Any], shift: int) -> list[Finding]:
    """Slither's `--json` detector results as findings on the unit's own lines: one per
    element a result points at (the function, then e.g. the external call and the state
    write after it), at that element's first line."""
    hits: dict[tuple[int, str], Finding] = {}
    for det in (data.get("results") or {}).get("detectors", []):
        check = str(det.get("check", ""))
        confidence = IMPACT.get(det.get("impact", ""), 0.3)
        starts = [
            (el.get("source_mapping") or {}).get("lines", [])[:1] for el in det.get("elements", [])
        ]
        for line in [s[0] for s in starts if s] or [1]:
            at = max(1, line - shift)
            hits.setdefault((at, check), Finding(at, CWE_OF_CHECK.get(check), confidence, check))
    return list(hits.values())


def not_compiled(reason: str, message: str) -> str:
    """The error text of a record that did not compile (reason in brackets)."""
    first = message.strip().splitlines()[0] if message.strip() else ""
    return f"{NOT_COMPILED} [{reason}] {first}".rstrip()


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


def write_shim(directory: Path) -> Path:
    """A `solc` executable that runs the solc-js shim with this Python."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "solc"
    path.write_text(
        f'#!/bin/sh\nexec {shlex.quote(sys.executable)} -m vulnsight.bench.adapters.solcjs "$@"\n',
        "utf-8",
    )
    path.chmod(0o700)
    return path


class SlitherAdapter:
    """`slither FILE --json -` per record that compiled (Slither analyses one unit)."""

    name = "slither"
    kind = "peer"
    languages = frozenset({"solidity"})
    excluded_sources: frozenset[str] = frozenset()
    compute = "cpu"
    chunk_size = 50

    def __init__(self, options: AdapterOptions | None = None, arg: str = "") -> None:
        self.timeout = (options or AdapterOptions()).timeout_s
        self.native = os.environ.get("VULNSIGHT_SOLC") or None

    def _solcjs(self) -> solcjs.SolcJs | None:
        node = solcjs.node_path()
        return solcjs.SolcJs(node, solcjs.solcjs_dir()) if node else None

    def available(self) -> str | None:
        """Needs slither, and node with solc-js in tools/solcjs (or `$VULNSIGHT_SOLC`)."""
        if not find_tool("slither"):
            return "slither is not installed (pip install slither-analyzer)"
        if self.native:
            if "Version:" not in _probe(self.native):
                return f"$VULNSIGHT_SOLC ({self.native}) does not answer `--version`"
            return None
        sj = self._solcjs()
        if sj is None:
            return "node is not installed (the solc-js shim needs it; or set $VULNSIGHT_SOLC)"
        if not sj.versions():
            return f"no solc-js under {sj.root}/node_modules (run `npm ci` there)"
        return None

    def describe(self) -> dict[str, Any]:
        """Versions of slither and the compilers."""
        exe = find_tool("slither")
        sj = None if self.native else self._solcjs()
        return {
            "version": version_of([exe, "--version"]) if exe else "",
            "solc": version_of([self.native, "--version"])
            if self.native
            else f"solc-js {', '.join(sj.versions()) if sj else '-'} (tools/solcjs shim)",
            "detectors": "all but informational and optimization",
        }

    def _slither(
        self, exe: str, rel: str, solc: str, cwd: Path, env: Mapping[str, str]
    ) -> dict[str, Any] | str:
        """Slither's JSON for one file, or an error text."""
        cmd = [exe, rel, "--solc", solc, "--json", "-"]
        cmd += ["--exclude-informational", "--exclude-optimization", "--disable-color"]
        try:
            proc = subprocess.run(
                cmd,
                capture_output=True,
                text=True,
                timeout=self.timeout,
                check=False,
                stdin=subprocess.DEVNULL,
                cwd=cwd,
                env=dict(env),
            )
        except (subprocess.TimeoutExpired, OSError) as exc:
            return f"slither: {exc}"
        try:
            data: dict[str, Any] = json.loads(proc.stdout or "{}")
        except json.JSONDecodeError:
            data = {}
        if not data.get("success"):
            text = str(data.get("error") or proc.stderr.strip()[-300:] or "failed")
            return f"slither: {text.splitlines()[-1] if text.splitlines() else 'failed'}"
        return data

    def run(self, batch: Batch, records: Sequence[Record]) -> list[Prediction]:
        """Wrap and compile each unit, then run Slither on those that compiled; detector
        hits are mapped back to the record's lines."""
        exe = str(find_tool("slither"))
        units: dict[str, str] = {}
        shifts: dict[str, int] = {}
        for r in records:
            rel = batch.paths[r.id]
            text, shifts[r.id] = wrap_unit((batch.root / rel).read_text("utf-8"))
            (batch.root / rel).write_text(text, "utf-8")
            units[rel] = text
        env = dict(os.environ)
        compiled: dict[str, solcjs.Compiled] = {}
        if self.native:
            solc = self.native
        else:
            sj = self._solcjs()
            assert sj is not None  # available() said so
            compiled = solcjs.compile_units(sj, units)
            cache = batch.root / ".vulnsight-solcjs" / "cache"
            cache.mkdir(parents=True, exist_ok=True)
            for rel, unit in compiled.items():
                if unit.ok and unit.version:
                    key = solcjs.cache_key(unit.version, rel, units[rel])
                    (cache / key).write_text(json.dumps(unit.output), "utf-8")
            solc = str(write_shim(batch.root / ".vulnsight-solcjs" / "bin"))
            env[solcjs.CACHE_ENV] = str(cache)
            env[solcjs.DIR_ENV] = str(sj.root)
            env["PYTHONPATH"] = os.pathsep.join(
                [str(Path(solcjs.__file__).resolve().parents[3])]
                + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else [])
            )
        out = []
        for r in records:
            rel = batch.paths[r.id]
            c = compiled.get(rel)
            if c is not None and not c.ok:
                out.append(Prediction(r.id, False, 0.0, error=not_compiled(c.reason, c.message)))
                continue
            if c is not None and c.version:
                env[solcjs.VERSION_ENV] = c.version
            data = self._slither(exe, rel, solc, batch.root, env)
            if isinstance(data, str):
                out.append(Prediction(r.id, False, 0.0, error=data))
                continue
            out.append(from_findings(r.id, findings_of(data, shifts[r.id])))
        return out
