"""C/C++: the result of an allocation used before a NULL check (CWE-690), and
`p = realloc(p, n)`, which loses the only pointer to the block when it fails (CWE-401)."""

from __future__ import annotations

import re
from bisect import bisect_right

from tree_sitter import Node

from vulnsight.dataflow.blind.base import Check, Hit, Reader, ancestors, unwrap
from vulnsight.dataflow.syntax import walk

NULL_DEREF = Check(
    "null-deref-after-alloc",
    "c",
    "CWE-690",
    "allocation result dereferenced without a NULL check",
    0.59,
)
REALLOC_LEAK = Check(
    "realloc-loses-pointer",
    "c",
    "CWE-401",
    "p = realloc(p, n) leaks the block when realloc fails",
    0.9,
)

#: Calls that return NULL on failure (C++ `new` throws instead).
ALLOCATORS = frozenset(
    {"malloc", "calloc", "realloc", "strdup", "strndup", "wcsdup", "fopen", "_wfopen", "tmpfile"}
)
#: Calls that dereference the pointer argument at the listed positions.
DEREFERENCING = {
    "memcpy": (0, 1), "memmove": (0, 1), "memset": (0,), "strcpy": (0, 1), "strncpy": (0, 1),
    "strcat": (0, 1), "strncat": (0, 1), "wcscpy": (0, 1), "wcsncpy": (0, 1), "wcscat": (0, 1),
    "sprintf": (0,), "vsprintf": (0,), "strlen": (0,), "wcslen": (0,), "wmemset": (0,),
    "fprintf": (0,), "fputs": (1,), "fputc": (1,), "fwrite": (3,), "fread": (3,),
    "fgets": (2,), "fscanf": (0,), "fseek": (0,), "ftell": (0,), "fgetc": (0,),
}  # fmt: skip
#: Node types whose subtree is a condition: a use there is a check.
_CONDITIONS = frozenset(
    {"if_statement", "while_statement", "do_statement", "for_statement", "conditional_expression"}
)
_NULLS = frozenset({"NULL", "0", "nullptr", "((void*)0)"})
_DEREFERENCES = frozenset({"subscript_expression", "field_expression"})
_ASSERTS = ("assert", "ASSERT", "g_assert", "g_return_if_fail", "g_return_val_if_fail")


def _allocation(node: Node, reader: Reader) -> tuple[str, Node] | None:
    """(pointer name, call) when `node` stores an allocator's result in a variable."""
    if node.type == "init_declarator":
        target = node.child_by_field_name("declarator")
        value = node.child_by_field_name("value")
        while target is not None and target.type in ("pointer_declarator", "reference_declarator"):
            target = target.child_by_field_name("declarator")
    elif node.type == "assignment_expression" and reader.text(node.children[1]) == "=":
        target = node.child_by_field_name("left")
        value = node.child_by_field_name("right")
    else:
        return None
    value = _uncast(value, reader)
    if target is None or value is None or value.type != "call_expression":
        return None
    if target.type not in ("identifier", "field_expression"):
        return None
    if reader.callee(value) not in ALLOCATORS:
        return None
    return reader.text(target), value


def _uncast(value: Node | None, reader: Reader) -> Node | None:
    """`(T *)malloc(n)`, `static_cast<T *>(malloc(n))` -> `malloc(n)`."""
    while value is not None:
        if value.type in ("cast_expression", "parenthesized_expression"):
            value = value.child_by_field_name("value") or (
                value.named_children[-1] if value.named_children else None
            )
        elif value.type == "call_expression" and re.match(
            r"(?:static|reinterpret|const)_cast\b", reader.callee(value)
        ):
            args = value.child_by_field_name("arguments")
            value = args.named_children[0] if args is not None and args.named_children else None
        else:
            return value
    return None


