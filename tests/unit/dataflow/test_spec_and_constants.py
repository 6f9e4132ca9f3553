"""The specification files load and match; constant conditions evaluate."""

from __future__ import annotations

import pytest

from vulnsight.dataflow import has_spec, load_spec
from vulnsight.dataflow.constants import UNKNOWN, constant, truth
from vulnsight.parse.grammars import parse_text


def test_specs_load_and_typescript_shares_javascript() -> None:
    python = load_spec("python")
    assert python.source_for("request.args", call=False) is not None
    assert python.source_for("request.argsx", call=False) is None
    assert python.source_for("input", call=True) is not None
    assert [s.cwe for s in python.sinks_for("cursor.execute")] == ["CWE-89"]
    (shell,) = python.sinks_for("subprocess.run")
    assert shell.applies("(cmd, shell=True)") and not shell.applies("([cmd])")
    (yaml_sink,) = python.sinks_for("yaml.load")
    assert yaml_sink.applies("(s)") and not yaml_sink.applies("(s, Loader=yaml.SafeLoader)")
    quote = python.sanitiser_for("shlex.quote")
    assert quote is not None and quote.cwes == frozenset({"CWE-78"})
    assert load_spec("typescript").sinks == load_spec("javascript").sinks
    assert [s.cwe for s in load_spec("javascript").sinks_for("Function", constructor=True)] == [
        "CWE-94"
    ]
    assert has_spec("typescript") and has_spec("cpp") and has_spec("solidity")
    assert not has_spec("go")
    solidity = load_spec("solidity")
    (delegate,) = solidity.sinks_for("target.delegatecall")
    assert (delegate.cwe, delegate.receiver) == ("CWE-829", "only")
    ether, stored = solidity.sinks_for("to.transfer")
    assert ether.applies("amount") and not ether.applies("to, amount")  # a token's transfer
    # an amount anyone can set in storage (`setPrice`, then `transfer(price)`)
    assert (stored.id, stored.stored, ether.stored) == ("ether-amount-set-by-anyone", True, False)
    assert solidity.is_guarded("require(msg.sender == owner);")
    assert not solidity.is_guarded("require(msg.sender != address(0));")


def _condition(code: str, language: str = "python"):
    tree, data = parse_text(code, language)
    node = tree.root_node
    while node.type not in ("if_statement",):
        node = node.named_children[0]
    return node.child_by_field_name("condition"), data


@pytest.mark.parametrize(
    ("code", "language", "expected"),
    [
        ("if False:\n    pass\n", "python", False),
        ("if 1 == 2:\n    pass\n", "python", False),
        ("if not True:\n    pass\n", "python", False),
        ("if (7 * 42) - 86 > 200:\n    pass\n", "python", True),
        ("if 0:\n    pass\n", "python", False),
        ("if x:\n    pass\n", "python", None),
        ("if (false) {}\n", "javascript", False),
        ("if (1 === 2) {}\n", "javascript", False),
        ("if (!false && 3 > 2) {}\n", "javascript", True),
        ("if ('1' == 1) {}\n", "javascript", None),  # loose equality coerces: not decided
        ("if (x) {}\n", "javascript", None),
    ],
)
def test_truth_of_constant_conditions(code: str, language: str, expected: bool | None) -> None:
    condition, data = _condition(code, language)
    assert truth(condition, data, {}) is expected


def test_names_bound_to_constants_are_known() -> None:
    condition, data = _condition("if num > 100:\n    pass\n")
    assert truth(condition, data, {"num": 86}) is False
    assert constant(condition, data, {}) is UNKNOWN
