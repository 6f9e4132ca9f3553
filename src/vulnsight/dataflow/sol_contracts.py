"""Solidity contracts across the scanned files: bases, modifiers, functions, state.

A contract inherits modifiers, state variables and functions from its bases, often
defined in other files (`contract Vault is Ownable, ReentrancyGuard`). `ContractIndex`
reads every Solidity file of a scan once and answers what the checks and the taint
engine need about one function:

* whether it restricts its caller: its modifiers resolved through the inheritance chain
  (`onlyOwner` in Ownable.sol checks `msg.sender`; `whenNotPaused` in Pausable.sol does
  not), internal calls to a base's checking function (`_requireManager()`), each judged
  in the most-derived definition (a derived contract that overrides `_checkOwner()` with
  an empty body disables `onlyOwner`);
* the state variables it sees (its contract's and every base's);
* which contracts an inherited function runs in (its own and every derived contract
  that does not override it).

Linearisation is C3 where it exists, else every base, depth first. A base the scan does
not hold is unknown: a modifier that cannot be resolved still counts as a guard. Pure.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field

from tree_sitter import Node

#: Modifiers that make a function callable once (`initializer`): access control too.
_ONE_TIME = re.compile(r"^(?:re)?initiali[sz]er$|^onlyInitializ", re.I)
#: `msg.sender` (or `_msgSender()`) passed to a check: `hasRole(R, msg.sender)`.
_SENDER = re.compile(r"msg\.sender|_msgSender\s*\(\s*\)|tx\.origin")
#: Resolution depth for helpers calling helpers (`onlyOwner` -> `_checkOwner()`).
MAX_DEPTH = 3
#: Contracts kept per linearisation: real hierarchies are a few dozen deep at most; a
#: hostile file of thousands of contracts each deriving from the last stays linear.
MAX_BASES = 64
#: Derived contracts a base function is judged in (beyond its own contract).
MAX_CONTEXTS = 16
_CONTRACTS = frozenset({"contract_declaration", "library_declaration", "interface_declaration"})


def _walk(node: Node) -> Iterator[Node]:
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.named_children))


@dataclass(eq=False)
class Contract:
    """One contract (or library, interface) and what it declares itself."""

    name: str
    file: str
    data: bytes
    node: Node
    bases: tuple[str, ...]
    modifiers: dict[str, Node] = field(default_factory=dict)
    functions: dict[str, list[Node]] = field(default_factory=dict)  # name -> overloads
    state: frozenset[str] = frozenset()
    hooks: frozenset[str] = frozenset()  # functions declared without a body (`virtual;`)
    abstract: bool = False

    def text(self, node: Node) -> str:
        """The source text of a node of this contract's file."""
        return self.data[node.start_byte : node.end_byte].decode("utf-8", "replace")


#: A predicate over a function body's text: does it test its caller?
TextGuard = Callable[[str], bool]