def tested_here(node: Node, body: Node, reader: Reader) -> bool:
    """Whether `node` is tested (an `if`/loop condition, `&&`, `==`, `!`, an assert) or
    returned (the caller checks it) rather than used inside its statement."""
    child = node
    for parent in ancestors(node, body):
        if parent.type in _DEREFERENCES and parent.child_by_field_name("argument") == child:
            return False  # `*p == 5`, `p->n > 0`: a use of what p points to, not a test of p
        if parent.type == "pointer_expression" and reader.text(parent)[:1] == "*":
            return False
        if parent.type == "argument_list" and parent.parent is not None:
            return reader.callee(parent.parent) in _ASSERTS  # `strlen(p) > 0` uses p
        if parent.type in _CONDITIONS and parent.child_by_field_name("condition") == child:
            return True
        if parent.type == "binary_expression":
            op = parent.child_by_field_name("operator")
            if op is not None and reader.text(op) in ("&&", "||", "==", "!="):
                return True
        if parent.type == "unary_expression" and reader.text(parent)[:1] == "!":
            return True
        if parent.type == "call_expression" and reader.callee(parent) in _ASSERTS:
            return True
        if parent.type == "return_statement":
            return True
        if parent.type in ("expression_statement", "compound_statement", "declaration"):
            return False
        child = parent
    return False


def use_of(node: Node, reader: Reader) -> str | None:
    """How an occurrence of the pointer uses it: `deref` (with a description), `stop`
    (reassigned, checked, handed on: the check can say nothing more) or None (ignored)."""
    parent = node.parent
    if parent is None:
        return "stop"
    kind = parent.type
    if kind == "sizeof_expression" or any(a.type == "sizeof_expression" for a in _up(node, 3)):
        return None
    if kind == "subscript_expression" and parent.child_by_field_name("argument") == node:
        return f"dereferenced without a NULL check: {reader.text(parent)[:60]}"
    if kind == "field_expression" and parent.child_by_field_name("argument") == node:
        op = parent.child_by_field_name("operator")
        if op is not None and reader.text(op) == "->":
            return f"dereferenced without a NULL check: {reader.text(parent)[:60]}"
    if kind == "pointer_expression" and reader.text(parent)[:1] == "*":
        return f"dereferenced without a NULL check: {reader.text(parent)[:60]}"
    if kind == "argument_list" and parent.parent is not None:
        call = parent.parent
        positions = DEREFERENCING.get(reader.callee(call))
        index = [c.id for c in parent.named_children].index(node.id)
        if positions is not None and index in positions:
            return f"passed to {reader.callee(call)}() without a NULL check"
    return "stop"


def _up(node: Node, levels: int) -> list[Node]:
    found: list[Node] = []
    parent = node.parent
    while parent is not None and len(found) < levels:
        found.append(parent)
        parent = parent.parent
    return found


#: What names a pointer where a use of it is looked for.
_POINTERS = ("identifier", "field_expression")


def first_unchecked_use(
    reader: Reader,
    body: Node,
    nodes: list[Node],
    after: int,
    name: str,
    kinds: tuple[str, ...] = ("identifier",),
) -> tuple[Node, str] | None:
    """The first node of `nodes` (in order, from byte `after` on) that uses pointer
    `name` before any test of it, with what the use does; None when a test of the
    pointer, or a use that ends the question (`use_of` says "stop"), comes first. A
    name that is only a struct field (`x.name`) is not the pointer."""
    for later in nodes:
        if later.start_byte < after:
            continue
        if later.type not in kinds or reader.text(later) != name:
            continue
        parent = later.parent
        if (
            later.type == "identifier"
            and parent is not None
            and parent.type == "field_expression"
            and parent.child_by_field_name("field") == later
        ):
            continue
        if tested_here(later, body, reader):
            return None
        use = use_of(later, reader)
        if use is None:
            continue
        return None if use == "stop" else (later, use)
    return None


class Mentions:
    """The nodes of given kinds (`identifier`, `field_expression`) among a function's
    nodes, by text, in source order: `first_unchecked_use` needs only the pointer's own
    (handing it every later node made 3,000 allocations take 54 s)."""

    def __init__(self, reader: Reader, nodes: list[Node], kinds: tuple[str, ...]) -> None:
        self.nodes = nodes
        self.at: dict[str, list[int]] = {}
        for i, node in enumerate(nodes):
            if node.type in kinds:
                self.at.setdefault(reader.text(node), []).append(i)

    def after(self, name: str, i: int) -> list[Node]:
        """The mentions of `name` past index `i`."""
        found = self.at.get(name, [])
        return [self.nodes[j] for j in found[bisect_right(found, i) :]]


