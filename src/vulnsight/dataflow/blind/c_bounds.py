"""C/C++ off-by-one and size arithmetic: `i <= N` over `buf[N]`, `buf[sizeof buf]`,
`p[len]` after `malloc(len)`, `malloc(strlen(s))` then a copy of s (CWE-193), `strncpy`
over the whole buffer with no terminator (CWE-170), a signed length bounded above only
and then used as a size (CWE-195), and a `size_t` length kept in a narrow int (CWE-197)."""

from __future__ import annotations

import re

from tree_sitter import Node

from vulnsight.dataflow.blind.base import Check, Hit, Reader
from vulnsight.dataflow.syntax import walk

OFF_BY_ONE = Check("off-by-one", "c", "CWE-193", "index or size one past the end", 0.67)
NO_TERMINATOR = Check(
    "strncpy-no-terminator", "c", "CWE-170", "strncpy over the whole buffer, no NUL", 0.5
)
SIGNED_SIZE = Check(
    "signed-size-bounded-above-only",
    "c",
    "CWE-195",
    "signed length checked against a maximum only, then used as a size",
    0.5,
)
TRUNCATED_SIZE = Check(
    "size-truncated-to-int", "c", "CWE-197", "a size_t length kept in a narrower int", 0.5
)

#: Calls whose argument at the position is a byte count.
SIZE_ARGS = {
    "memcpy": 2, "memmove": 2, "memset": 2, "strncpy": 2, "strncat": 2, "memcmp": 2,
    "malloc": 0, "alloca": 0, "realloc": 1, "read": 2, "recv": 2, "fread": 2, "fgets": 1,
    "snprintf": 1, "wmemcpy": 2, "wcsncpy": 2,
}  # fmt: skip
_SIGNED = re.compile(r"^(?:signed\s+)?(?:int|long|short|long long|ssize_t|int32_t|int64_t|"
                     r"int16_t|off_t|long int)$")  # fmt: skip
_NARROW = re.compile(r"^(?:unsigned\s+)?(?:short|char|int16_t|uint16_t|int8_t|uint8_t)$")
#: What a buffer's capacity looks like: a number, a constant's name, `sizeof buf`.
_CAPACITY = re.compile(r"^(?:\d+[uUlL]*|[A-Z][A-Z0-9_]*|sizeof.*)$")
_LENGTHS = ("strlen", "wcslen", "sizeof")


def _args(call: Node) -> list[Node]:
    args = call.child_by_field_name("arguments")
    return [c for c in args.named_children if c.type != "comment"] if args is not None else []


def _norm(text: str) -> str:
    return re.sub(r"\s+|[()]", "", text)


def _arrays(reader: Reader, function: Node) -> dict[str, str]:
    """Arrays declared in the function (or as members of its class), with the text of
    their size (`buf` -> `N`)."""
    found: dict[str, str] = {}
    scopes = [function]
    owner = function.parent
    while owner is not None and owner.type not in ("class_specifier", "struct_specifier"):
        owner = (
            owner.parent
            if owner.type in ("field_declaration_list", "template_declaration")
            else None
        )
    if owner is not None:
        scopes.append(owner)
    for scope in scopes:
        for node in walk(scope):
            if node.type == "array_declarator":
                name = node.child_by_field_name("declarator")
                size = node.child_by_field_name("size")
                if (
                    name is not None
                    and size is not None
                    and name.type in ("identifier", "field_identifier")
                ):
                    found.setdefault(reader.text(name), _norm(reader.text(size)))
    return found


def _is_sizeof_of(reader: Reader, node: Node, name: str) -> bool:
    text = _norm(reader.text(node))
    return text in (f"sizeof{name}", f"sizeof{name}/sizeof{name}[0]", f"sizeof{name}/sizeof*{name}")


