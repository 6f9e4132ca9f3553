"""C/C++: a pointer set to NULL and dereferenced before anything else is stored in it,
and a NULL test joined to the dereference it guards by `&`/`|`, which evaluate both
sides (CWE-476)."""

from __future__ import annotations

from tree_sitter import Node

from vulnsight.dataflow.blind.base import Check, Hit, Reader
from vulnsight.dataflow.blind.c_memory import (
    Mentions,
    first_unchecked_use,
    tested_here,
    use_of,
)
from vulnsight.dataflow.syntax import walk

KNOWN_NULL = Check(
    "null-deref-known-null", "c", "CWE-476", "a pointer dereferenced while it is NULL", 0.9
)
EAGER_TEST = Check(
    "null-test-not-short-circuit",
    "c",
    "CWE-476",
    "`p != NULL & p->x`: both sides are evaluated",
    0.9,
)
_NULLS = frozenset({"NULL", "nullptr", "0", "((void*)0)", "(void*)0"})
_JUMPS = frozenset({"return_statement", "goto_statement", "break_statement", "continue_statement"})


def _null_store(reader: Reader, node: Node) -> tuple[str, Node] | None:
    """(name, node) when `node` stores NULL in a pointer variable."""
    if node.type == "init_declarator":
        target = node.child_by_field_name("declarator")
        if target is None or target.type != "pointer_declarator":
            return None
        while target is not None and target.type == "pointer_declarator":
            target = target.child_by_field_name("declarator")
        value = node.child_by_field_name("value")
    elif node.type == "assignment_expression" and reader.text(node.children[1]) == "=":
        target = node.child_by_field_name("left")
        value = node.child_by_field_name("right")
    else:
        return None
    if target is None or value is None or target.type != "identifier":
        return None
    if "".join(reader.text(value).split()) not in _NULLS:
        return None
    return reader.text(target), node


def _jumps_after(node: Node) -> bool:
    """Whether a `return`/`goto`/`break` comes right after `node` (`p = NULL; goto out;`):
    the code after the block does not see the NULL."""
    statement = node
    while statement.parent is not None and statement.parent.type not in (
        "compound_statement", "translation_unit"
    ):  # fmt: skip
        statement = statement.parent
    sibling = statement.next_named_sibling
    while sibling is not None and sibling.type == "comment":
        sibling = sibling.next_named_sibling
    return sibling is not None and sibling.type in _JUMPS


def null_deref_known_null(reader: Reader, function: Node) -> list[Hit]:
    """`p = NULL;` then `*p`, `p->f`, `p[i]` or `memcpy(p, ...)` with nothing stored in
    p, and no test of p, in between."""
    body = function.child_by_field_name("body")
    if body is None:
        return []
    hits: list[Hit] = []
    nodes = list(walk(body))
    mentions = Mentions(reader, nodes, ("identifier",))
    for i, node in enumerate(nodes):
        found = _null_store(reader, node)
        if found is None or tested_here(node, body, reader) or _jumps_after(node):
            continue
        name, store = found
        first = first_unchecked_use(reader, body, mentions.after(name, i), store.end_byte, name)
        if first is not None:
            later, use = first
            steps = [
                (store, f"{name} is set to NULL"),
                (later, use.replace("without a NULL check", "while it is NULL")),
            ]
            message = f"{name} is dereferenced while it is NULL ({KNOWN_NULL.cwe})"
            hits.append(reader.hit(KNOWN_NULL, steps, message))
    return hits


def null_test_not_short_circuit(reader: Reader, function: Node) -> list[Hit]:
    """`(p != NULL) & (p->x == 5)`: `&` and `|` evaluate both sides, so the dereference
    runs when the test fails."""
    hits: list[Hit] = []
    for node in walk(function):
        if node.type != "binary_expression":
            continue
        op = node.child_by_field_name("operator")
        if op is None or reader.text(op) not in ("&", "|"):
            continue
        left = node.child_by_field_name("left")
        right = node.child_by_field_name("right")
        if left is None or right is None:
            continue
        tested = _null_tested(reader, left)
        if tested is None:
            continue
        deref = next(
            (
                n
                for n in walk(right)
                if n.type == "identifier"
                and reader.text(n) == tested
                and use_of(n, reader) not in (None, "stop")
            ),
            None,
        )
        if deref is None:
            continue
        steps = [
            (left, f"{reader.text(left)} tests {tested} for NULL"),
            (deref, f"`{reader.text(op)}` also evaluates {reader.text(right)[:50]}"),
        ]
        message = (
            f"{tested} is dereferenced even when the NULL test fails: `{reader.text(op)}` "
            f"is not short-circuit ({EAGER_TEST.cwe})"
        )
        hits.append(reader.hit(EAGER_TEST, steps, message))
    return hits


def _null_tested(reader: Reader, node: Node) -> str | None:
    while node.type == "parenthesized_expression" and node.named_child_count == 1:
        node = node.named_children[0]
    if node.type == "identifier":
        return reader.text(node)  # (p & p->x)
    if node.type != "binary_expression":
        return None
    op = node.child_by_field_name("operator")
    left = node.child_by_field_name("left")
    right = node.child_by_field_name("right")
    if op is None or left is None or right is None or reader.text(op) not in ("!=", "=="):
        return None
    for var, other in ((left, right), (right, left)):
        if var.type == "identifier" and "".join(reader.text(other).split()) in _NULLS:
            return reader.text(var)
    return None
