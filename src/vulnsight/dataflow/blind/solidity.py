"""Solidity: reentrancy (an external call before the state write it should follow),
unprotected sensitive functions, arithmetic that wraps before 0.8 (or in `unchecked`),
and loops over growable state arrays that pay inside the loop."""

from __future__ import annotations

import re

from tree_sitter import Node

from vulnsight.dataflow.blind.base import Check, Hit, Reader, unwrap
from vulnsight.dataflow.blind.sol_common import (
    SolFunction,
    call_args,
    callee_text,
    functions,
    guards,
    recipient,
    sends_ether,
    tests_caller,
    version_at_least_08,
    written_base,
)
from vulnsight.dataflow.syntax import walk

REENTRANCY = Check(
    "reentrancy", "solidity", "CWE-841", "external call before the state write it guards", 0.88
)
ACCESS = Check(
    "missing-access-control",
    "solidity",
    "CWE-284",
    "anyone can call a function that pays out, self-destructs, mints or changes the owner",
    0.9,
)
ARITHMETIC = Check(
    "unchecked-arithmetic",
    "solidity",
    "CWE-190",
    "arithmetic on caller-controlled values that wraps (before 0.8, or in unchecked)",
    0.89,
)
DOS_LOOP = Check(
    "unbounded-loop-external-call",
    "solidity",
    "CWE-400",
    "a loop over a growable state array makes external calls",
    0.33,
)

_NON_REENTRANT = re.compile(r"nonReentrant|noReentran|lock|mutex|guard", re.I)
_PRIVILEGED = re.compile(r"^_?(?:owner|admin|administrator|governance|controller|operator|"
                         r"authority|minter|ceo|creator|pendingOwner)(?:Address|_address)?$",
                         re.I)  # fmt: skip
_OLD_STYLE_CONSTRUCTOR = re.compile(r"\bcontract\s+(\w+)")
_CALLER_IS = re.compile(r"msg\.sender\s*==\s*\w+|\w+\s*==\s*msg\.sender")


def _calls(fn: SolFunction) -> list[Node]:
    return [n for n in walk(fn.body) if n.type == "call_expression"] if fn.body else []


def reentrancy(reader: Reader, root: Node) -> list[Hit]:
    """A function that sends ether (or makes a low-level call) and afterwards writes a
    state variable it read before the call: a re-entrant call sees the old value."""
    hits: list[Hit] = []
    for fn in functions(reader, root):
        if fn.body is None or not fn.callable_by_anyone:
            continue
        if _non_reentrant(reader, fn) or _privileged_caller(reader, fn):
            continue
        sends = [c for c in _calls(fn) if sends_ether(reader, c)]
        if not sends:
            continue
        call = sends[0]
        read_before = {
            reader.text(n)
            for n in walk(fn.body)
            if n.type == "identifier" and n.start_byte < call.end_byte
        }
        for node in walk(fn.body):
            if node.start_byte < call.end_byte:
                continue
            write = written_base(reader, node)
            if write is None or not fn.is_state(write[0]) or write[0] not in read_before:
                continue
            steps = [
                (call, f"external call {callee_text(reader, call)[:50]}() hands control to "
                       f"{recipient(reader, call) or 'another contract'}"),
                (node, f"{write[0]} is written only after the call: {reader.text(node)[:50]}"),
            ]  # fmt: skip
            message = (
                f"{fn.name}() calls out before updating {write[0]}; a re-entrant call sees "
                f"the old value ({REENTRANCY.cwe})"
            )
            hits.append(reader.hit(REENTRANCY, steps, message, at=0))
            break
    return hits


def _non_reentrant(reader: Reader, fn: SolFunction) -> bool:
    """A `nonReentrant`-like modifier: by name, or a lock a base defines (a modifier that
    writes state before `_;` and again after it)."""
    if any(_NON_REENTRANT.search(m) for m in fn.modifiers):
        return True
    return reader.contracts is not None and reader.contracts.locks(fn.node, reader.file)


def _privileged_caller(reader: Reader, fn: SolFunction) -> bool:
    """Only an owner-like caller gets in (`onlyOwner`, `require(msg.sender == owner)`):
    a re-entrant call would come from that caller. Modifiers and helpers are resolved
    through the inheritance chain when the scan holds them."""
    if reader.contracts is not None:
        found = reader.contracts.guarded(
            fn.node,
            reader.file,
            lambda text: bool(_CALLER_IS.search(text)),
            unknown_modifier=lambda name: name.lower().startswith("only"),
        )
        if found is not None:
            return found
    if any(m.lower().startswith("only") for m in fn.modifiers):
        return True
    text = reader.text(fn.body) if fn.body is not None else ""
    return bool(_CALLER_IS.search(text))