def off_by_one(reader: Reader, function: Node) -> list[Hit]:
    """`for (i = 0; i <= N; i++) buf[i]` with `buf[N]`; `buf[N]` or `buf[sizeof buf]`
    written; `p[len]` after `p = malloc(len)`; a copy into `malloc(strlen(s))`."""
    arrays = _arrays(reader, function)
    hits: list[Hit] = []
    allocated: dict[str, tuple[str, Node]] = {}  # pointer -> (size text, malloc call)
    for node in walk(function):
        if node.type == "for_statement":
            hits.extend(_loop(reader, node, arrays))
        elif node.type in ("init_declarator", "assignment_expression"):
            _note_allocation(reader, node, allocated)
        elif node.type == "subscript_expression" and _written(node):
            base = node.child_by_field_name("argument")
            index = _index(node)
            if base is None or index is None or base.type != "identifier":
                continue
            name, idx = reader.text(base), _norm(reader.text(index))
            size = arrays.get(name)
            if (size is not None and idx == size) or _is_sizeof_of(reader, index, name):
                what = f"{name} has {size or 'sizeof ' + name} elements"
                hits.append(
                    reader.hit(
                        OFF_BY_ONE,
                        [(node, f"{reader.text(node)[:60]} writes one past the end ({what})")],
                        f"{name}[{reader.text(index)}] is one past the end of {name} (CWE-193)",
                    )
                )
            elif name in allocated and idx == allocated[name][0] and idx:
                size_text, call = allocated[name]
                steps = [
                    (call, f"{reader.text(call)} holds {reader.text(index)} bytes"),
                    (node, f"{reader.text(node)[:60]} writes one past the end"),
                ]
                message = f"{name}[{size_text}] is one past the end of its allocation (CWE-193)"
                hits.append(reader.hit(OFF_BY_ONE, steps, message))
        elif node.type == "call_expression" and reader.callee(node) in (
            "strcpy",
            "strcat",
            "sprintf",
        ):
            args = _args(node)
            if not args:
                continue
            target = reader.text(args[0])
            found = allocated.get(target)
            if found is not None and re.fullmatch(r"(?:strlen|wcslen)[\w.\[\]>-]+", found[0]):
                steps = [
                    (found[1], f"{reader.text(found[1])} leaves no room for the NUL"),
                    (
                        node,
                        f"{reader.callee(node)}() writes the string and its NUL into {target}",
                    ),
                ]
                message = f"{target} is one byte short: strlen() does not count the NUL (CWE-193)"
                hits.append(reader.hit(OFF_BY_ONE, steps, message))
    return hits


def _index(node: Node) -> Node | None:
    """A subscript's index (C++ wraps it in a `subscript_argument_list`)."""
    index = node.child_by_field_name("index")
    if index is not None:
        return index
    indices = node.child_by_field_name("indices")
    inner = indices.named_children if indices is not None else []
    return inner[0] if len(inner) == 1 else None


def _written(node: Node) -> bool:
    parent = node.parent
    return (
        parent is not None
        and parent.type == "assignment_expression"
        and parent.child_by_field_name("left") == node
    )


def _note_allocation(reader: Reader, node: Node, allocated: dict[str, tuple[str, Node]]) -> None:
    if node.type == "init_declarator":
        target = node.child_by_field_name("declarator")
        while target is not None and target.type == "pointer_declarator":
            target = target.child_by_field_name("declarator")
        value = node.child_by_field_name("value")
    else:
        target = node.child_by_field_name("left")
        value = node.child_by_field_name("right")
    while value is not None and value.type in ("cast_expression", "parenthesized_expression"):
        value = value.child_by_field_name("value") or (
            value.named_children[-1] if value.named_children else None
        )
    if target is None or target.type != "identifier":
        return
    name = reader.text(target)
    if value is None or value.type != "call_expression" or reader.callee(value) != "malloc":
        allocated.pop(name, None)
        return
    args = _args(value)
    if len(args) == 1:
        size = _norm(reader.text(args[0]))
        size = re.sub(r"\*sizeof(?:char|wchar_t)$", "", size)
        allocated[name] = (size, value)


def _loop(reader: Reader, loop: Node, arrays: dict[str, str]) -> list[Hit]:
    condition = loop.child_by_field_name("condition")
    body = loop.child_by_field_name("body")
    if condition is None or body is None or condition.type != "binary_expression":
        return []
    op = condition.child_by_field_name("operator")
    left = condition.child_by_field_name("left")
    right = condition.child_by_field_name("right")
    if op is None or left is None or right is None or reader.text(op) != "<=":
        return []
    if left.type != "identifier":
        return []
    counter, bound = reader.text(left), _norm(reader.text(right))
    for node in walk(body):
        if node.type != "subscript_expression":
            continue
        base = node.child_by_field_name("argument")
        index = _index(node)
        if base is None or index is None or reader.text(index).strip() != counter:
            continue
        name = reader.text(base)
        if arrays.get(name) == bound or _is_sizeof_of(reader, right, name):
            steps = [
                (condition, f"the loop runs {counter} up to {reader.text(right)} inclusive"),
                (node, f"{reader.text(node)[:60]}: {name} has {reader.text(right)} elements"),
            ]
            message = (
                f"{counter} reaches {reader.text(right)}, one past the end of {name} (CWE-193)"
            )
            return [reader.hit(OFF_BY_ONE, steps, message)]
    return []


