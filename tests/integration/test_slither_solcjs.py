"""Slither through the solc-js shim, offline, as `vulnsight eval` runs it: a reentrant
withdraw and its checks-effects-interactions twin (0.8 pragma), an old-style reentrant
member without a pragma (the shim falls back to the 0.4 series), and a member that uses
state of the contract it was cut from (an error, not a verdict). Skipped unless node,
slither and the solc-js compilers (`npm ci` in tools/solcjs) are installed; .ci/run
installs them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vulnsight.bench.adapters import solcjs
from vulnsight.bench.adapters.tool import find_tool

from ..conftest import ROOT

VULNERABLE = """pragma solidity ^0.8.0;
mapping(address => uint) balances;
function withdraw() public {
    uint amount = balances[msg.sender];
    (bool ok, ) = msg.sender.call{value: amount}("");
    require(ok);
    balances[msg.sender] = 0;
}
"""
SAFE = """pragma solidity ^0.8.0;
mapping(address => uint) balances;
function withdraw() public {
    uint amount = balances[msg.sender];
    balances[msg.sender] = 0;
    (bool ok, ) = msg.sender.call{value: amount}("");
    require(ok);
}
"""
OLD = """mapping(address => uint) credit;
function withdraw(uint amount) public {
    if (credit[msg.sender] >= amount) {
        require(msg.sender.call.value(amount)());
        credit[msg.sender] -= amount;
    }
}
"""
CUT = """function withdraw() public {
    uint amount = balances[msg.sender];
    msg.sender.transfer(amount);
}
"""
ROWS = [
    ("vuln", VULNERABLE, 1, [5]),
    ("safe", SAFE, 0, []),
    ("old", OLD, 1, [4]),
    ("cut", CUT, 1, [3]),
]


def _missing() -> str | None:
    if solcjs.node_path() is None:
        return "node is not installed"
    if find_tool("slither") is None:
        return "slither is not installed (pip install slither-analyzer)"
    versions = solcjs.installed_versions(solcjs.solcjs_dir())
    if not any(v.startswith("0.8.") for v in versions) or "0.4.26" not in versions:
        return "solc-js 0.4.26 and 0.8.x not installed (npm ci in tools/solcjs)"
    return None


pytestmark = pytest.mark.skipif(_missing() is not None, reason=str(_missing()))


def test_eval_runs_slither_offline_through_the_solcjs_shim(tmp_path: Path) -> None:
    data = tmp_path / "sol.jsonl"
    with data.open("w") as fh:
        for rid, code, label, lines in ROWS:
            row = {"id": rid, "language": "solidity", "code": code, "label": label}
            row |= {"cwe": "CWE-841" if label else None, "lines": lines, "source": "tiny"}
            row |= {"project": rid, "path": f"{rid}.sol"}
            fh.write(json.dumps(row) + "\n")
    out = tmp_path / "out"
    exe = Path(sys.executable).parent / "vulnsight"
    cmd = [str(exe), "eval", "--data", str(data), "--detectors", "slither", "--out", str(out)]
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    proc = subprocess.run(
        [*cmd, "--no-progress"], capture_output=True, text=True, timeout=600, env=env
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = json.loads((out / "results.json").read_text())
    slither = next(d for d in results["detectors"] if d["detector"] == "slither")
    assert slither["settings"]["solc"].startswith("solc-js 0.4.")
    preds = {
        p["record_id"]: p
        for p in map(json.loads, (out / "predictions.jsonl").read_text().splitlines())
    }
    # The reentrant withdraw: Slither's reentrancy-eth, at the function, the call, the write.
    assert preds["vuln"]["error"] is None
    assert preds["vuln"]["predicted"] is True
    assert preds["vuln"]["rules"] == ["reentrancy-eth"]
    assert preds["vuln"]["lines"] == [3, 5, 7]
    assert preds["vuln"]["cwes"] == ["CWE-841"]
    # Its twin writes the balance before the call: compiled, judged, not flagged.
    assert preds["safe"]["error"] is None
    assert preds["safe"]["predicted"] is False
    # No pragma and 0.4 syntax: compiled by the fallback, reentrancy found on the call.
    assert preds["old"]["error"] is None
    assert "reentrancy-eth" in preds["old"]["rules"]
    assert 4 in preds["old"]["lines"]
    # Cut from its contract: `balances` is undeclared, so no verdict.
    assert preds["cut"]["predicted"] is False
    assert preds["cut"]["error"].startswith("slither: not compiled [undeclared identifier]")