def missing_access_control(reader: Reader, root: Node) -> list[Hit]:
    """A public function, with no modifier and no test of its caller, that changes the
    owner/admin, self-destructs, pays out the whole balance, mints, or pays the caller a
    fixed amount."""
    hits: list[Hit] = []
    contracts = set(_OLD_STYLE_CONSTRUCTOR.findall(reader.text(root)))
    for fn in functions(reader, root):
        if fn.body is None or not fn.callable_by_anyone or fn.name in contracts:
            continue
        if guards(reader, fn):
            continue
        found = _sensitive(reader, fn)
        if found is None:
            continue
        node, what = found
        steps = [(fn.node, f"{fn.name}() is {fn.visibility or 'public'} with no access check")]
        if reader.contracts is not None:
            for modifier in reader.contracts.unguarding_modifiers(
                fn.node, reader.file, tests_caller
            ):
                steps.append((fn.node, f"its modifier {modifier} does not check the caller"))
        steps.append((node, what))
        message = f"anyone can call {fn.name}(), which {what} ({ACCESS.cwe})"
        hits.append(reader.hit(ACCESS, steps, message))
    return hits


def _sensitive(reader: Reader, fn: SolFunction) -> tuple[Node, str] | None:
    conditional = any(
        n.type in ("if_statement", "revert_statement")
        or (n.type == "call_expression" and callee_text(reader, n) in ("require", "assert"))
        for n in walk(fn.body)
    ) if fn.body else True  # fmt: skip
    for node in walk(fn.body) if fn.body else ():
        write = written_base(reader, node)
        if write is not None and fn.is_state(write[0]) and _PRIVILEGED.match(write[0]):
            return node, f"sets {write[0]}"
        if node.type != "call_expression":
            continue
        callee = callee_text(reader, node)
        if callee in ("selfdestruct", "suicide"):
            return node, f"calls {callee}()"
        minting = callee == "_mint" or (callee == "mint" and fn.name.lower() != "mint")
        if minting and _chosen_amount(reader, node, fn):
            return node, "mints tokens"
        if sends_ether(reader, node):
            amount = " ".join(reader.text(a) for a in call_args(node)) + callee
            if re.search(r"address\s*\(\s*this\s*\)\s*\.balance|this\.balance", amount):
                return node, "sends the contract's whole balance"
            if not conditional and re.search(r"\d", amount) and "[" not in amount:
                return node, f"pays {recipient(reader, node)} a fixed amount"
    return None


def _chosen_amount(reader: Reader, call: Node, fn: SolFunction) -> bool:
    """Whether a mint's amount is the caller's choice (a parameter) or a literal anyone
    can claim again and again; an amount the contract computes from what was deposited
    (Uniswap's `_mint(to, liquidity)`, `_mint(address(0), MINIMUM_LIQUIDITY)`) is not."""
    args = call_args(call)
    if not args:
        return True
    names = {reader.text(n) for n in walk(args[-1]) if n.type == "identifier"}
    return not names or bool(names & fn.params)


def unchecked_arithmetic(reader: Reader, root: Node) -> list[Hit]:
    """`+ - *` (and `+= -= *=`) on a parameter (`msg.value` only in `*`) with no test first,
    in a file before Solidity 0.8 (or without SafeMath), or inside `unchecked { }`."""
    checked = version_at_least_08(reader, root)
    hits: list[Hit] = []
    for fn in functions(reader, root):
        if fn.body is None or not fn.callable_by_anyone or _privileged_caller(reader, fn):
            continue
        constants: dict[str, int] = {}
        tested: set[str] = set()
        for node in walk(fn.body):
            if node.type == "variable_declaration_statement":
                _note_constant(reader, node, constants)
            if _is_test(reader, node):
                tested.update(_names(reader, node))
                continue
            if checked and not _in_unchecked(node, fn.body):
                if node.type in ("binary_expression", "augmented_assignment_expression"):
                    # checked arithmetic reverts on overflow: its operands are tested
                    tested.update(_names(reader, node))
                continue
            found = _wrapping(reader, node, fn, constants, tested)
            if found is not None:
                hits.append(reader.hit(ARITHMETIC, [(node, found)], f"{found} ({ARITHMETIC.cwe})"))
                break
    return hits


