"""What the Solidity checks read off a function: its parameters and locals, its
modifiers, the ether-sending calls it makes, the state it writes, and the compiler
version the file asks for."""

from __future__ import annotations

import re
from dataclasses import dataclass

from tree_sitter import Node

from vulnsight.dataflow.blind.base import Reader, unwrap
from vulnsight.dataflow.syntax import walk

#: Writes: `x = ...`, `x += ...`, `x++`, `delete x`.
_WRITES = frozenset(
    {"assignment_expression", "augmented_assignment_expression", "update_expression"}
)
_VALUE_CALL = re.compile(r"\.call(?:\s*\.value|\s*\{[^}]*\bvalue\s*:[^}]*\})?$")
_SEND = re.compile(r"\.(?:send|transfer)$")


@dataclass(frozen=True)
class SolFunction:
    """One function's outline."""

    node: Node
    name: str
    params: frozenset[str]
    locals: frozenset[str]
    modifiers: tuple[str, ...]
    visibility: str  # public, external, internal, private, or "" (public before 0.5)
    mutability: str  # view, pure, payable, constant or ""
    body: Node | None

    @property
    def callable_by_anyone(self) -> bool:
        """Public or external, not view/pure."""
        return self.visibility in ("", "public", "external") and self.mutability not in (
            "view", "pure", "constant"
        )  # fmt: skip

    def is_state(self, name: str) -> bool:
        """Whether `name` is neither a parameter nor a local (so a state variable)."""
        return bool(name) and name not in self.params and name not in self.locals


def functions(reader: Reader, root: Node) -> list[SolFunction]:
    """Every function (not constructors, modifiers or fallbacks) under `root`."""
    found = []
    for node in walk(root):
        if node.type != "function_definition":
            continue
        name = node.child_by_field_name("name")
        params = frozenset(
            reader.text(p.child_by_field_name("name") or p)
            for p in node.named_children
            if p.type == "parameter" and p.child_by_field_name("name") is not None
        )
        body = node.child_by_field_name("body")
        local_names = frozenset(
            reader.text(d.child_by_field_name("name") or d)
            for d in (walk(body) if body is not None else ())
            if d.type == "variable_declaration" and d.child_by_field_name("name") is not None
        )
        kinds = {c.type: reader.text(c) for c in node.named_children}
        found.append(
            SolFunction(
                node=node,
                name=reader.text(name) if name is not None else "",
                params=params,
                locals=local_names,
                modifiers=tuple(
                    reader.text(c).split("(")[0].strip()
                    for c in node.named_children
                    if c.type == "modifier_invocation"
                ),
                visibility=kinds.get("visibility", ""),
                mutability=kinds.get("state_mutability", ""),
                body=body,
            )
        )
    return found


def callee_text(reader: Reader, call: Node) -> str:
    """The called expression's text (`msg.sender.call.value`, `payable(a).transfer`)."""
    fn = unwrap(call.named_children[0]) if call.named_children else None
    return reader.text(fn) if fn is not None else ""


def call_args(call: Node) -> list[Node]:
    """A call's arguments."""
    return [c for c in call.named_children if c.type == "call_argument"]


def sends_ether(reader: Reader, call: Node) -> bool:
    """`a.call.value(v)(...)`, `a.call{value: v}(...)`, `a.call(...)`, `a.send(v)`,
    `a.transfer(v)` (one argument: an ERC-20 `transfer(to, amount)` has two)."""
    callee = callee_text(reader, call)
    if _VALUE_CALL.search(callee):
        return True
    return bool(_SEND.search(callee)) and len(call_args(call)) == 1


def recipient(reader: Reader, call: Node) -> str:
    """The address an ether-sending call pays (`msg.sender` in `msg.sender.send(v)`)."""
    callee = callee_text(reader, call)
    return re.split(r"\.(?:call|send|transfer)\b", callee, maxsplit=1)[0]


def written_base(reader: Reader, node: Node) -> tuple[str, Node] | None:
    """For a write (`a[k] = v`, `s.f += v`, `x++`, `delete x`): the base variable name
    and the write node."""
    if node.type in _WRITES:
        target = node.child_by_field_name("left") or node.child_by_field_name("argument")
    elif node.type == "unary_expression" and reader.text(node).startswith("delete"):
        target = node.child_by_field_name("argument")
    else:
        return None
    target = unwrap(target)
    while target is not None and target.type in ("array_access", "member_expression"):
        inner = target.child_by_field_name("base") or target.child_by_field_name("object")
        if inner is None:
            inner = target.named_children[0] if target.named_children else None
        target = unwrap(inner)
    if target is None or target.type != "identifier":
        return None
    return reader.text(target), node


def version_at_least_08(reader: Reader, root: Node) -> bool | None:
    """Whether the file's `pragma solidity` asks for 0.8 or later (checked arithmetic);
    None when there is no pragma."""
    versions = [reader.text(n) for n in walk(root) if n.type == "solidity_version"]
    if not versions:
        return None
    lowest = min(tuple(int(p) for p in re.findall(r"\d+", v)[:2] or ["0"]) for v in versions)
    return lowest >= (0, 8)


def guards(reader: Reader, fn: SolFunction) -> bool:
    """Whether the function restricts its caller: a modifier (resolved through the
    inheritance chain when the scan holds its definition), or a test of
    `msg.sender`/`tx.origin`/an owner or role in its body or a base's helper it calls."""
    if reader.contracts is not None:
        found = reader.contracts.guarded(fn.node, reader.file, tests_caller)
        if found is not None:
            return found
    if fn.modifiers:
        return True
    if fn.body is None:
        return False
    return tests_caller(reader.text(fn.body))


def tests_caller(text: str) -> bool:
    """Whether a body's text tests its caller (`require(msg.sender == owner)`,
    `_checkOwner()`, a one-time `initialized` flag)."""
    return bool(
        re.search(r"msg\.sender\s*[!=]=|[!=]=\s*msg\.sender|tx\.origin|_check\w*\(|"
                  r"hasRole\s*\(|isOwner\s*\(|onlyOwner|owner\s*\(\s*\)\s*[!=]=|"
                  r"\b(?:require|assert)\s*\([^;]*\b(?:owner|admin|auth)|"
                  r"\b(?:require|if)\s*\(\s*!\s*_?initiali[sz]ed|"
                  # a helper that checks the caller: _requireOwnership(msg.sender),
                  # _enforceIsContractOwner(...), _checkRole(...)
                  r"\b_?(?:require|check|assert|only|is|verify|auth|ensure)\w*\s*\([^;]*"
                  r"msg\.sender|_msgSender\s*\(\s*\)\s*[!=]=|[!=]=\s*_msgSender\s*\(|\b\w*\.?_?(?:enforce|check|"
                  r"only|verify|require|ensure)\w*(?:owner|admin|role|auth)\w*\s*\(", text, re.I)
    )  # fmt: skip
