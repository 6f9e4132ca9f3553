"""What a blind-class check is and what it reports, and the tree-sitter helpers the checks
share (unwrapping Solidity's `expression` wrappers, walking in source order)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from tree_sitter import Node

from vulnsight.dataflow.blind.js_common import JsFacts
from vulnsight.dataflow.syntax import NodeReader
from vulnsight.types import PathStep

if TYPE_CHECKING:
    from vulnsight.dataflow.sol_contracts import ContractIndex


@dataclass(frozen=True)
class Check:
    """One check: its rule id (`vulnsight.flow.<family>.<id>`), CWE, what it looks for,
    and the confidence its findings carry: the precision measured on the development
    corpora by `benchmarks/blind_checks.py`, smoothed ((hits on vulnerable + 1) /
    (hits + 2), at most 0.9); 0.5 where the corpora gave no hit to measure."""

    id: str
    family: str  # "c" (C and C++), "solidity", "javascript" (and TypeScript) or "python"
    cwe: str
    label: str
    confidence: float

    @property
    def rule_id(self) -> str:
        """The rule id findings carry."""
        return f"vulnsight.flow.{self.family}.{self.id}"


@dataclass(frozen=True)
class Hit:
    """A check firing: the steps that lead to it, one of which (`at`, the last unless
    said) is the flagged line."""

    check: Check
    steps: tuple[PathStep, ...]
    message: str
    at: int = -1  # the step that is the flagged line (the last one unless said)

    @property
    def line(self) -> int:
        """The flagged line."""
        return self.steps[self.at].line


#: A check over one function node: the hits it finds there.
FunctionCheck = Callable[["Reader", Node], list[Hit]]


class Reader(NodeReader):
    """A `NodeReader` with the small helpers the checks share."""

    #: Solidity: every contract of the scan, for inherited modifiers and functions
    contracts: ContractIndex | None = None
    #: JavaScript/TypeScript: the file's constant names and declared values
    js: JsFacts = JsFacts()

    def name_of(self, node: Node | None) -> str:
        """The text of a node with Solidity's `expression` wrappers removed."""
        inner = unwrap(node)
        return self.text(inner) if inner is not None else ""

    def callee(self, call: Node) -> str:
        """The text of a C call's function (`memcpy`, `static_cast<char *>`)."""
        fn = call.child_by_field_name("function")
        return self.text(fn) if fn is not None else ""

    def hit(self, check: Check, steps: list[tuple[Node, str]], message: str, at: int = -1) -> Hit:
        """A hit whose path is one step per (node, description), flagged at step `at`."""
        return Hit(check, tuple(self.step(n, d) for n, d in steps), message, at)


def unwrap(node: Node | None) -> Node | None:
    """`node` without `expression`/parenthesis wrappers (Solidity wraps every operand)."""
    while node is not None and node.type in ("expression", "parenthesized_expression"):
        inner = [c for c in node.named_children if c.type != "comment"]
        if len(inner) != 1:
            break
        node = inner[0]
    return node


def ancestors(node: Node, stop: Node) -> Iterator[Node]:
    """The parents of `node` up to (not including) `stop`."""
    parent = node.parent
    while parent is not None and parent != stop:
        yield parent
        parent = parent.parent
