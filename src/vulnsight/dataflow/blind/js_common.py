"""JavaScript/TypeScript: what the JS checks share. Above all, whether a value is a
constant (literals, templates without substitutions, and names the file binds to
constants only), so that a check fires on values that are *built* at run time and
stays silent on fixed ones."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tree_sitter import Node

from vulnsight.dataflow.syntax import walk

if TYPE_CHECKING:
    from vulnsight.dataflow.blind.base import Reader

#: Names whose value is fixed by the module's own location or the language.
_FIXED_NAMES = frozenset({"__dirname", "__filename", "undefined", "NaN", "Infinity"})
_LITERALS = frozenset(
    {"string", "number", "true", "false", "null", "undefined", "regex", "string_fragment"}
)
#: Calls whose result is fixed when their arguments are (`path.join(__dirname, 'x')`).
_PURE_CALLS = frozenset(
    {
        "path.join",
        "path.resolve",
        "path.normalize",
        "path.posix.join",
        "path.win32.join",
        "require.resolve",
        "String",
        "Number",
        "JSON.stringify",
        "String.fromCharCode",
    }
)
#: String methods whose result is fixed when the receiver and the arguments are.
_STRING_METHODS = frozenset(
    {
        "repeat",
        "concat",
        "join",
        "toLowerCase",
        "toUpperCase",
        "trim",
        "replace",
        "slice",
        "substring",
        "split",
    }
)
_WRAPPERS = frozenset(
    {"parenthesized_expression", "as_expression", "non_null_expression", "satisfies_expression"}
)


def strip(node: Node | None) -> Node | None:
    """`node` without parentheses and TypeScript casts around it."""
    while node is not None and node.type in _WRAPPERS and node.named_child_count:
        node = node.named_children[0]
    return node


def arguments(call: Node) -> list[Node]:
    """The argument expressions of a call or `new` expression (comments dropped)."""
    args = call.child_by_field_name("arguments")
    if args is None:
        return []
    return [a for a in args.named_children if a.type != "comment"]


def callee(reader: Reader, call: Node) -> str:
    """`child_process.exec` for `child_process.exec(...)`, `Function` for `new Function`;
    `?` where the callee is not a name."""
    fn = call.child_by_field_name("function") or call.child_by_field_name("constructor")
    return reader.dotted(strip(fn)) if fn is not None else "?"


def calls(root: Node) -> Iterator[Node]:
    """Every call and `new` expression under `root`, in source order."""
    for node in walk(root):
        if node.type in ("call_expression", "new_expression"):
            yield node


def _assigned_names(reader: Reader, root: Node) -> tuple[dict[str, list[Node]], set[str]]:
    """Per name, the values its declarations give it; and the names that are also
    assigned, updated or bound as parameters anywhere (never constant)."""
    declared: dict[str, list[Node]] = {}
    changed: set[str] = set()
    for node in walk(root):
        kind = node.type
        if kind == "variable_declarator":
            name = node.child_by_field_name("name")
            value = node.child_by_field_name("value")
            if name is None or name.type != "identifier":
                continue
            if value is None:
                changed.add(reader.text(name))  # `let x;` is set later
            else:
                declared.setdefault(reader.text(name), []).append(value)
        elif kind in ("assignment_expression", "augmented_assignment_expression"):
            left = strip(node.child_by_field_name("left"))
            if left is not None and left.type == "identifier":
                changed.add(reader.text(left))
        elif kind == "update_expression":
            arg = strip(node.child_by_field_name("argument"))
            if arg is not None and arg.type == "identifier":
                changed.add(reader.text(arg))
        elif kind in ("formal_parameters", "for_in_statement", "catch_clause"):
            for inner in walk(node):
                if inner.type in ("identifier", "shorthand_property_identifier_pattern"):
                    changed.add(reader.text(inner))
        elif kind == "arrow_function":
            param = node.child_by_field_name("parameter")
            if param is not None and param.type == "identifier":
                changed.add(reader.text(param))
    return declared, changed


@dataclass(frozen=True)
class JsFacts:
    """What the JS checks read of a whole file: the names bound to constants only, and
    the values each declared name is given."""

    constants: frozenset[str] = frozenset()
    values: Mapping[str, tuple[Node, ...]] = field(default_factory=dict)


def file_facts(reader: Reader, root: Node) -> JsFacts:
    """The `JsFacts` of the file whose tree is `root`."""
    declared, changed = _assigned_names(reader, root)
    values = {k: tuple(v) for k, v in declared.items()}
    return JsFacts(constant_names(declared, changed, reader), values)


def constant_names(
    declared: Mapping[str, list[Node]], changed: set[str], reader: Reader
) -> frozenset[str]:
    """The names bound to constant values only (and never reassigned)."""
    known: set[str] = set()
    grew = True
    while grew:  # names defined from other constant names
        grew = False
        for name, values in declared.items():
            if name in known or name in changed:
                continue
            if all(is_constant(reader, v, known) for v in values):
                known.add(name)
                grew = True
    return frozenset(known)


def is_constant(reader: Reader, node: Node | None, names: frozenset[str] | set[str]) -> bool:
    """Whether `node`'s value is fixed in the source: literals, templates without
    substitutions, operators and ternaries over constants, arrays of constants, names in
    `names`, and pure calls (`path.join`, string methods) over constants."""
    node = strip(node)
    if node is None:
        return True
    kind = node.type
    if kind in _LITERALS:
        return True
    if kind == "template_string":
        return not any(c.type == "template_substitution" for c in node.named_children)
    if kind == "identifier":
        text = reader.text(node)
        return text in names or text in _FIXED_NAMES
    if kind == "binary_expression":
        left = node.child_by_field_name("left")
        right = node.child_by_field_name("right")
        return is_constant(reader, left, names) and is_constant(reader, right, names)
    if kind == "unary_expression":
        return is_constant(reader, node.child_by_field_name("argument"), names)
    if kind == "ternary_expression":
        return is_constant(
            reader, node.child_by_field_name("consequence"), names
        ) and is_constant(reader, node.child_by_field_name("alternative"), names)
    if kind == "array":
        return all(is_constant(reader, c, names) for c in node.named_children)
    if kind == "call_expression":
        args = arguments(node)
        if not all(is_constant(reader, a, names) for a in args):
            return False
        fn = strip(node.child_by_field_name("function"))
        if fn is not None and reader.dotted(fn) in _PURE_CALLS:
            return True
        if fn is not None and fn.type == "member_expression":
            prop = fn.child_by_field_name("property")
            obj = fn.child_by_field_name("object")
            return (
                prop is not None
                and reader.text(prop) in _STRING_METHODS
                and is_constant(reader, obj, names)
            )
    return False


def is_string_built(reader: Reader, node: Node | None, facts: JsFacts, depth: int = 0) -> bool:
    """Whether `node` builds a string from a non-constant part: `'a' + x`, `` `a${x}` ``,
    `[..., x].join(...)`, or is a name declared so (`const cmd = 'ls ' + dir`)."""
    node = strip(node)
    names = facts.constants
    if node is None or is_constant(reader, node, names):
        return False
    if node.type == "identifier" and depth < 2:
        declared = facts.values.get(reader.text(node), ())
        return any(is_string_built(reader, v, facts, depth + 1) for v in declared)
    if node.type == "template_string":
        return True
    if node.type == "binary_expression":
        op = node.child_by_field_name("operator")
        return op is not None and reader.text(op) == "+"
    if node.type == "call_expression":
        fn = strip(node.child_by_field_name("function"))
        if fn is not None and fn.type == "member_expression":
            prop = fn.child_by_field_name("property")
            return prop is not None and reader.text(prop) in ("join", "concat")
    return False


def string_valued(reader: Reader, node: Node | None) -> bool:
    """Whether `node` is a string literal or template (its type is known to be string)."""
    node = strip(node)
    return node is not None and node.type in ("string", "template_string")
