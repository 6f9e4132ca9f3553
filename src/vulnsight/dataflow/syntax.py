"""Reading tree-sitter nodes alike in every language: text, locations, dotted names, the
parts of subscripts, and the names parameters bind."""

from __future__ import annotations

from collections.abc import Iterator

from tree_sitter import Node

from vulnsight.types import PathStep

#: Comparison operators: their result is a boolean, never the data compared.
COMPARISONS = frozenset({"==", "===", "!=", "!==", "<", ">", "<=", ">=", "instanceof", "in"})


#: Solidity wraps every expression in an `expression` node and call options
#: (`to.call{value: v}`) in a `struct_expression`; `unwrap` sees through both.
_WRAPPERS = frozenset({"expression", "struct_expression", "call_argument"})


def walk(node: Node) -> Iterator[Node]:
    """Every named node under `node` (itself included), in source order."""
    stack = [node]
    while stack:
        current = stack.pop()
        yield current
        stack.extend(reversed(current.named_children))


def code_text(data: bytes, node: Node) -> str:
    """`node`'s source text with its comments left out: a word matched in code (a guard,
    a keyword argument) must not count in a comment (`f(x,  # resolve_entities=False`)."""
    comments = [n for n in walk(node) if n.type == "comment"]
    if not comments:
        return data[node.start_byte : node.end_byte].decode("utf-8", "replace")
    parts: list[bytes] = []
    at = node.start_byte
    for comment in comments:
        parts.append(data[at : comment.start_byte])
        at = max(at, comment.end_byte)
    parts.append(data[at : node.end_byte])
    return b" ".join(parts).decode("utf-8", "replace")


def unwrap(node: Node | None) -> Node | None:
    """`node` without Solidity's wrapper nodes around it (others are returned as they are)."""
    while node is not None and node.type in _WRAPPERS and node.named_child_count >= 1:
        node = node.named_children[0]
    return node


class NodeReader:
    """The text and locations of one file's nodes, seen from one function."""

    def __init__(self, data: bytes, file: str, function: str) -> None:
        self.data = data
        self.file = file
        self.function = function

    def text(self, node: Node) -> str:
        """The source text of a node."""
        return self.data[node.start_byte : node.end_byte].decode("utf-8", "replace")

    def step(self, node: Node, description: str) -> PathStep:
        """A path step at `node`'s line in this function."""
        return PathStep(self.file, node.start_point.row + 1, self.function, description)

    def dotted(self, node: Node | None) -> str:
        """`request.args.get` for an attribute chain; `?` for anything else."""
        node = unwrap(node)
        if node is None:
            return "?"
        kind = node.type
        if kind in ("identifier", "this", "super", "property_identifier"):
            return self.text(node)
        if kind in ("attribute", "member_expression", "field_expression"):
            obj = node.child_by_field_name("object") or node.child_by_field_name("argument")
            prop = (
                node.child_by_field_name("attribute")
                or node.child_by_field_name("property")
                or node.child_by_field_name("field")
            )
            return f"{self.dotted(obj)}.{self.text(prop) if prop is not None else '?'}"
        if kind in ("pointer_expression", "payable_conversion_expression"):
            # `*p` and `&x` stand for p and x; Solidity's `payable(a)` for a
            inner = node.child_by_field_name("argument")
            if inner is None and node.named_child_count:
                inner = node.named_children[0]
            return self.dotted(inner)
        if kind in ("call", "call_expression"):
            return self.dotted(node.child_by_field_name("function")) + "()"
        if kind == "qualified_identifier":  # C++ `std::getenv`, `util::run`: std.getenv
            return self.text(node).replace("::", ".").lstrip(".")
        if kind in ("subscript", "subscript_expression"):
            return self.dotted(subscript_base(node)) + "[]"
        if kind in ("parenthesized_expression", "await", "await_expression", "non_null_expression"):
            return self.dotted(node.named_children[0]) if node.named_child_count else "?"
        return "?"


def subscript_index(node: Node) -> Node | None:
    """The index of `a[i]` (C++ holds it in a list of one: `indices`)."""
    index = node.child_by_field_name("subscript") or node.child_by_field_name("index")
    indices = node.child_by_field_name("indices")
    if index is None and indices is not None and indices.named_child_count:
        index = indices.named_children[0]
    return index


def subscript_base(node: Node) -> Node | None:
    """The indexed value: `value` (Python), `object` (JavaScript), `argument` (C)."""
    return (
        node.child_by_field_name("value")
        or node.child_by_field_name("object")
        or node.child_by_field_name("argument")
    )


def bound_names(node: Node, data: bytes) -> list[str]:
    kind = node.type
    if kind in ("identifier", "shorthand_property_identifier_pattern"):
        return [data[node.start_byte : node.end_byte].decode("utf-8", "replace")]
    for field_name in ("name", "pattern", "left", "value", "declarator"):
        inner = node.child_by_field_name(field_name)
        if inner is not None and kind not in ("object_pattern", "array_pattern"):
            return bound_names(inner, data)
    names: list[str] = []
    for child in node.named_children:
        if child.type in ("type_annotation", "type"):
            continue
        names.extend(bound_names(child, data))
    return names


def parameter_names(node: Node, data: bytes) -> list[str]:
    """One name per parameter of a function node, in order (`*args` as `args`); a
    destructured parameter is named by its text."""
    single = node.child_by_field_name("parameter")
    params = node.child_by_field_name("parameters")
    declarator = node.child_by_field_name("declarator")
    while params is None and declarator is not None:  # C: int f(int a) is a declarator
        params = declarator.child_by_field_name("parameters")
        declarator = declarator.child_by_field_name("declarator")
    names: list[str] = []
    listed = [single] if single is not None else (params.named_children if params else [])
    if single is None and params is None:  # Solidity: parameters are the node's children
        listed = [c for c in node.named_children if c.type == "parameter"]
    for p in listed:
        if p.type in ("comment", "keyword_separator", "positional_separator"):
            continue
        bound = bound_names(p, data)
        if len(bound) == 1:
            names.append(bound[0])
        elif bound:
            names.append(data[p.start_byte : p.end_byte].decode("utf-8", "replace"))
    return names
