"""Solidity across contracts and transactions: guards resolved through the inheritance
chain (bases in other files, the most-derived override), and state variables anyone can
set read back as sources in other functions (`sol_contracts.py`, `sol_state.py`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.unit.dataflow.helpers import FIXTURES, copy_fixture, run_flow
from vulnsight.dataflow.sol_contracts import ContractIndex
from vulnsight.dataflow.spec import load_spec
from vulnsight.parse.grammars import parse_text

TREE = "solidity_contracts"
SOL = "vulnsight.flow.solidity."
# (file, line, CWE, rule) of every taint finding of the fixture tree, no more
FLAGGED = {
    # whenNotPaused (security/Pausable.sol) does not restrict the caller
    ("app/Vault.sol", 46, "CWE-829", SOL + "delegatecall-untrusted-target"),
    # onlyOwner calls _checkOwner(), which OpenVault overrides with an empty body
    ("app/OpenVault.sol", 14, "CWE-829", SOL + "delegatecall-untrusted-target"),
    # setAdmin (anyone) -> admin -> kill's selfdestruct, reported at the setter
    ("app/Registry.sol", 20, "CWE-284", SOL + "selfdestruct-untrusted-beneficiary"),
    # setTarget (anyone) -> target -> run's delegatecall (run itself is owner-only)
    ("app/Registry.sol", 29, "CWE-829", SOL + "delegatecall-untrusted-target"),
    # setPrice (anyone) -> price -> refund's transfer amount
    ("app/Registry.sol", 37, "CWE-284", SOL + "ether-amount-set-by-anyone"),
    # setOwner -> internal _setOwner stores owner -> kill (onlyOwner) self-destructs to it
    ("app/Killable.sol", 12, "CWE-284", SOL + "selfdestruct-untrusted-beneficiary"),
    # `require(b != address(0))` rules out one address, not the caller's choice
    ("app/ZeroCheck.sol", 11, "CWE-284", SOL + "selfdestruct-untrusted-beneficiary"),
    ("app/ZeroCheck.sol", 20, "CWE-284", SOL + "ether-to-untrusted-recipient"),
    # upgradeTo in the abstract base runs in OpenProxy, whose _authorizeUpgrade() hook
    # checks nothing (SafeProxy's is onlyOwner)
    ("proxy/Upgradeable.sol", 10, "CWE-829", SOL + "delegatecall-untrusted-target"),
}
# (file, line) of safe near-misses: no finding may stand there
SILENT = {
    ("app/Vault.sol", 51),  # _requireManager() in access/Managed.sol checks msg.sender
    ("app/Vault.sol", 55),  # onlyOwner from access/Ownable.sol
    ("app/Registry.sol", 45),  # setFeeTarget is onlyOwner (Ownable.sol): its write is safe
    ("app/Registry.sol", 49),  # setFee, the same
    ("app/Registry.sol", 53),  # sweep reads feeTarget, which only the owner sets
    ("app/Registry.sol", 54),  # ... and fee
    ("app/Registry.sol", 14),  # constructor writes never taint
    ("app/Legacy.sol", 9),  # a 0.6 `constructor(...) public` writes target
    ("app/Legacy.sol", 13),  # ... read here
    ("app/Legacy.sol", 21),  # an old-style constructor (same name as the contract)
    ("app/Legacy.sol", 25),  # ... read here
    ("app/ZeroCheck.sol", 25),  # amount <= 1 ether: a real bound
    # OpenZeppelin-shaped bases: `owner() != _msgSender()` in _checkOwner(), and
    # onlyRole -> _checkRole(role) -> the overload _checkRole(role, _msgSender())
    ("app/RoleApp.sol", 55),  # setTarget: onlyOwner
    ("app/RoleApp.sol", 59),  # setTarget2: onlyRole
    ("app/RoleApp.sol", 63),  # run reads a target only those two set
    ("app/RoleApp.sol", 67),  # exec: onlyOwner
    ("app/RoleApp.sol", 71),  # exec2: onlyRole
}


def _found(root: Path) -> set[tuple[str, int, str, str]]:
    return {(f.file, f.line_number, f.cwe, f.rule_id or "") for f in run_flow(root).findings}


def test_fixture_tree_flags_exactly_the_vulnerable_cases(tmp_path: Path) -> None:
    result = run_flow(copy_fixture(TREE, tmp_path))
    assert result.errors == ()
    found = {(f.file, f.line_number, f.cwe, f.rule_id or "") for f in result.findings}
    assert found == FLAGGED
    assert not {(file, line) for file, line, _, _ in found} & SILENT


def _path(root: Path, file: str, line: int) -> list[tuple[str, int, str, str]]:
    (finding,) = [f for f in run_flow(root).findings if (f.file, f.line_number) == (file, line)]
    return [(s.file, s.line, s.function, s.description) for s in finding.path]


def test_path_runs_from_the_setter_through_storage_to_the_sink(tmp_path: Path) -> None:
    root = copy_fixture(TREE, tmp_path)
    registry = "app/Registry.sol"
    assert _path(root, registry, 29) == [
        (
            registry,
            28,
            "Registry.setTarget",
            "source: parameter t (argument of a public/external function)",
        ),
        (registry, 29, "Registry.setTarget", "stored in state variable target"),
        (registry, 33, "Registry.run", "read from state variable target"),
        (
            registry,
            33,
            "Registry.run",
            "sink: target.delegatecall() (delegatecall to a caller-chosen contract, CWE-829)",
        ),
    ]
    killable = "app/Killable.sol"
    assert _path(root, killable, 12) == [
        (
            killable,
            7,
            "Killable.setOwner",
            "source: parameter a (argument of a public/external function)",
        ),
        (killable, 8, "Killable.setOwner", "passed to _setOwner() as a"),
        (killable, 11, "Killable._setOwner", "parameter a"),
        (killable, 12, "Killable._setOwner", "stored in state variable owner"),
        (killable, 16, "Killable.kill", "read from state variable owner"),
        (
            killable,
            16,
            "Killable.kill",
            "sink: selfdestruct() (selfdestruct to a caller-chosen beneficiary, CWE-284)",
        ),
    ]
    (finding,) = [f for f in run_flow(root).findings if (f.file, f.line_number) == (registry, 37)]
    assert finding.function == "Registry.setPrice"
    assert finding.snippet == "price = p;"
    assert "stored in a state variable by a function anyone can call" in finding.message
    assert "Registry.refund at app/Registry.sol:41" in finding.message


CONTRACTS = """pragma solidity ^0.8.0;
contract Base {{
    address target;
    function fire() public {{ {guard} target.delegatecall(""); }}
}}
contract Child is Base {{
    function point(address t) public {{ target = t; }}
}}
contract Stranger {{
    address target;
    function fire() public {{ target.delegatecall(""); }}
}}
"""


def test_storage_taints_the_contracts_that_inherit_each_other_only(tmp_path: Path) -> None:
    (tmp_path / "a.sol").write_text(CONTRACTS.format(guard=""))
    # Child.point stores; Base.fire runs inside Child; Stranger has its own `target`
    assert _found(tmp_path) == {("a.sol", 7, "CWE-829", SOL + "delegatecall-untrusted-target")}
    (tmp_path / "a.sol").write_text(CONTRACTS.replace("target = t;", "target = address(0);"))
    assert _found(tmp_path) == set()


def test_stored_data_copied_on_keeps_the_first_setter_and_locals_shadow_state(
    tmp_path: Path,
) -> None:
    (tmp_path / "a.sol").write_text(
        "pragma solidity ^0.8.0;\n"
        "contract A {\n"
        "    address a;\n"
        "    address b;\n"
        "    address owner;\n"
        "    modifier onlyOwner() { require(msg.sender == owner); _; }\n"
        "    function setA(address x) public { a = x; }\n"
        "    function copy() public { b = a; }\n"
        '    function run() public onlyOwner { b.delegatecall(""); }\n'
        '    function shadow() public onlyOwner { address a = owner; a.delegatecall(""); }\n'
        "}\n"
    )
    result = run_flow(tmp_path)
    ((line, steps),) = [(f.line_number, [s.line for s in f.path]) for f in result.findings]
    assert line == 7  # the setter anyone can call, not the copy
    assert steps == [7, 7, 8, 8, 9, 9]


def test_guards_resolve_through_bases_and_overrides(tmp_path: Path) -> None:
    root = copy_fixture(TREE, tmp_path)
    files = []
    for path in sorted(root.rglob("*.sol")):
        tree, data = parse_text(path.read_text(), "solidity")
        files.append((str(path.relative_to(root)), data, tree.root_node))
    index = ContractIndex.build(files)
    vault = index.find("Vault")
    open_vault = index.find("OpenVault")
    assert vault is not None and open_vault is not None
    assert [c.name for c in index.linearisation(vault)] == [
        "Vault",
        "Pausable",
        "ReentrancyGuard",
        "Managed",
        "Ownable",
    ]
    assert "owner" in index.state_variables(vault) and "paused" in index.state_variables(vault)
    ownable = index.find("Ownable")
    assert ownable is not None
    runs_in = {c.name for c in index.contexts(ownable, "_checkOwner")}
    # abstract Ownable runs only as the contracts deriving it; OpenVault overrides it
    assert {"Vault", "Registry", "Killable"} <= runs_in
    assert not runs_in & {"Ownable", "OpenVault"}
    resolved = index.function(open_vault, "_checkOwner")
    assert resolved is not None and resolved[0] is open_vault  # the most-derived one
    guarded = load_spec("solidity").is_guarded

    def fn(contract_name: str, name: str) -> bool | None:
        contract = index.find(contract_name)
        assert contract is not None
        (definition,) = contract.functions[name]
        return index.guarded(definition, contract.file, guarded)

    assert fn("Vault", "setImplementation") is True  # onlyOwner -> _checkOwner()
    assert fn("Vault", "handOver") is True  # _requireManager() in Managed.sol
    assert fn("Vault", "setOwner") is False  # whenNotPaused
    assert fn("OpenVault", "setOwner") is False  # onlyOwner, _checkOwner() emptied


def test_c3_linearisation_of_a_diamond() -> None:
    text = (
        "contract A {}\ncontract B is A {}\ncontract C is A {}\n"
        "contract D is B, C {}\ncontract E is C, B {}\n"
    )
    tree, data = parse_text(text, "solidity")
    index = ContractIndex.build([("d.sol", data, tree.root_node)])
    d, e = index.find("D"), index.find("E")
    assert d is not None and e is not None
    assert [c.name for c in index.linearisation(d)] == ["D", "C", "B", "A"]
    assert [c.name for c in index.linearisation(e)] == ["E", "B", "C", "A"]
    assert FIXTURES.is_dir()


def test_a_lock_is_no_access_check_but_a_computed_mint_is_no_finding() -> None:
    from vulnsight.dataflow.blind import run_checks
    from vulnsight.parse.extract import extract
    from vulnsight.types import SourceFile

    text = (
        "pragma solidity ^0.8.0;\n"
        "contract Pool {\n"
        "    uint unlocked = 1;\n"
        "    modifier lock() { require(unlocked == 1); unlocked = 0; _; unlocked = 1; }\n"
        "    function deposit(address to) external lock {\n"
        "        uint liquidity = address(this).balance / 2;\n"
        "        _mint(to, liquidity);\n"
        "    }\n"
        "    function give(address to, uint amount) external lock {\n"
        "        _mint(to, amount);\n"
        "    }\n"
        "    function _mint(address to, uint amount) internal {}\n"
        "}\n"
    )
    source = SourceFile("pool.sol", "solidity", text)
    findings, errors = run_checks([source], extract(source))
    assert errors == []
    # `lock` resolves to a re-entrancy lock (no caller test): give() mints what anyone
    # asks; deposit() mints what the contract computes (Uniswap's pair) and is silent
    assert [(f.line_number, f.rule_id) for f in findings] == [(10, SOL + "missing-access-control")]


def test_inheritance_cycles_and_long_chains_stay_bounded(tmp_path: Path) -> None:
    chain = "".join(
        f"contract C{i} is C{i - 1} {{\n    function f{i}() public {{}}\n}}\n"
        for i in range(1, 200)
    )
    (tmp_path / "a.sol").write_text(
        "pragma solidity ^0.8.0;\n"
        "contract A is B {\n    address t;\n    function set(address x) public { t = x; }\n}\n"
        'contract B is A {\n    function go() public { t.delegatecall(""); }\n}\n'
        "contract C0 {}\n" + chain
    )
    result = run_flow(tmp_path)
    assert result.errors == ()
    # A and B inherit each other (no compiler accepts it): each still sees the other
    assert {(f.line_number, f.cwe) for f in result.findings} == {(4, "CWE-829")}
    tree, data = parse_text((tmp_path / "a.sol").read_text(), "solidity")
    index = ContractIndex.build([("a.sol", data, tree.root_node)])
    last = index.find("C199")
    assert last is not None and len(index.linearisation(last)) == 64  # MAX_BASES


def test_struct_fields_are_storage_and_mapping_entries_are_not(tmp_path: Path) -> None:
    (tmp_path / "a.sol").write_text(
        "pragma solidity ^0.8.0;\n"
        "contract A {\n"
        "    struct Config { address target; }\n"
        "    Config config;\n"
        "    mapping(address => address) hooks;\n"
        "    function setTarget(address t) external { config.target = t; }\n"
        "    function setHook(address h) external { hooks[msg.sender] = h; }\n"
        '    function run() external { config.target.delegatecall(""); }\n'
        '    function hook(address who) external { hooks[who].delegatecall(""); }\n'
        "}\n"
    )
    result = run_flow(tmp_path)
    assert [(f.line_number, f.cwe, f.function) for f in result.findings] == [
        (6, "CWE-829", "A.setTarget")
    ]
    (finding,) = result.findings
    assert [s.description for s in finding.path][1:3] == [
        "stored in state variable config.target",
        "read from state variable config.target",
    ]


def test_a_base_function_is_judged_in_every_contract_deriving_it(tmp_path: Path) -> None:
    root = copy_fixture(TREE, tmp_path)
    for name in list(root.glob("app/*.sol")):
        if name.name not in ("SafeProxy.sol", "OpenProxy.sol"):
            name.unlink()
    upgrade = ("proxy/Upgradeable.sol", 10, "CWE-829", SOL + "delegatecall-untrusted-target")
    assert _found(root) == {upgrade}  # OpenProxy's empty _authorizeUpgrade()
    (root / "app" / "OpenProxy.sol").unlink()
    assert _found(root) == set()  # SafeProxy's is onlyOwner (Ownable.sol)
    (root / "app" / "SafeProxy.sol").unlink()
    assert _found(root) == set()  # the hook alone: whoever derives may check there


def test_a_hook_whose_value_is_used_is_no_check(tmp_path: Path) -> None:
    (tmp_path / "a.sol").write_text(
        "pragma solidity ^0.8.0;\n"
        "abstract contract Vault {\n"
        "    function totalAssets() public view virtual returns (uint256);\n"
        "    function _authorize() internal virtual;\n"
        "    function take(address t) external {\n"
        '        if (totalAssets() > 0) { t.delegatecall(""); }\n'
        "    }\n"
        "    function admin(address t) external {\n"
        "        _authorize();\n"
        '        t.delegatecall("");\n'
        "    }\n"
        "}\n"
    )
    assert _found(tmp_path) == {("a.sol", 6, "CWE-829", SOL + "delegatecall-untrusted-target")}


def _index(files: dict[str, str]) -> ContractIndex:
    parsed = []
    for path, text in files.items():
        tree, data = parse_text(text, "solidity")
        parsed.append((path, data, tree.root_node))
    return ContractIndex.build(parsed)


def test_dense_inheritance_graphs_cost_work_linear_in_their_size() -> None:
    from vulnsight.dataflow.sol_contracts import MAX_BASES, MAX_DIRECT

    # one file, contract k inheriting C0..Ck-1 (was 125 s at 300: C3 rebuilt its tails)
    n = 300
    text = "".join(
        f"contract C{k}" + (" is " + ", ".join(f"C{j}" for j in range(k)) if k else "") + " {}\n"
        for k in range(n)
    )
    index = _index({"dag.sol": text})
    last = index.find(f"C{n - 1}")
    assert last is not None
    lin = [c.name for c in index.linearisation(last)]
    assert len(lin) == MAX_BASES and lin[:3] == [f"C{n - 1}", f"C{n - 2}", f"C{n - 3}"]
    small = index.find("C5")
    assert small is not None  # few bases: still C3
    assert [c.name for c in index.linearisation(small)] == ["C5", "C4", "C3", "C2", "C1", "C0"]
    for group in index.by_name.values():
        index.linearisation(group[0])
    bound = n * MAX_BASES * (MAX_DIRECT + 2)
    assert index.work <= bound
    # layers, each contract inheriting every contract of the layer above (was > 900 s)
    width, depth = 40, 12
    layers = []
    for layer in range(depth):
        for i in range(width):
            above = ", ".join(f"L{layer - 1}_{j}" for j in range(width)) if layer else ""
            layers.append(f"contract L{layer}_{i}" + (f" is {above}" if above else "") + " {}\n")
    index = _index({"layers.sol": "".join(layers)})
    for group in index.by_name.values():
        assert len(index.linearisation(group[0])) <= MAX_BASES
    assert index.work <= width * depth * MAX_BASES * (MAX_DIRECT + 2)


_GUARD_FILE = (
    "pragma solidity ^0.8.0;\ncontract V {\n address owner;\n"
    " modifier onlyOwner() { BODY _; }\n"
    " function kill() public onlyOwner { selfdestruct(payable(msg.sender)); }\n}\n"
)


@pytest.mark.parametrize(
    ("body", "guards"),
    [
        ("/* require(msg.sender == owner); */", False),
        ("// require(msg.sender == owner)\n", False),
        ('string memory s = "require(msg.sender == owner)";', False),
        ("require(msg.sender == msg.sender);", False),
        ("require(_msgSender() == _msgSender());", False),
        ("require(msg.sender == owner || true);", False),
        ("if (false) { require(msg.sender == owner); }", False),
        ("require(msg.sender != address(0));", False),
        ("require(msg.sender == tx.origin);", False),
        ("require(msg.sender == owner);", True),
        ('require(msg.sender == owner, "not the owner");', True),
        ("if (msg.sender != owner) revert();", True),
        ("if (true) { require(msg.sender == owner); } else {}", True),
    ],
)
def test_only_a_real_comparison_of_the_caller_is_a_guard(body: str, guards: bool) -> None:
    from vulnsight.dataflow.blind.sol_common import tests_caller

    index = _index({"V.sol": _GUARD_FILE.replace("BODY", body)})
    contract = index.find("V")
    assert contract is not None
    (kill,) = contract.functions["kill"]
    for text_guard in (tests_caller, load_spec("solidity").is_guarded):
        assert index.guarded(kill, "V.sol", text_guard) is guards


_OPEN = "contract Ownable {\n address owner;\n modifier onlyOwner() { _; }\n}\n"
_SHUT = (
    "contract Ownable {\n address owner;\n"
    " modifier onlyOwner() { require(msg.sender == owner); _; }\n}\n"
)
_KILL = " function kill() public onlyOwner { selfdestruct(payable(msg.sender)); }\n}\n"


@pytest.mark.parametrize(
    ("header", "base", "expected"),
    [
        ('import "./Ownable.sol";\n', "Ownable", "src/Ownable.sol"),
        ('import "../src/Ownable.sol";\n', "Ownable", "src/Ownable.sol"),
        ('import {Ownable as Own} from "./Ownable.sol";\n', "Own", "src/Ownable.sol"),
        ('import "./Lib.sol";\n', "Ownable", "src/Ownable.sol"),  # Lib.sol imports it
        ("", "Ownable", None),  # two candidates, none imported: unknown
    ],
)
def test_a_base_resolves_through_the_importing_files_imports(
    header: str, base: str, expected: str | None
) -> None:
    from vulnsight.dataflow.blind.sol_common import tests_caller

    index = _index(
        {
            "src/Ownable.sol": _OPEN,
            "a/mocks/Ownable.sol": _SHUT,
            "src/Lib.sol": 'import "./Ownable.sol";\ncontract Lib {}\n',
            "src/Vault.sol": header + f"contract Vault is {base} {{\n" + _KILL,
        }
    )
    vault = index.find("Vault")
    assert vault is not None
    found = index.find(base, "src/Vault.sol")
    assert (found.file if found is not None else None) == expected
    (kill,) = vault.functions["kill"]
    # the imported base's onlyOwner checks nothing; an ambiguous one is not trusted
    assert index.guarded(kill, "src/Vault.sol", tests_caller) is False


@pytest.mark.parametrize(
    ("body", "guards"),
    [
        ("_;", False),
        ("/* require(!initialized); */ _;", False),
        ("require(!initialized); initialized = true; _;", True),
        ("bool top = !_initializing; _initialized = 1; _;", True),
    ],
)
def test_an_initializer_guards_only_when_its_body_tests_or_sets_a_flag(
    body: str, guards: bool
) -> None:
    from vulnsight.dataflow.blind.sol_common import tests_caller

    text = (
        "contract V {\n bool initialized;\n modifier initializer() { " + body + " }\n"
        " function init(address a) public initializer { selfdestruct(payable(a)); }\n}\n"
    )
    index = _index({"V.sol": text})
    contract = index.find("V")
    assert contract is not None
    (init,) = contract.functions["init"]
    assert index.guarded(init, "V.sol", tests_caller) is guards
