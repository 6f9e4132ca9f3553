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

A base's name resolves through the file's `import` directives (relative paths, `{A as
B}` aliases, imports of imports), then the file itself, then the only contract of that
name in the scan. Linearisation is C3 where it exists (bounded work: at most MAX_DIRECT
bases merged, MAX_BASES kept), else breadth first. A base the scan does not hold is
unknown: a modifier that cannot be resolved still counts as a guard, unless a base of the
chain is ambiguous (a mock and the real one, neither imported): then it does not.
Guards are read with comments, strings, constant-false branches, `|| true` and
comparisons of the caller with itself, `tx.origin` or a literal blanked. Pure.
"""

from __future__ import annotations

import posixpath
import re
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from tree_sitter import Node

from vulnsight.dataflow.syntax import walk

#: Modifiers that make a function callable once (`initializer`): access control too.
_ONE_TIME = re.compile(r"^(?:re)?initiali[sz]er$|^onlyInitializ", re.I)
#: An initializer's body testing or setting its flag: `require(!initialized)`,
#: `_initialized = 1`, `_checkInitializing()`.
_INIT_CHECK = re.compile(
    r"\b(?:require|assert|revert|if)\b[^;]*initiali[sz]|initiali[sz]\w*\s*\(|"
    r"initiali[sz]\w*\s*=[^=]",
    re.I,
)
#: `msg.sender` (or `_msgSender()`) passed to a check: `hasRole(R, msg.sender)`.
_SENDER = re.compile(r"msg\.sender|_msgSender\s*\(\s*\)|tx\.origin")
#: Resolution depth for helpers calling helpers (`onlyOwner` -> `_checkOwner()`).
MAX_DEPTH = 3
#: Contracts kept per linearisation: real hierarchies are a few dozen deep at most; a
#: hostile file of thousands of contracts each deriving from the last stays linear.
MAX_BASES = 64
#: Derived contracts a base function is judged in (beyond its own contract).
MAX_CONTEXTS = 16
#: Direct bases C3 merges; a contract listing more is ordered breadth first instead
#: (C3 over k bases of 64 each costs k * 64 per contract: a hostile file of thousands of
#: contracts each listing hundreds of bases would not finish).
MAX_DIRECT = 24
#: Files followed through `import` directives when resolving a base's name.
MAX_IMPORTS = 256
_CONTRACTS = frozenset({"contract_declaration", "library_declaration", "interface_declaration"})


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

    def __init__(
        self, contracts: Iterable[Contract], imports: dict[str, Imports] | None = None
    ) -> None:
        self.by_name: dict[str, list[Contract]] = {}
        for contract in contracts:
            self.by_name.setdefault(contract.name, []).append(contract)
        self.imports: dict[str, Imports] = imports or {}
        self._visible: dict[str, frozenset[str]] = {}
        self._bases: dict[int, list[Contract]] = {}
        self._ambiguous: set[int] = set()  # contracts with a base named more than once
        self._lin: dict[int, list[Contract]] = {}
        self._masked: dict[tuple[int, int], bytes] = {}
        #: Steps spent ordering bases (a bound the tests check: hostile inheritance).
        self.work = 0
        self._derived: dict[int, list[Contract]] | None = None
        self._state: dict[int, frozenset[str]] = {}

    @classmethod
    def build(cls, files: Iterable[tuple[str, bytes, Node]]) -> ContractIndex:
        """The index of `(path, bytes, root node)` of each Solidity file."""
        found: list[Contract] = []
        imports: dict[str, Imports] = {}
        for path, data, root in files:
            imports[path] = _imports(path, data, root)
            for node in walk(root):
                if node.type in _CONTRACTS:
                    found.append(_contract(path, data, node))
        return cls(found, imports)

    # --- lookups -------------------------------------------------------------------

    def find(self, name: str, file: str = "") -> Contract | None:
        """The contract called `name` as `file` sees it: through its imports, then in
        the file itself, then the only one of the scan; None when unknown or ambiguous."""
        return self._resolve(name, file)[0]

    def _resolve(self, name: str, file: str) -> tuple[Contract | None, bool]:
        """The contract `name` names in `file`, and whether several could be meant."""
        imports = self.imports.get(file)
        if imports is not None:
            name = imports.aliases.get(name, name)
        found = self.by_name.get(name, [])
        if not found:
            return None, False
        visible = self.visible(file)
        imported = [c for c in found if c.file in visible]
        if len(imported) == 1:
            return imported[0], False
        if imported:
            return None, True
        here = [c for c in found if c.file == file]
        if here:
            return here[0], False
        if len(found) == 1:
            return found[0], False
        return None, True  # a mock and the real one, neither imported: do not guess

    def visible(self, file: str) -> frozenset[str]:
        """The other files `file` imports, directly or through the files it imports."""
        if file not in self._visible:
            seen: set[str] = set()
            queue = deque(self._import_targets(file))
            while queue and len(seen) < MAX_IMPORTS:
                target = queue.popleft()
                if target in seen or target == file:
                    continue
                seen.add(target)
                queue.extend(self._import_targets(target))
            self._visible[file] = frozenset(seen)
        return self._visible[file]

    def _import_targets(self, file: str) -> list[str]:
        imports = self.imports.get(file)
        if imports is None:
            return []
        found: list[str] = []
        for source in imports.sources:
            if source.startswith("."):
                path = posixpath.normpath(posixpath.join(posixpath.dirname(file), source))
                if path in self.imports:
                    found.append(path)
                continue
            tails = [source] + ([source.split("/", 1)[1]] if "/" in source else [])
            for tail in tails:  # `@openzeppelin/contracts/...`: remapped, match the tail
                hits = [f for f in self.imports if f == tail or f.endswith("/" + tail)]
                if hits:
                    found.extend(hits)
                    break
        return found

    def bases(self, contract: Contract) -> list[Contract]:
        """The direct bases of `contract` the scan holds, resolved as its file sees them."""
        key = id(contract)
        if key not in self._bases:
            found: dict[int, Contract] = {}
            for name in contract.bases:
                base, ambiguous = self._resolve(name, contract.file)
                if ambiguous:
                    self._ambiguous.add(key)
                if base is not None and base is not contract:
                    found.setdefault(id(base), base)
            self._bases[key] = list(found.values())
        return self._bases[key]

    def ambiguous(self, context: Contract) -> bool:
        """Whether a contract of `context`'s chain names a base the scan defines more
        than once, none of them imported: its unresolved modifiers are not trusted."""
        lineage = self.linearisation(context)
        return any(id(c) in self._ambiguous for c in lineage)

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
        """`contract` and its bases, most derived first (C3; breadth first where C3
        fails or a contract lists more than MAX_DIRECT bases), at most MAX_BASES long.
        Computed bases first, without recursion, each contract once."""
        if id(contract) in self._lin:
            return self._lin[id(contract)]
        on_path = {id(contract)}
        stack: list[tuple[Contract, int]] = [(contract, 0)]
        while stack:
            current, index = stack[-1]
            bases = self.bases(current)
            while index < len(bases) and (
                id(bases[index]) in self._lin or id(bases[index]) in on_path
            ):
                index += 1  # a base on the path is a cycle: it is seen alone
            if index < len(bases):
                stack[-1] = (current, index + 1)
                on_path.add(id(bases[index]))
                stack.append((bases[index], 0))
                continue
            stack.pop()
            on_path.discard(id(current))
            self._lin[id(current)] = self._linearise(current, bases)[:MAX_BASES]
        return self._lin[id(contract)]

    def _linearise(self, contract: Contract, bases: list[Contract]) -> list[Contract]:
        # Solidity lists bases most basic first: C3 merges them right to left
        if not bases:
            return [contract]
        if len(bases) == 1:  # single inheritance: the base's order, most of real code
            lin = self._lin.get(id(bases[0]), [bases[0]])
            self.work += len(lin)
            return [contract] + [c for c in lin if c is not contract]
        if len(bases) > MAX_DIRECT:
            return self._breadth_first(contract)
        sequences = [list(self._lin.get(id(b), [b])) for b in reversed(bases)]
        sequences.append(list(reversed(bases)))
        tails: dict[int, int] = {}  # how many sequences hold a contract past their head
        for seq in sequences:
            self.work += len(seq)
            for c in seq[1:]:
                tails[id(c)] = tails.get(id(c), 0) + 1
        starts = [0] * len(sequences)
        merged: list[Contract] = [contract]
        seen = {id(contract)}
        while len(merged) < MAX_BASES:
            head: Contract | None = None
            pending = False
            for seq, start in zip(sequences, starts, strict=True):
                self.work += 1
                if start < len(seq):
                    pending = True
                    if not tails.get(id(seq[start]), 0):
                        head = seq[start]
                        break
            if not pending:
                break
            if head is None:  # no C3 order
                return self._breadth_first(contract)
            if id(head) not in seen:
                seen.add(id(head))
                merged.append(head)
            for i, seq in enumerate(sequences):
                if starts[i] < len(seq) and seq[starts[i]] is head:
                    starts[i] += 1
                    if starts[i] < len(seq):
                        tails[id(seq[starts[i]])] -= 1
        return merged

    def _breadth_first(self, contract: Contract) -> list[Contract]:
        """`contract`, its direct bases (most derived first), theirs, ...: at most
        MAX_BASES, each step adding a contract or skipping one of the <= MAX_BASES seen."""
        order = [contract]
        seen = {id(contract)}
        queue = deque([contract])
        while queue and len(order) < MAX_BASES:
            for base in reversed(self.bases(queue.popleft())):
                self.work += 1
                if id(base) not in seen:
                    seen.add(id(base))
                    order.append(base)
                    queue.append(base)
                    if len(order) >= MAX_BASES:
                        break
        return order

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
        memo: _Memo = {}
        return all(
            self._guarded_in(node, contract, context, text_guard, unknown_modifier, memo=memo)
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
            if resolved is None:
                continue
            base, definition = resolved
            if self._one_time(name, base, definition):
                continue
            if not self._body_guards(base, definition, contract, text_guard, _yes, 0, {}):
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
        memo: _Memo | None = None,
    ) -> bool:
        """Whether a function (or a helper it calls) restricts its caller when it runs in
        `context`: a modifier, or its body. Each (function, context, depth) is judged
        once per `memo` (a helper calling itself forty times is read once per depth)."""
        memo = {} if memo is None else memo
        key = (id(contract), node.start_byte, id(context), depth)
        if key not in memo:
            memo[key] = False  # a helper reached again while judged guards nothing more
            memo[key] = self._judge(
                node, contract, context, text_guard, unknown_modifier, depth, memo
            )
        return memo[key]

    def _judge(
        self,
        node: Node,
        contract: Contract,
        context: Contract,
        text_guard: TextGuard,
        unknown_modifier: Callable[[str], bool],
        depth: int,
        memo: _Memo,
    ) -> bool:
        for name in _modifier_names(contract, node):
            resolved = self.modifier(context, name)
            if resolved is None:
                if unknown_modifier(name) and not self.ambiguous(context):
                    return True
                continue
            base, definition = resolved
            if self._one_time(name, base, definition):
                return True
            if self._body_guards(
                base, definition, context, text_guard, unknown_modifier, depth, memo
            ):
                return True
        return self._body_guards(contract, node, context, text_guard, unknown_modifier, depth, memo)

    def _body_guards(
        self,
        owner: Contract,
        node: Node,
        context: Contract,
        text_guard: TextGuard,
        unknown_modifier: Callable[[str], bool],
        depth: int,
        memo: _Memo,
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
        text = bytearray(self.masked(owner, body))
        resolved: list[tuple[Node, Contract, list[Node]]] = []
        lineage = self.linearisation(context)
        for call in walk(body):
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
        masked = self.masked(owner, body)
        for call, base, definitions in resolved:
            start, end = call.start_byte - body.start_byte, call.end_byte - body.start_byte
            call_text = masked[start:end].decode("utf-8", "replace")
            if _SENDER.search(call_text) and text_guard(call_text):
                return True  # hasRole(ROLE, msg.sender): the check is the call itself
            for definition in definitions:
                if self._guarded_in(
                    definition, base, context, text_guard, unknown_modifier, depth + 1, memo
                ):
                    return True
        return False

    def _one_time(self, name: str, owner: Contract, definition: Node) -> bool:
        """Whether a modifier is a one-time `initializer`: by its name, and a body that
        checks or sets an initialized flag (`initializer() { _; }` guards nothing)."""
        body = definition.child_by_field_name("body")
        if not _ONE_TIME.match(name) or body is None:
            return False
        return bool(_INIT_CHECK.search(self.masked(owner, body).decode("utf-8", "replace")))

    def masked(self, owner: Contract, body: Node) -> bytes:
        """A body's bytes with what never tests the caller blanked (same length):
        comments, string literals, branches under a constant `false`, `x || true`, and
        comparisons of the caller with itself, `tx.origin` or a literal
        (`msg.sender != address(0)`)."""
        key = (id(owner), body.start_byte)
        if key not in self._masked:
            self._masked[key] = _mask(owner, body)
        return self._masked[key]


_Memo = dict[tuple[int, int, int, int], bool]
#: The caller itself: `msg.sender`, `_msgSender()`.
_CALLER = re.compile(r"^(?:msg\.sender|_msgSender\s*\(\s*\))$")
#: What compared with the caller restricts nothing: itself, `tx.origin` (an EOA check),
#: a literal, the zero address.
_TRIVIAL = re.compile(
    r"^(?:msg\.sender|_msgSender\s*\(\s*\)|tx\.origin|true|false|\d+|0x0*|"
    r"(?:address|payable)\s*\(\s*(?:0x0*|0)\s*\)|\"[^\"]*\"|'[^']*')$"
)


def _bare(owner: Contract, node: Node | None) -> str:
    node = _unwrap(node)
    if node is None:
        return ""
    text = owner.text(node).strip()
    while text.startswith("(") and text.endswith(")"):
        text = text[1:-1].strip()
    return text


def _mask(owner: Contract, body: Node) -> bytes:
    text = bytearray(owner.data[body.start_byte : body.end_byte])

    def blank(node: Node | None) -> None:
        if node is not None:
            start, end = node.start_byte - body.start_byte, node.end_byte - body.start_byte
            text[start:end] = bytes(b if b == 10 else 32 for b in text[start:end])

    for node in walk(body):
        if node.type in ("comment", "string_literal", "string", "hex_string_literal"):
            blank(node)
        elif node.type == "if_statement":
            condition = _bare(owner, node.child_by_field_name("condition"))
            branches = node.children_by_field_name("body")
            if condition == "false" and branches:
                blank(branches[0])
            elif condition == "true" and len(branches) > 1:
                blank(branches[1])
        elif node.type == "binary_expression":
            op = node.child_by_field_name("operator")
            operator = owner.text(op) if op is not None else ""
            left = _bare(owner, node.child_by_field_name("left"))
            right = _bare(owner, node.child_by_field_name("right"))
            constant_true = operator == "||" and "true" in (left, right)
            with_itself = operator in ("==", "!=") and bool(
                (_CALLER.match(left) and _TRIVIAL.match(right))
                or (_CALLER.match(right) and _TRIVIAL.match(left))
            )
            if constant_true or with_itself:
                blank(node)
    return bytes(text)


def _yes(_name: str) -> bool:
    return True


def _is_statement(call: Node) -> bool:
    """Whether a call is a statement of its own (its value unused)."""
    parent = call.parent
    while parent is not None and parent.type == "expression":
        parent = parent.parent
    return parent is not None and parent.type == "expression_statement"


@dataclass(frozen=True)
class Imports:
    """A file's `import` directives: the paths it names, and its `{A as B}` aliases."""

    sources: tuple[str, ...] = ()
    aliases: dict[str, str] = field(default_factory=dict)


def _imports(path: str, data: bytes, root: Node) -> Imports:
    del path
    sources: list[str] = []
    aliases: dict[str, str] = {}
    for node in root.named_children:
        if node.type != "import_directive":
            continue
        source = node.child_by_field_name("source")
        if source is not None:
            sources.append(
                data[source.start_byte : source.end_byte].decode("utf-8", "replace").strip("\"'")
            )
        original: str | None = None
        for i in range(node.child_count):
            child = node.children[i]
            field_name = node.field_name_for_child(i)
            text = data[child.start_byte : child.end_byte].decode("utf-8", "replace")
            if field_name == "import_name":
                original = text
            elif field_name == "alias" and original is not None:
                aliases[text] = original
                original = None
    return Imports(tuple(sources), aliases)


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
        (n for n in walk(body) if n.type == "identifier" and owner.text(n) == "_"), None
    )
    if placeholder is None:
        return False
    before: set[str] = set()
    after: set[str] = set()
    for n in walk(body):
        if n.type == "assignment_expression" and n.named_child_count:
            name = owner.text(n.named_children[0]).strip()
            (before if n.start_byte < placeholder.start_byte else after).add(name)
    return bool(before & after)
