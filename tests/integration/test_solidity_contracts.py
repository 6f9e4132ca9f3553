"""Solidity inheritance and state across transactions through a real `vulnsight scan
--detectors flow` subprocess (JSON and SARIF): guards resolved through bases in other
files, the most-derived override, and a state variable anyone can set reaching a sink in
another function, reported at the setter with the whole path."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from ..conftest import FIXTURES, ROOT

SOL = "vulnsight.flow.solidity."
# (file, line, CWE, rule id) of every finding, taint and checks together, no more
EXPECTED = {
    # inheritance: modifiers and helpers of bases in other files
    ("app/Vault.sol", 23, "CWE-284", SOL + "missing-access-control"),  # whenNotPaused only
    ("app/Vault.sol", 40, "CWE-841", SOL + "reentrancy"),  # onlyWhenOpen is no caller check
    ("app/Vault.sol", 46, "CWE-829", SOL + "delegatecall-untrusted-target"),  # whenNotPaused
    ("app/OpenVault.sol", 10, "CWE-284", SOL + "missing-access-control"),  # _checkOwner() {}
    ("app/OpenVault.sol", 14, "CWE-829", SOL + "delegatecall-untrusted-target"),
    # state across transactions, at the setter anyone can call
    ("app/Registry.sol", 20, "CWE-284", SOL + "selfdestruct-untrusted-beneficiary"),
    ("app/Registry.sol", 29, "CWE-829", SOL + "delegatecall-untrusted-target"),
    ("app/Registry.sol", 37, "CWE-284", SOL + "ether-amount-set-by-anyone"),
    ("app/Killable.sol", 12, "CWE-284", SOL + "selfdestruct-untrusted-beneficiary"),
    # a zero-address check is no check of the caller's choice
    ("app/ZeroCheck.sol", 11, "CWE-284", SOL + "selfdestruct-untrusted-beneficiary"),
    ("app/ZeroCheck.sol", 20, "CWE-284", SOL + "ether-to-untrusted-recipient"),
    # upgradeTo in the abstract base runs in OpenProxy, whose _authorizeUpgrade() hook
    # checks nothing (SafeProxy's is onlyOwner)
    ("proxy/Upgradeable.sol", 10, "CWE-829", SOL + "delegatecall-untrusted-target"),
}
# near-misses (file, line) that flagged before inheritance was followed, and stay silent
SILENT = {
    ("app/Vault.sol", 28),  # handOver: _requireManager() in access/Managed.sol
    ("app/Vault.sol", 33),  # withdraw: oneAtATime, a lock in security/ReentrancyGuard.sol
    ("app/Vault.sol", 51),  # executeManaged: _requireManager()
    ("app/Registry.sol", 45),  # setFeeTarget: onlyOwner from access/Ownable.sol
    ("app/Registry.sol", 53),  # sweep: feeTarget only the owner sets
    ("app/Legacy.sol", 13),  # a target only the constructor sets
    ("app/Legacy.sol", 25),  # ... an old-style constructor
    ("app/ZeroCheck.sol", 25),  # amount <= 1 ether bounds the amount
    # OpenZeppelin-shaped bases: `owner() != _msgSender()` in _checkOwner(), and
    # onlyRole -> _checkRole(role) -> the overload _checkRole(role, _msgSender())
    ("app/RoleApp.sol", 55),  # setTarget: onlyOwner
    ("app/RoleApp.sol", 59),  # setTarget2: onlyRole
    ("app/RoleApp.sol", 63),  # run reads a target only those two set
    ("app/RoleApp.sol", 67),  # exec: onlyOwner
    ("app/RoleApp.sol", 71),  # exec2: onlyRole
}


def _scan(project: Path, fmt: str) -> dict[str, Any]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        p for p in (str(ROOT / "src"), env.get("PYTHONPATH", "")) if p
    )
    proc = subprocess.run(
        [sys.executable, "-m", "vulnsight.cli", "scan", str(project), "--detectors", "flow"]
        + ["--format", fmt, "--no-progress", "--no-cache"],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    report: dict[str, Any] = json.loads(proc.stdout)
    return report


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    target = tmp_path_factory.mktemp("sol") / "project"
    shutil.copytree(FIXTURES / "dataflow" / "solidity_contracts", target)
    return target


@pytest.fixture(scope="module")
def findings(project: Path) -> list[dict[str, Any]]:
    report = _scan(project, "json")
    assert report["errors"] == []
    found: list[dict[str, Any]] = report["findings"]
    return found


def _steps(findings: list[dict[str, Any]], file: str, line: int) -> list[tuple[str, int, str]]:
    (hit,) = [f for f in findings if (f["file"], f["line_number"]) == (file, line)]
    return [(s["file"], s["line"], s["description"]) for s in hit["path"]]


def test_findings_are_exactly_the_vulnerable_cases(findings: list[dict[str, Any]]) -> None:
    got = {(f["file"], f["line_number"], f["cwe"], f["rule_id"]) for f in findings}
    assert got == EXPECTED
    assert not {(file, line) for file, line, _, _ in got} & SILENT


def test_paths_show_the_inherited_modifier_and_the_storage(
    findings: list[dict[str, Any]],
) -> None:
    assert _steps(findings, "app/Vault.sol", 23) == [
        ("app/Vault.sol", 22, "setOwner() is external with no access check"),
        (
            "app/Vault.sol",
            22,
            "its modifier whenNotPaused (security/Pausable.sol) does not check the caller",
        ),
        ("app/Vault.sol", 23, "sets owner"),
    ]
    assert _steps(findings, "app/Registry.sol", 20) == [
        ("app/Registry.sol", 19, "source: parameter a (argument of a public/external function)"),
        ("app/Registry.sol", 20, "stored in state variable admin"),
        ("app/Registry.sol", 25, "read from state variable admin"),
        (
            "app/Registry.sol",
            25,
            "sink: selfdestruct() (selfdestruct to a caller-chosen beneficiary, CWE-284)",
        ),
    ]
    (setter,) = [f for f in findings if (f["file"], f["line_number"]) == ("app/Registry.sol", 20)]
    assert setter["function"] == "Registry.setAdmin" and setter["detectors"] == ["flow"]


def test_sarif_code_flow_runs_through_the_state_variable(project: Path) -> None:
    doc = _scan(project, "sarif")
    results = {
        (
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            r["locations"][0]["physicalLocation"]["region"]["startLine"],
        ): r
        for r in doc["runs"][0]["results"]
    }
    (flow,) = results[("app/Registry.sol", 37)]["codeFlows"]
    (thread,) = flow["threadFlows"]
    assert [
        (
            loc["location"]["physicalLocation"]["artifactLocation"]["uri"],
            loc["location"]["physicalLocation"]["region"]["startLine"],
        )
        for loc in thread["locations"]
    ] == [
        ("app/Registry.sol", 36),
        ("app/Registry.sol", 37),
        ("app/Registry.sol", 41),
        ("app/Registry.sol", 41),
    ]