def strncpy_no_terminator(reader: Reader, function: Node) -> list[Hit]:
    """`strncpy(dst, src, sizeof dst)` (the whole buffer) and no NUL written after it."""
    arrays = _arrays(reader, function)
    hits: list[Hit] = []
    nodes = list(walk(function))
    for i, node in enumerate(nodes):
        if node.type != "call_expression" or reader.callee(node) not in ("strncpy", "wcsncpy"):
            continue
        args = _args(node)
        if len(args) != 3 or args[0].type != "identifier":
            continue
        name, size = reader.text(args[0]), _norm(reader.text(args[2]))
        if not (_is_sizeof_of(reader, args[2], name) or (name in arrays and arrays[name] == size)):
            continue
        terminated = any(
            n.type == "subscript_expression"
            and _written(n)
            and reader.text(n.child_by_field_name("argument") or n) == name
            for n in nodes[i + 1 :]
        )
        if terminated:
            continue
        hits.append(
            reader.hit(
                NO_TERMINATOR,
                [(node, f"strncpy() fills all of {name}: no room is left for the NUL")],
                f"{name} is not NUL-terminated when the source is as long as the buffer (CWE-170)",
            )
        )
    return hits


def signed_size_bounded_above(reader: Reader, function: Node) -> list[Hit]:
    """A signed length (`int len`) tested against a maximum only (`len > MAX`), never
    against zero, then used as a byte count: a negative length passes the test."""
    signed: dict[str, Node] = {}
    for node in walk(function):
        if node.type in ("parameter_declaration", "declaration"):
            kind = node.child_by_field_name("type")
            if kind is None or not _SIGNED.match(" ".join(reader.text(kind).split())):
                continue
            if any(
                c.type == "type_qualifier" and reader.text(c) == "unsigned" for c in node.children
            ):
                continue
            for child in node.children_by_field_name("declarator"):
                target = (
                    child.child_by_field_name("declarator")
                    if child.type == "init_declarator"
                    else child
                )
                if target is not None and target.type == "identifier":
                    signed[reader.text(target)] = target
    if not signed:
        return []
    upper: dict[str, Node] = {}
    lower: set[str] = set()
    hits: list[Hit] = []
    for node in walk(function):
        if node.type == "binary_expression":
            _note_bound(reader, node, signed, upper, lower)
        elif node.type == "call_expression":
            position = SIZE_ARGS.get(reader.callee(node))
            args = _args(node)
            if position is None or position >= len(args):
                continue
            used = reader.text(args[position]).strip()
            if used in upper and used not in lower:
                steps = [
                    (signed[used], f"{used} is signed"),
                    (upper[used], f"{reader.text(upper[used])[:60]} bounds it above only"),
                    (node, f"{reader.callee(node)}() takes {used} as a size: a negative value "
                           "becomes huge"),
                ]  # fmt: skip
                message = (
                    f"{used} is checked against a maximum but not against 0 before "
                    f"{reader.callee(node)}() uses it as a size (CWE-195)"
                )
                hits.append(reader.hit(SIGNED_SIZE, steps, message))
                lower.add(used)  # one finding per variable
    return hits


def _note_bound(
    reader: Reader, node: Node, signed: dict[str, Node], upper: dict[str, Node], lower: set[str]
) -> None:
    op_node = node.child_by_field_name("operator")
    left = node.child_by_field_name("left")
    right = node.child_by_field_name("right")
    if op_node is None or left is None or right is None:
        return
    op = reader.text(op_node)
    if op not in ("<", "<=", ">", ">="):
        return
    for var, other in ((left, right), (right, left)):
        name = reader.text(var).strip()
        if name not in signed:
            continue
        limit = reader.text(other).strip()
        if limit in ("0", "1"):
            lower.add(name)  # `len < 0`, `len > 0`, `len >= 1`: a lower bound is tested
        elif _CAPACITY.match(limit) or other.type == "sizeof_expression":
            upper.setdefault(name, node)  # `len > MAX`: negative values pass it


def size_truncated_to_int(reader: Reader, function: Node) -> list[Hit]:
    """`short n = strlen(s)` (a narrow integer holding a size_t length) then used as a
    byte count."""
    narrow: dict[str, Node] = {}
    hits: list[Hit] = []
    for node in walk(function):
        if node.type == "declaration":
            kind = node.child_by_field_name("type")
            if kind is None or not _NARROW.match(" ".join(reader.text(kind).split())):
                continue
            for child in node.children_by_field_name("declarator"):
                value = (
                    child.child_by_field_name("value") if child.type == "init_declarator" else None
                )
                target = child.child_by_field_name("declarator") if value is not None else None
                if value is None or target is None or target.type != "identifier":
                    continue
                if value.type == "call_expression" and reader.callee(value) in _LENGTHS:
                    narrow[reader.text(target)] = node
        elif node.type == "call_expression":
            position = SIZE_ARGS.get(reader.callee(node))
            args = _args(node)
            if position is None or position >= len(args):
                continue
            used = reader.text(args[position]).strip()
            if used in narrow:
                steps = [
                    (narrow[used], f"{used} keeps a size_t length in a narrower type"),
                    (node, f"{reader.callee(node)}() takes the truncated {used} as a size"),
                ]
                message = f"{used} truncates a length and is used as a size (CWE-197)"
                hits.append(reader.hit(TRUNCATED_SIZE, steps, message))
                del narrow[used]
    return hits