def _note_constant(reader: Reader, node: Node, constants: dict[str, int]) -> None:
    decl = next((c for c in node.named_children if c.type == "variable_declaration"), None)
    value = unwrap(node.child_by_field_name("value"))
    if decl is None or value is None or value.type != "number_literal":
        return
    name = decl.child_by_field_name("name")
    if name is not None and reader.text(value).isdigit():
        constants[reader.text(name)] = int(reader.text(value))


def _is_test(reader: Reader, node: Node) -> bool:
    if node.type == "if_statement":
        return True
    if node.type != "call_expression":
        return False
    if callee_text(reader, node) not in ("require", "assert"):
        return False
    # `require(balance - value >= 0)` holds for every uint: it tests nothing
    return not re.search(r"-[^;]*>=\s*0\s*\)?$", reader.text(node).rstrip(")").strip())


def _names(reader: Reader, node: Node) -> set[str]:
    cond = node.child_by_field_name("condition") if node.type == "if_statement" else node
    return {
        reader.text(n) for n in walk(cond or node) if n.type in ("identifier", "member_expression")
    }


def _in_unchecked(node: Node, body: Node) -> bool:
    parent = node.parent
    while parent is not None and parent != body:
        if (
            parent.type == "block_statement"
            and parent.children
            and parent.children[0].type == "unchecked"
        ):
            return True
        parent = parent.parent
    return False


def _wrapping(
    reader: Reader, node: Node, fn: SolFunction, constants: dict[str, int], tested: set[str]
) -> str | None:
    if node.type == "augmented_assignment_expression":
        op = reader.text(node.children[1]) if node.child_count > 2 else ""
        if op not in ("+=", "-=", "*="):
            return None
        operands = [
            unwrap(node.child_by_field_name("left")),
            unwrap(node.child_by_field_name("right")),
        ]
    elif node.type == "binary_expression":
        op_node = node.child_by_field_name("operator")
        op = reader.text(op_node) if op_node is not None else ""
        if op not in ("+", "-", "*"):
            return None
        operands = [
            unwrap(node.child_by_field_name("left")),
            unwrap(node.child_by_field_name("right")),
        ]
    else:
        return None
    texts = [reader.text(o) for o in operands if o is not None]
    # msg.value is bounded by the ether in existence: adding it to a balance cannot wrap
    controlled = [t for t in texts if t in fn.params or (t == "msg.value" and op == "*")]
    if (
        controlled
        and not any(t in tested for t in controlled)
        and not any(t in tested for t in texts)
    ):
        return f"{reader.text(node)[:60]} can wrap: {controlled[0]} is chosen by the caller"
    left, right = texts[0] if texts else "", texts[-1] if texts else ""
    if (
        op.startswith("-")
        and left in constants
        and right.isdigit()
        and int(right) > constants[left]
    ):
        return f"{reader.text(node)[:60]} wraps below zero: {left} is {constants[left]}"
    return None


def unbounded_loop_external_call(reader: Reader, root: Node) -> list[Hit]:
    """A loop whose bound is a state array's length and whose body pays or calls out:
    once the array is long enough (anyone can grow it), the function cannot finish, and
    one failing recipient blocks everyone."""
    hits: list[Hit] = []
    for fn in functions(reader, root):
        if fn.body is None:
            continue
        for loop in walk(fn.body):
            if loop.type not in ("for_statement", "while_statement"):
                continue
            cond = loop.child_by_field_name("condition")
            if cond is None:
                cond = next(
                    (c for c in loop.named_children if c.type == "expression_statement"), None
                )
            lengths = [
                n
                for n in (walk(cond) if cond is not None else ())
                if n.type == "member_expression" and reader.text(n).endswith(".length")
            ]
            arrays = [reader.name_of(n.named_children[0]) for n in lengths if n.named_children]
            arrays = [a for a in arrays if fn.is_state(a.split("[")[0].split(".")[0])]
            if not arrays:
                continue
            body = loop.child_by_field_name("body") or loop.named_children[-1]
            call = next(
                (c for c in walk(body) if c.type == "call_expression" and sends_ether(reader, c)),
                None,
            )
            if call is None:
                continue
            steps = [
                (cond or loop, f"the loop runs over every element of {arrays[0]}"),
                (call, f"{callee_text(reader, call)[:50]}() calls out on each iteration"),
            ]
            message = (
                f"{fn.name}() loops over {arrays[0]} with an external call inside: a long "
                f"array or one failing recipient blocks it ({DOS_LOOP.cwe})"
            )
            hits.append(reader.hit(DOS_LOOP, steps, message))
    return hits