class ContractIndex:
    """Every contract of a scan, by name. Build it with `ContractIndex.build`."""

    def __init__(self, contracts: Iterable[Contract]) -> None:
        self.by_name: dict[str, list[Contract]] = {}
        for contract in contracts:
            self.by_name.setdefault(contract.name, []).append(contract)
        self._lin: dict[int, list[Contract]] = {}
        self._derived: dict[int, list[Contract]] | None = None
        self._state: dict[int, frozenset[str]] = {}

    @classmethod
    def build(cls, files: Iterable[tuple[str, bytes, Node]]) -> ContractIndex:
        """The index of `(path, bytes, root node)` of each Solidity file."""
        found: list[Contract] = []
        for path, data, root in files:
            for node in _walk(root):
                if node.type in _CONTRACTS:
                    found.append(_contract(path, data, node))
        return cls(found)

    # --- lookups -------------------------------------------------------------------

    def find(self, name: str, file: str = "") -> Contract | None:
        """The contract called `name`, preferring one defined in `file`."""
        found = self.by_name.get(name, [])
        return next((c for c in found if c.file == file), found[0] if found else None)

    def owner_of(self, node: Node, file: str) -> Contract | None:
        """The contract whose body holds `node`."""
        parent = node.parent
        while parent is not None and parent.type not in _CONTRACTS:
            parent = parent.parent
        if parent is None:
            return None
        return next(
            (
                c
                for c in self.by_name.get(_name(parent), [])
                if c.file == file and c.node.start_byte == parent.start_byte
            ),
            None,
        )

    def linearisation(self, contract: Contract) -> list[Contract]:
        """`contract` and its bases, most derived first (C3; depth first where C3 fails)."""
        key = id(contract)
        if key not in self._lin:
            self._lin[key] = [contract]  # a cycle sees the contract alone
            self._lin[key] = self._linearise(contract)[:MAX_BASES]
        return self._lin[key]

    def _linearise(self, contract: Contract) -> list[Contract]:
        # Solidity lists bases most basic first: C3 merges them right to left
        bases = [b for b in (self.find(n, contract.file) for n in contract.bases) if b]
        if len(bases) == 1:  # single inheritance: the base's order, most of real code
            return [contract] + [c for c in self.linearisation(bases[0]) if c is not contract]
        sequences = [list(self.linearisation(b)) for b in reversed(bases)]
        sequences.append(list(reversed(bases)))
        merged: list[Contract] = [contract]
        while any(sequences):
            tails = {id(c) for seq in sequences for c in seq[1:]}
            head = next((seq[0] for seq in sequences if seq and id(seq[0]) not in tails), None)
            if head is None:  # no C3 order: every base once, depth first
                rest = [c for seq in sequences for c in seq]
                return merged + [c for c in dict.fromkeys(rest) if c not in merged]
            merged.append(head)
            sequences = [seq[1:] if seq and seq[0] is head else seq for seq in sequences]
        return merged

    def derived(self, contract: Contract) -> list[Contract]:
        """The contracts of the scan that inherit `contract` (directly or not)."""
        if self._derived is None:
            self._derived = {}
            for group in self.by_name.values():
                for child in group:
                    for base in self.linearisation(child)[1:]:
                        self._derived.setdefault(id(base), []).append(child)
        return self._derived.get(id(contract), [])

    def related(self, one: Contract, other: Contract) -> bool:
        """Whether one contract inherits the other (or they are the same)."""
        return one in self.linearisation(other) or other in self.linearisation(one)

    def contexts(self, contract: Contract, function: str) -> list[Contract]:
        """The contracts a function of `contract` runs in: its own, and every derived
        contract whose linearisation does not override it first."""
        found = [contract]
        for derived in self.derived(contract)[:MAX_CONTEXTS]:
            for base in self.linearisation(derived):
                if base is contract:
                    found.append(derived)
                    break
                if function in base.functions:
                    break
        if contract.abstract and len(found) > 1:
            return found[1:]  # an abstract contract runs only as the contracts deriving it
        return found

    def function(self, context: Contract, name: str) -> tuple[Contract, list[Node]] | None:
        """The most-derived definitions (overloads) of function `name` from `context`."""
        for base in self.linearisation(context):
            if name in base.functions:
                return base, base.functions[name]
        return None

    def modifier(self, context: Contract, name: str) -> tuple[Contract, Node] | None:
        """The most-derived definition of modifier `name` seen from `context`."""
        for base in self.linearisation(context):
            if name in base.modifiers:
                return base, base.modifiers[name]
        return None

    def state_variables(self, context: Contract) -> frozenset[str]:
        """The state variables `context` declares or inherits."""
        key = id(context)
        if key not in self._state:
            self._state[key] = frozenset().union(*(c.state for c in self.linearisation(context)))
        return self._state[key]

    # --- guards ----------------------------------------------------------------------

    def guarded(
        self,
        node: Node,
        file: str,
        text_guard: TextGuard,
        unknown_modifier: Callable[[str], bool] = lambda _name: True,
    ) -> bool | None:
        """Whether a function restricts its caller in every contract it runs in; None
        when the function is in no contract the index knows."""
        contract = self.owner_of(node, file)
        if contract is None:
            return None
        name_node = node.child_by_field_name("name")
        name = contract.text(name_node) if name_node is not None else ""
        return all(
            self._guarded_in(node, contract, context, text_guard, unknown_modifier)
            for context in self.contexts(contract, name)
        )

    def unguarding_modifiers(self, node: Node, file: str, text_guard: TextGuard) -> list[str]:
        """Modifiers of a function that resolve to definitions that do not test the
        caller (`whenNotPaused`), with where they are defined: for a finding's path."""
        contract = self.owner_of(node, file)
        found: list[str] = []
        if contract is None:
            return found
        for name in _modifier_names(contract, node):
            resolved = self.modifier(contract, name)
            if resolved is None or _ONE_TIME.match(name):
                continue
            base, definition = resolved
            if not self._body_guards(base, definition, contract, text_guard, _yes, 0):
                found.append(f"{name} ({base.file})")
        return found

    def locks(self, node: Node, file: str) -> bool:
        """Whether one of a function's modifiers resolves to a re-entrancy lock: a body
        that writes state before `_;` and again after it."""
        contract = self.owner_of(node, file)
        if contract is None:
            return False
        for name in _modifier_names(contract, node):
            resolved = self.modifier(contract, name)
            if resolved is not None and _is_lock(*resolved):
                return True
        return False

    def _guarded_in(
        self,
        node: Node,
        contract: Contract,
        context: Contract,
        text_guard: TextGuard,
        unknown_modifier: Callable[[str], bool],
        depth: int = 0,
    ) -> bool:
        """Whether a function (or a helper it calls) restricts its caller when it runs in
        `context`: a modifier, or its body."""
        for name in _modifier_names(contract, node):
            resolved = self.modifier(context, name)
            if resolved is None:
                if unknown_modifier(name):
                    return True
                continue
            if _ONE_TIME.match(name):
                return True
            base, definition = resolved
            if self._body_guards(base, definition, context, text_guard, unknown_modifier, depth):
                return True
        return self._body_guards(contract, node, context, text_guard, unknown_modifier, depth)

    def _body_guards(
        self,
        owner: Contract,
        node: Node,
        context: Contract,
        text_guard: TextGuard,
        unknown_modifier: Callable[[str], bool],
        depth: int,
    ) -> bool:
        """Whether a function or modifier body tests its caller: in its own text, or in a
        callee resolved here (its modifiers included: an override `_authorizeUpgrade(...)
        internal override onlyOwner {}`). A call made as a statement of its own
        (`_checkOwner();`) is judged by its most-derived definitions only (its name is
        masked from the text: an override with an empty body checks nothing); a call whose
        value is used (`owner() != _msgSender()`, `require(isOwner())`) stays in the text
        as well. A statement call of a hook no contract here implements (`virtual;` only)
        may be the check a deriving contract adds: it counts as one (a hook whose value is
        used, `totalAssets()`, does not)."""
        body = node.child_by_field_name("body")
        if body is None:
            return False
        text = bytearray(owner.data[body.start_byte : body.end_byte])
        resolved: list[tuple[Node, Contract, list[Node]]] = []
        lineage = self.linearisation(context)
        for call in _walk(body):
            if call.type != "call_expression" or not call.named_children:
                continue
            callee = _unwrap(call.named_children[0])
            if callee is None or callee.type != "identifier":
                continue
            name = owner.text(callee)
            target = self.function(context, name)
            if target is None:
                if _is_statement(call) and any(name in c.hooks for c in lineage):
                    return True  # `_authorizeUpgrade(x);`: called for its checks alone
                continue
            resolved.append((call, *target))
            if _is_statement(call):
                start, end = callee.start_byte - body.start_byte, callee.end_byte - body.start_byte
                text[start:end] = b" " * (end - start)
        if text_guard(text.decode("utf-8", "replace")):
            return True
        if depth >= MAX_DEPTH:
            return False
        for call, base, definitions in resolved:
            call_text = owner.text(call)
            if _SENDER.search(call_text) and text_guard(call_text):
                return True  # hasRole(ROLE, msg.sender): the check is the call itself
            for definition in definitions:
                if self._guarded_in(
                    definition, base, context, text_guard, unknown_modifier, depth + 1
                ):
                    return True
        return False


