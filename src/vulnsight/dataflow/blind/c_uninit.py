"""C/C++: a local variable read before anything is stored in it (CWE-457): a scalar or
pointer declared without a value, or the elements of an array declared, allocated
(`malloc`, `alloca`, `new T[n]`) or pointed at with none of them written.

Only the first mention of the variable after its declaration counts, in source order:
a store, `&x`, or (C++ scalars, any block) handing it to a call ends the question; a
read inside a loop that also stores into the variable is left alone (an earlier
iteration may have stored it)."""

from __future__ import annotations

from collections.abc import Callable

from tree_sitter import Node

from vulnsight.dataflow.blind.base import Check, Hit, Reader
from vulnsight.dataflow.syntax import walk

UNINITIALISED = Check(
    "uninitialised-read", "c", "CWE-457", "a local variable read before it is set", 0.9
)

#: Allocations that leave their memory unset (calloc zeroes it).
_RAW_ALLOCATORS = frozenset({"malloc", "alloca", "_alloca", "ALLOCA", "xmalloc", "g_malloc"})
_LOOPS = frozenset({"for_statement", "while_statement", "do_statement", "for_range_loop"})
_SKIPPED_STORAGE = frozenset({"static", "extern", "thread_local", "__thread"})
_WRITES = frozenset(
    {"=", "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "<<=", ">>="}
)  # fmt: skip


def _plain_type(reader: Reader, declaration: Node) -> bool:
    """Whether a declaration's type is a built-in one (`int`, `unsigned long`, `double`)."""
    kind = declaration.child_by_field_name("type")
    return kind is not None and kind.type in ("primitive_type", "sized_type_specifier")


def _declared(
    reader: Reader, nodes: list[Node], mentions: dict[str, list[Node]]
) -> dict[str, tuple[Node, str]]:
    """Variables declared with no value: name -> (declaration, "scalar" | "block")."""
    found: dict[str, tuple[Node, str]] = {}
    blocks: set[str] = set()
    for node in nodes:
        if node.type != "declaration":
            continue
        if any(
            c.type == "storage_class_specifier" and reader.text(c) in _SKIPPED_STORAGE
            for c in node.children
        ):
            continue  # zeroed (static) or defined elsewhere (extern)
        plain = _plain_type(reader, node)
        for declarator in node.children_by_field_name("declarator"):
            kind = "scalar"
            target = declarator
            if target.type == "init_declarator":  # `T *p = malloc(n)`: unset memory
                inner = target.child_by_field_name("declarator")
                value = target.child_by_field_name("value")
                if inner is None or inner.type != "pointer_declarator":
                    continue
                if not _raw_block(reader, value, blocks):
                    continue
                if value is not None and not _sole_alias(reader, mentions, value):
                    continue
                while inner is not None and inner.type == "pointer_declarator":
                    inner = inner.child_by_field_name("declarator")
                if inner is not None and inner.type == "identifier":
                    found[reader.text(inner)] = (node, "block")
                    blocks.add(reader.text(inner))
                continue
            if target.type == "pointer_declarator":
                kind = "pointer"
                while target.type == "pointer_declarator":
                    inner = target.child_by_field_name("declarator")
                    if inner is None:
                        break
                    target = inner
            elif target.type == "array_declarator" and plain:
                inner = target.child_by_field_name("declarator")
                if inner is not None and inner.type == "identifier":
                    found[reader.text(inner)] = (node, "block")
                    blocks.add(reader.text(inner))
                continue
            elif not plain:
                continue
            if target.type == "identifier":
                found[reader.text(target)] = (node, kind)
                blocks.discard(reader.text(target))
    return found


def _raw_block(reader: Reader, value: Node | None, blocks: set[str]) -> bool:
    """Whether a value is memory nothing was written to: `malloc(n)`, `alloca(n)`,
    `new T[n]`, or an unwritten array."""
    while value is not None and value.type in ("cast_expression", "parenthesized_expression"):
        value = value.child_by_field_name("value") or (
            value.named_children[-1] if value.named_children else None
        )
    if value is None:
        return False
    if value.type == "call_expression":
        return reader.callee(value) in _RAW_ALLOCATORS
    if value.type == "new_expression":
        return value.child_by_field_name("arguments") is None and "[" in reader.text(value)
    return value.type == "identifier" and reader.text(value) in blocks


def _sole_alias(reader: Reader, mentions: dict[str, list[Node]], value: Node) -> bool:
    """For `p = buf`: whether buf is named nowhere but its declaration and here (else
    what is written through buf is not followed into p)."""
    while value.type in ("cast_expression", "parenthesized_expression"):
        inner = value.child_by_field_name("value") or (
            value.named_children[-1] if value.named_children else None
        )
        if inner is None:
            break
        value = inner
    if value.type != "identifier":
        return True
    return len(mentions.get(reader.text(value), ())) <= 2


def _store(node: Node) -> Node | None:
    """The assignment whose left side holds `node`, if any."""
    child, parent = node, node.parent
    while parent is not None and parent.type in (
        "subscript_expression", "field_expression", "parenthesized_expression",
        "pointer_expression",
    ):  # fmt: skip
        child, parent = parent, parent.parent
    if parent is None:
        return None
    if parent.type == "assignment_expression" and parent.child_by_field_name("left") == child:
        return parent
    return None


def _in_sizeof(node: Node) -> bool:
    parent = node.parent
    while parent is not None and parent.type not in ("expression_statement", "declaration"):
        if parent.type in ("sizeof_expression", "alignof_expression", "decltype"):
            return True
        parent = parent.parent
    return False


def _loop_stores(
    reader: Reader,
    node: Node,
    name: str,
    stop: Node,
    mentions: list[Node],
    up: Callable[[Node], Node | None],
) -> bool:
    """Whether a loop around `node` stores into `name` anywhere (or hands it on). The
    outermost loop holds the inner ones, so only its span of `name`'s `mentions` is
    read; `up` is the parent map (tree-sitter's `.parent` walks down from the root)."""
    outermost: Node | None = None
    parent = up(node)
    while parent is not None and parent != stop:
        if parent.type in _LOOPS:
            outermost = parent
        parent = up(parent)
    if outermost is None:
        return False
    return any(
        outermost.start_byte <= other.start_byte < outermost.end_byte
        and other != node
        and (_store(other) is not None or _handed_on(reader, other))
        for other in mentions
    )


def _handed_on(reader: Reader, node: Node) -> bool:
    """`&x`, `f(x)`, `std::cin >> x`: something else may store into it."""
    parent = node.parent
    if parent is None:
        return False
    if parent.type == "pointer_expression" and reader.text(parent)[:1] == "&":
        return True
    if parent.type == "argument_list":
        return True
    if parent.type == "binary_expression" and parent.child_by_field_name("right") == node:
        op = parent.child_by_field_name("operator")
        left = parent.child_by_field_name("left")
        if op is None or left is None:
            return False
        if reader.text(op) == "&" and reader.text(left).rstrip().endswith(")"):
            return True  # `(size_t)&x` parsed as a bitwise and
        return reader.text(op) == ">>"
    return False


def _real_call(reader: Reader, arguments: Node) -> bool:
    """Whether an argument list belongs to a function call rather than a macro that may
    store into its arguments: an all-capitals name (`GF_SAFEALLOC(p, T)`), or a call
    that stands as a statement without its `;` (`list_foreach (l, it, x) {`)."""
    call = arguments.parent
    if call is None or call.type != "call_expression":
        return False
    name = reader.callee(call)
    if not name or name.upper() == name:
        return False
    statement = call.parent
    if statement is None or statement.type != "expression_statement":
        return True
    return any(c.type == ";" and not c.is_missing for c in statement.children)


def _first_use(
    reader: Reader,
    body: Node,
    mentions: list[Node],
    start: int,
    name: str,
    kind: str,
    cpp: bool,
    up: Callable[[Node], Node | None],
) -> tuple[Node, str] | None:
    """The read of `name` (among its `mentions`, in source order) that comes before any
    store into it, with its description."""
    for node in mentions:
        if node.start_byte < start:
            continue
        parent = node.parent
        if (
            parent is not None
            and parent.type == "field_expression"
            and (parent.child_by_field_name("field") == node)
        ):
            continue
        if _in_sizeof(node):
            continue
        store = _store(node)
        if store is not None:
            if kind == "block" and store.child_by_field_name("left") != node:
                return None  # `buf[i] = v`: written (partly)
            op = store.child_by_field_name("operator")
            if op is not None and reader.text(op) in _WRITES and reader.text(op) != "=":
                return _read(node, name)  # `x += 1` reads x
            return None
        if parent is not None and parent.type == "update_expression":
            return None if kind == "block" else _read(node, name)
        if _handed_on(reader, node):
            if parent is None or parent.type != "argument_list" or kind == "block":
                return None
            if not _real_call(reader, parent) or (cpp and kind == "scalar"):
                return None  # a macro, or a C++ reference, may store into it
            return _read(node, name)
        if kind == "block":
            if _tests_pointer(reader, node):
                continue  # `if (p == NULL)`: the pointer, not the memory
            if parent is None or parent.type not in ("subscript_expression", "pointer_expression"):
                return None  # `p = buf`, `return buf`: it goes on elsewhere
            if parent.type == "pointer_expression" and reader.text(parent)[:1] != "*":
                return None
            outer = parent.parent
            while outer is not None and outer.type == "parenthesized_expression":
                outer = outer.parent
            if outer is not None and outer.type == "pointer_expression":
                return None  # `&buf[i]`: handed on to be written
        if _loop_stores(reader, node, name, body, mentions, up):
            return None
        return _read(node, name)
    return None


def _tests_pointer(reader: Reader, node: Node) -> bool:
    """`p == NULL`, `!p`, `if (p)`: a test of the pointer itself."""
    parent = node.parent
    while parent is not None and parent.type == "parenthesized_expression":
        parent = parent.parent
    if parent is None:
        return False
    if parent.type == "binary_expression":
        op = parent.child_by_field_name("operator")
        return op is not None and reader.text(op) in ("==", "!=", "&&", "||")
    if parent.type == "unary_expression":
        return reader.text(parent)[:1] == "!"
    return parent.type in ("if_statement", "while_statement", "condition_clause")


def _read(node: Node, name: str) -> tuple[Node, str]:
    return node, f"{name} is read before anything is stored in it"


def uninitialised_read(reader: Reader, function: Node) -> list[Hit]:
    """A local scalar, pointer or buffer read before any store into it."""
    body = function.child_by_field_name("body")
    if body is None or function.has_error:
        return []  # `#ifdef` inside a statement: the tree does not hold the real code
    cpp = reader.file.endswith((".cpp", ".cc", ".cxx", ".hpp", ".hh", ".C"))
    nodes = list(walk(body))
    # each name's identifiers in source order: every question below reads only them (a
    # walk of the body per declared name took 76 s over 3,000 `char *pN = malloc(n)`)
    mentions: dict[str, list[Node]] = {}
    parents: dict[int, Node] = {}
    for node in nodes:
        if node.type == "identifier":
            mentions.setdefault(reader.text(node), []).append(node)
        for child in node.named_children:
            parents[child.id] = node

    def up(node: Node) -> Node | None:
        found = parents.get(node.id)
        return found if found is not None else node.parent

    declared = _declared(reader, nodes, mentions)
    if not declared:
        return []
    blocks = {name for name, (_, kind) in declared.items() if kind == "block"}
    starts: dict[str, tuple[Node, str, int]] = {
        name: (decl, kind, decl.end_byte) for name, (decl, kind) in declared.items()
    }
    for node in nodes:  # `p = malloc(n)`, `p = buf`: p points at unwritten memory
        if node.type != "assignment_expression":
            continue
        left = node.child_by_field_name("left")
        if left is None or left.type != "identifier" or reader.text(left) not in declared:
            continue
        name = reader.text(left)
        if declared[name][1] != "pointer" or starts[name][1] != "pointer":
            continue
        right = node.child_by_field_name("right")
        if right is None or not _raw_block(reader, right, blocks):
            continue
        if not _sole_alias(reader, mentions, right):
            continue
        first_mention = next(
            (n for n in mentions.get(name, ()) if n.start_byte >= starts[name][2]), None
        )
        if first_mention is left:
            starts[name] = (node, "block", node.end_byte)
    hits: list[Hit] = []
    for name, (where, kind, start) in starts.items():
        found = _first_use(reader, body, mentions.get(name, []), start, name, kind, cpp, up)
        if found is None:
            continue
        use, description = found
        what = "declared with no value" if where.type == "declaration" else "holds unset memory"
        steps = [(where, f"{name} is {what}"), (use, description)]
        message = f"{name} is read before it is set ({UNINITIALISED.cwe})"
        hits.append(reader.hit(UNINITIALISED, steps, message))
    return hits
