"""The Slither adapter's pure parts: wrapping a contract member, mapping Slither's
results back onto the record's lines, and the error text of a unit that did not compile."""

from __future__ import annotations

import json

from vulnsight.bench.adapters.interface import Finding, from_findings
from vulnsight.bench.adapters.slither import findings_of, not_compiled, wrap_unit

from ...conftest import FIXTURES

MEMBER = """mapping(address => uint) balances;
function withdraw() public {
    uint amount = balances[msg.sender];
    require(msg.sender.call.value(amount)());
    balances[msg.sender] = 0;
}
"""


def test_wrap_unit_keeps_the_pragma_on_top_and_counts_the_added_lines() -> None:
    text, shift = wrap_unit("pragma solidity ^0.4.24;\n" + MEMBER)
    lines = text.splitlines()
    assert lines[:2] == ["pragma solidity ^0.4.24;", "contract VulnsightUnit {"]
    assert shift == 2
    # The member's own lines keep their order; the pragma line became empty.
    assert lines[shift:][1] == MEMBER.splitlines()[0]
    assert text.rstrip().endswith("}")


def test_wrap_unit_hoists_imports_and_keeps_blank_lines_in_place() -> None:
    code = 'pragma solidity ^0.8.0;\n\nimport "./Token.sol";\n\nfunction f() public {}\n'
    text, shift = wrap_unit(code)
    lines = text.splitlines()
    assert lines[:3] == [
        "pragma solidity ^0.8.0;",
        'import "./Token.sol";',
        "contract VulnsightUnit {",
    ]
    assert shift == 3
    # Record line 5 (the function) is file line 5 + shift.
    assert lines[5 + shift - 1] == "function f() public {}"


def test_wrap_unit_invents_no_pragma() -> None:
    text, shift = wrap_unit(MEMBER)
    assert text.splitlines()[0] == "contract VulnsightUnit {"
    assert shift == 1
    assert text.splitlines()[shift] == MEMBER.splitlines()[0]


def test_wrap_unit_leaves_a_whole_contract_alone() -> None:
    code = "pragma solidity ^0.8.0;\ncontract A {}\n"
    assert wrap_unit(code) == (code, 0)


def test_findings_of_maps_slither_elements_onto_the_record_lines() -> None:
    # Captured from `slither unit.sol --solc <shim> --json - --exclude-informational
    # --exclude-optimization` on MEMBER wrapped with its pragma (solc-js 0.4.26).
    data = json.loads((FIXTURES / "solcjs" / "slither_unit_0.4.26.json").read_text())
    hits = findings_of(data, shift=2)
    assert sorted(hits, key=lambda f: f.line) == [
        Finding(2, "CWE-841", 0.9, "reentrancy-eth"),  # function withdraw
        Finding(4, "CWE-841", 0.9, "reentrancy-eth"),  # the external call
        Finding(5, "CWE-841", 0.9, "reentrancy-eth"),  # the state write after it
    ]
    pred = from_findings("r1", hits)
    assert pred.predicted and pred.lines == (2, 4, 5) and pred.cwes == ("CWE-841",)
    assert pred.rules == ("reentrancy-eth",)


def test_findings_of_without_results_is_empty() -> None:
    assert findings_of({"success": True, "results": {}}, shift=1) == []


def test_not_compiled_keeps_the_reason_and_the_first_line() -> None:
    msg = "DeclarationError: Undeclared identifier.\n --> a.sol:4:9:\n"
    assert not_compiled("undeclared identifier", msg) == (
        "slither: not compiled [undeclared identifier] DeclarationError: Undeclared identifier."
    )