def _yes(_name: str) -> bool:
    return True


def _is_statement(call: Node) -> bool:
    """Whether a call is a statement of its own (its value unused)."""
    parent = call.parent
    while parent is not None and parent.type == "expression":
        parent = parent.parent
    return parent is not None and parent.type == "expression_statement"


def _contract(path: str, data: bytes, node: Node) -> Contract:
    def text(n: Node) -> str:
        return data[n.start_byte : n.end_byte].decode("utf-8", "replace")

    bases = tuple(
        text(ancestor)
        for spec in node.named_children
        if spec.type == "inheritance_specifier"
        for ancestor in [spec.child_by_field_name("ancestor")]
        if ancestor is not None
    )
    contract = Contract(_name(node), path, data, node, tuple(b.split(".")[-1] for b in bases))
    body = node.child_by_field_name("body")
    state: set[str] = set()
    hooks: set[str] = set()
    for member in body.named_children if body is not None else ():
        name = member.child_by_field_name("name")
        if name is None:
            continue
        if member.type == "state_variable_declaration":
            state.add(text(name))
        elif member.child_by_field_name("body") is None:
            if member.type == "function_definition" and node.type != "interface_declaration":
                hooks.add(text(name))  # `virtual;`: a deriving contract implements it
            continue
        elif member.type == "modifier_definition":
            contract.modifiers[text(name)] = member
        elif member.type == "function_definition":
            contract.functions.setdefault(text(name), []).append(member)
    contract.state = frozenset(state)
    contract.hooks = frozenset(hooks)
    contract.abstract = any(c.type == "abstract" for c in node.children)
    return contract


def _name(node: Node) -> str:
    name = node.child_by_field_name("name")
    return name.text.decode("utf-8", "replace") if name is not None and name.text else ""


def _modifier_names(contract: Contract, node: Node) -> list[str]:
    return [
        contract.text(c).split("(")[0].strip()
        for c in node.named_children
        if c.type == "modifier_invocation"
    ]


def _unwrap(node: Node | None) -> Node | None:
    while node is not None and node.type == "expression" and node.named_child_count == 1:
        node = node.named_children[0]
    return node


def _is_lock(owner: Contract, node: Node) -> bool:
    body = node.child_by_field_name("body")
    if body is None:
        return False
    placeholder = next(
        (n for n in _walk(body) if n.type == "identifier" and owner.text(n) == "_"), None
    )
    if placeholder is None:
        return False
    before: set[str] = set()
    after: set[str] = set()
    for n in _walk(body):
        if n.type == "assignment_expression" and n.named_child_count:
            name = owner.text(n.named_children[0]).strip()
            (before if n.start_byte < placeholder.start_byte else after).add(name)
    return bool(before & after)
