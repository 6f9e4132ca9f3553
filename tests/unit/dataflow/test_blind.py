"""The blind-class checks' pure core: the compiler version decides what wraps, and only
files holding scanned functions are checked."""

from __future__ import annotations

from vulnsight.dataflow.blind import CHECKS, run_checks
from vulnsight.parse.extract import extract
from vulnsight.types import SourceFile

TOKEN = """pragma solidity {version};

contract Token {{
    mapping(address => uint) balances;

    function credit(address to, uint amount) public {{
        balances[to] += amount;
    }}
}}
"""


def _run(path: str, language: str, text: str) -> list[tuple[int, str]]:
    source = SourceFile(path, language, text)
    findings, errors = run_checks([source], extract(source))
    assert errors == []
    return [(f.line_number, f.rule_id or "") for f in findings]


def test_arithmetic_wraps_before_0_8_only() -> None:
    rule = "vulnsight.flow.solidity.unchecked-arithmetic"
    assert _run("a.sol", "solidity", TOKEN.format(version="^0.6.12")) == [(7, rule)]
    assert _run("a.sol", "solidity", TOKEN.format(version=">=0.8.0 <0.9.0")) == []


def test_only_files_holding_scanned_functions_are_checked() -> None:
    text = "void f(void) {\n  char *p = malloc(4);\n  p[0] = 1;\n}\n"
    scanned = SourceFile("scanned.c", "c", text)
    context = SourceFile("context.c", "c", text)  # read for callers only (`--diff`)
    findings, errors = run_checks([scanned, context], extract(scanned))
    assert [(f.file, f.line_number, f.cwe, f.function) for f in findings] == [
        ("scanned.c", 3, "CWE-690", "f")
    ]
    assert errors == []


def test_every_check_states_a_cwe_and_a_confidence() -> None:
    assert len(CHECKS) == 38
    for rule_id, check in CHECKS.items():
        assert rule_id.startswith(f"vulnsight.flow.{check.family}.")
        assert check.cwe.startswith("CWE-") and 0.0 < check.confidence <= 0.9