def null_deref_after_alloc(reader: Reader, function: Node) -> list[Hit]:
    """Allocation results (malloc, calloc, realloc, strdup, fopen...) dereferenced
    before any test of the pointer."""
    body = function.child_by_field_name("body")
    if body is None:
        return []
    hits: list[Hit] = []
    nodes = list(walk(body))
    mentions = Mentions(reader, nodes, _POINTERS)
    for i, node in enumerate(nodes):
        found = _allocation(node, reader)
        if found is None or tested_here(node, body, reader):
            continue
        name, call = found
        later_uses = mentions.after(name, i)
        first = first_unchecked_use(reader, body, later_uses, node.end_byte, name, _POINTERS)
        if first is not None:
            later, use = first
            steps = [
                (call, f"{reader.callee(call)}() may return NULL, stored in {name}"),
                (later, use),
            ]
            message = (
                f"{name} from {reader.callee(call)}() is used before it is checked "
                f"for NULL ({NULL_DEREF.cwe})"
            )
            hits.append(reader.hit(NULL_DEREF, steps, message))
    return hits


#: Calls that end the process (or never return) when memory runs out.
_FATAL = re.compile(r"exit|abort|die|fatal|panic|oom|exhausted|out_of_memory|assert", re.I)


def _fails_fatally(reader: Reader, assignment: Node, name: str) -> bool:
    """Whether the statement after `p = realloc(p, n);` ends the process when p is NULL
    (`if (!p) abort();`): the leak cannot outlive the failure."""
    statement = assignment.parent
    after = statement.next_named_sibling if statement is not None else None
    if after is None or after.type != "if_statement":
        return False
    condition = after.child_by_field_name("condition")
    consequence = after.child_by_field_name("consequence")
    if condition is None or consequence is None or name not in reader.text(condition):
        return False
    return any(
        n.type == "call_expression" and _FATAL.search(reader.callee(n)) for n in walk(consequence)
    )


def realloc_loses_pointer(reader: Reader, function: Node) -> list[Hit]:
    """`p = realloc(p, n)`: when realloc fails it returns NULL and p's block leaks."""
    hits: list[Hit] = []
    null: set[str] = set()  # pointers last set to NULL: realloc(NULL, n) is malloc(n)
    for node in walk(function):
        if node.type == "init_declarator" or (
            node.type == "assignment_expression" and reader.text(node.children[1]) == "="
        ):
            target = node.child_by_field_name("declarator") or node.child_by_field_name("left")
            while target is not None and target.type == "pointer_declarator":
                target = target.child_by_field_name("declarator")
            value = node.child_by_field_name("value") or node.child_by_field_name("right")
            if target is not None and value is not None:
                if reader.text(value).strip() in _NULLS:
                    null.add(reader.text(target))
                elif (
                    node.type == "init_declarator"
                    or reader.text(target) not in null
                    or ("realloc" not in reader.text(value))
                ):
                    null.discard(reader.text(target))
        if node.type != "assignment_expression" or reader.text(node.children[1]) != "=":
            continue
        left = node.child_by_field_name("left")
        right = unwrap(node.child_by_field_name("right"))
        while right is not None and right.type == "cast_expression":
            right = right.child_by_field_name("value")
        if left is None or right is None or right.type != "call_expression":
            continue
        if reader.callee(right) not in ("realloc", "reallocarray", "g_realloc"):
            continue
        args = right.child_by_field_name("arguments")
        first = args.named_children[0] if args is not None and args.named_children else None
        if first is None or reader.text(first) != reader.text(left):
            continue
        if reader.text(left) in null:
            null.discard(reader.text(left))  # from here on it holds a block
            continue
        if _fails_fatally(reader, node, reader.text(left)):
            continue
        step = (node, f"{reader.text(left)} = realloc({reader.text(left)}, ...) overwrites "
                "the only pointer to the block")  # fmt: skip
        message = (
            f"if realloc fails, {reader.text(left)} becomes NULL and the old block leaks "
            f"({REALLOC_LEAK.cwe}); assign to a temporary first"
        )
        hits.append(reader.hit(REALLOC_LEAK, [step], message))
    return hits
