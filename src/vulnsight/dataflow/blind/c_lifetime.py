"""C/C++: a pointer used (CWE-416) or freed again (CWE-415) after `free(p)` or
`delete p`, with nothing stored in it in between, on a path that reaches the use: the
free is not in another branch of an `if`/`#if`/`case` than the use, and the statements
after the free (in its block) do not leave with `return`, `goto`, `break` or `continue`."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable

from tree_sitter import Node

from vulnsight.dataflow.blind.base import Check, Hit, Reader
from vulnsight.dataflow.blind.c_memory import tested_here
from vulnsight.dataflow.syntax import walk

USE_AFTER_FREE = Check(
    "use-after-free", "c", "CWE-416", "a pointer used after the block it points to is freed", 0.9
)
DOUBLE_FREE = Check("double-free", "c", "CWE-415", "a pointer freed twice", 0.9)

#: Calls that free the block their first argument points to.
FREES = frozenset({"free", "g_free", "kfree", "vfree", "cfree", "xfree", "_aligned_free"})
#: Node types whose children are alternatives: a free in one does not reach another.
_ALTERNATIVES = frozenset(
    {
        "if_statement", "conditional_expression", "preproc_if", "preproc_ifdef", "preproc_else",
        "preproc_elif", "case_statement", "catch_clause", "try_statement",
    }
)  # fmt: skip
_JUMPS = frozenset(
    {"return_statement", "goto_statement", "break_statement", "continue_statement",
     "throw_statement"}
)  # fmt: skip
_POINTERS = ("identifier", "field_expression")
#: Statements after which the code that follows in their block is not reached.
_BARRIERS = frozenset({"return_statement", "goto_statement", "throw_statement"})


def _freed(reader: Reader, node: Node) -> tuple[str, Node] | None:
    """(pointer text, node) when `node` frees a named pointer (`free(p)`, `delete[] p`)."""
    if node.type == "call_expression" and reader.callee(node) in FREES:
        args = node.child_by_field_name("arguments")
        named = [c for c in args.named_children if c.type != "comment"] if args else []
        target = named[0] if len(named) == 1 else None
    elif node.type == "delete_expression":
        named = [c for c in node.named_children if c.type != "comment"]
        target = named[-1] if named else None
    else:
        return None
    while target is not None and target.type in ("cast_expression", "parenthesized_expression"):
        target = target.child_by_field_name("value") or (
            target.named_children[-1] if target.named_children else None
        )
    if target is None or target.type not in _POINTERS:
        return None
    return reader.text(target), node


def _statement(node: Node) -> Node:
    """The statement of a block that holds `node`."""
    while node.parent is not None and node.parent.type not in (
        "compound_statement", "translation_unit", "case_statement"
    ):  # fmt: skip
        node = node.parent
    return node


def _leaves_after(free: Node) -> bool:
    """Whether a jump follows the free in its block (`free(p); return -1;`), or the free
    is itself inside a jump (`return free(p), -1;`)."""
    statement = _statement(free)
    if statement.type in _JUMPS:
        return True
    sibling = statement.next_named_sibling
    while sibling is not None:
        if sibling.type in _JUMPS:
            return True
        sibling = sibling.next_named_sibling
    return False


def _parent(node: Node) -> Node | None:
    return node.parent


#: A node's parent: tree-sitter's `.parent` walks down from the root each time (400
#: nested `if`s and 3,000 uses took 95 s), so `_Index` answers from a map instead.
Up = Callable[[Node], "Node | None"]


def _above(free: Node, up: Up = _parent) -> dict[int, Node]:
    """Each ancestor of `free` (by id) -> its child on the free's side."""
    above: dict[int, Node] = {}
    child = free
    parent = up(free)
    while parent is not None:
        above[parent.id] = child
        child, parent = parent, up(parent)
    return above


def _other_branch(
    free: Node, use: Node, above: dict[int, Node] | None = None, up: Up = _parent
) -> bool:
    """Whether the free and the use sit in different alternatives (the two sides of an
    `if`, two `case`s, two `#if` branches); `above` is `_above(free)` when known."""
    if above is None:
        above = _above(free, up)
    child = use
    parent = up(use)
    while parent is not None and parent.id not in above:
        child, parent = parent, up(parent)
    if parent is None:
        return True
    free_side = above[parent.id]
    if free_side.id == child.id:
        return False
    if parent.type in _ALTERNATIVES:
        return True
    return free_side.type == "case_statement" and child.type == "case_statement"


def _encloses(block: Node | None, node: Node) -> bool:
    """Whether `node` lies inside `block`."""
    return block is not None and block.start_byte <= node.start_byte < block.end_byte


def _branch_sets(reader: Reader, free: Node, use: Node, up: Up = _parent) -> set[str]:
    """Variables the `if` branches holding the free (but not the use) assign."""
    names: set[str] = set()
    outermost: Node | None = None  # it holds every inner one: read it alone
    parent = up(free)
    while parent is not None and not _encloses(parent, use):
        if parent.type == "if_statement":
            outermost = parent
        parent = up(parent)
    for node in walk(outermost) if outermost is not None else ():
        if node.type == "assignment_expression":
            left = node.child_by_field_name("left")
            if left is not None and left.type == "identifier":
                names.add(reader.text(left))
    return names


def _correlated(reader: Reader, free: Node, use: Node) -> bool:
    """Whether the use sits under an `if` whose condition reads a variable the free's
    own branch sets (`if (!buf) { free(p); err = 1; } ... if (!err) { use(p); }`)."""
    sets = _branch_sets(reader, free, use)
    return bool(sets) and _correlated_with(reader, sets, free, use)


def _correlated_with(
    reader: Reader, sets: set[str], free: Node, use: Node, up: Up = _parent
) -> bool:
    """Whether an `if`/loop around the use (not around the free) tests one of `sets`."""
    parent = up(use)
    while parent is not None and not _encloses(parent, free):
        if parent.type in ("if_statement", "while_statement", "for_statement"):
            condition = parent.child_by_field_name("condition")
            if condition is not None and any(
                n.type == "identifier" and reader.text(n) in sets for n in walk(condition)
            ):
                return True
        parent = up(parent)
    return False


def _assigned(reader: Reader, node: Node, up: Up = _parent) -> bool:
    """Whether `node` stores something in the pointer (`p = ...`, `&p` handed on)."""
    parent = up(node)
    if parent is None:
        return False
    if parent.type == "assignment_expression" and parent.child_by_field_name("left") == node:
        return True
    return parent.type == "pointer_expression" and reader.text(parent)[:1] == "&"


def _use(reader: Reader, node: Node) -> str | None:
    """How an occurrence of the freed pointer uses the block: a dereference or a call
    that takes it; None for anything else (`sizeof p`, `p == q`)."""
    parent = node.parent
    if parent is None:
        return None
    kind = parent.type
    if kind == "subscript_expression" and parent.child_by_field_name("argument") == node:
        return f"{reader.text(parent)[:60]} reads the freed block"
    if kind == "field_expression" and parent.child_by_field_name("argument") == node:
        op = parent.child_by_field_name("operator")
        if op is not None and reader.text(op) == "->":
            return f"{reader.text(parent)[:60]} reads the freed block"
    if kind == "pointer_expression" and reader.text(parent)[:1] == "*":
        return f"{reader.text(parent)[:60]} reads the freed block"
    if kind == "argument_list" and parent.parent is not None:
        callee = reader.callee(parent.parent)
        return f"{callee}() is given the freed pointer" if callee else None
    return None


def use_after_free(reader: Reader, function: Node) -> list[Hit]:
    """`free(p)` or `delete p`, then `p` dereferenced, handed to a call, or freed again
    before anything is stored in it.

    Each free reads only the nodes that can decide it (the pointer's mentions, its next
    frees, a store into the root of `s->buf`, the first return/goto/throw around it),
    found through an index: thousands of frees of different pointers would otherwise each
    read the rest of the function (3,000 took 25 s)."""
    body = function.child_by_field_name("body")
    if body is None or function.has_error:
        return []  # `#ifdef` inside a statement: the tree does not hold the real code
    nodes = list(walk(body))
    index = _Index(reader, nodes)
    hits: list[Hit] = []
    for i, free, name in index.frees_in_order:
        if index.leaves_after(free):
            continue
        root = name.split("->", 1)[0].split(".", 1)[0].strip()
        stop = index.barrier_after(i, free)
        above = _above(free, index.up)
        candidates = [*index.after(index.mentions, name, i), *index.after(index.freed, name, i)]
        if root != name:
            candidates.extend(index.after(index.stores, root, i)[:1])
        for j in sorted(set(candidates)):
            if j >= stop:
                break
            later = nodes[j]
            if later.start_byte < free.end_byte:
                continue
            again = index.freed_at.get(j)
            if again is not None and again == name:
                if not _other_branch(free, later, above, index.up) and not index.correlated(
                    free, later
                ):
                    steps = [(free, f"{name} is freed"), (later, f"{name} is freed again")]
                    message = f"{name} is freed twice ({DOUBLE_FREE.cwe})"
                    hits.append(reader.hit(DOUBLE_FREE, steps, message))
                break
            if later.type == "identifier" and root != name and reader.text(later) == root:
                break  # `s = next; s->buf`: another block's field (a store: see `stores`)
            if later.type not in _POINTERS or reader.text(later) != name:
                continue
            if _other_branch(free, later, above, index.up) or index.correlated(free, later):
                continue
            if _assigned(reader, later, index.up) or tested_here(later, body, reader):
                break
            use = _use(reader, later)
            if use is None:
                continue
            steps = [(free, f"{name} is freed"), (later, use)]
            message = f"{name} is used after it is freed ({USE_AFTER_FREE.cwe})"
            hits.append(reader.hit(USE_AFTER_FREE, steps, message))
            break
    return hits


class _Index:
    """Where each pointer text is mentioned, freed and (for a root) stored into, among a
    function's nodes in source order; the return/goto/throw statements of each block."""

    def __init__(self, reader: Reader, nodes: list[Node]) -> None:
        self.reader = reader
        self.mentions: dict[str, list[int]] = {}
        self.freed: dict[str, list[int]] = {}
        self.stores: dict[str, list[int]] = {}
        self.freed_at: dict[int, str] = {}
        self.frees_in_order: list[tuple[int, Node, str]] = []
        self.barriers: dict[int, list[int]] = {}  # parent id -> its barrier children
        self._jumps: dict[int, bool] = {}
        self._sets: dict[tuple[int, int], set[str]] = {}
        self._chains: dict[int, list[Node]] = {}  # a free's ancestors, innermost first
        self._parents: dict[int, Node] = {}
        for node in nodes:
            for child in node.named_children:
                self._parents[child.id] = node
        for i, node in enumerate(nodes):
            found = _freed(reader, node)
            if found is not None:
                self.freed.setdefault(found[0], []).append(i)
                self.freed_at[i] = found[0]
                self.frees_in_order.append((i, node, found[0]))
            elif node.type in _POINTERS:
                text = reader.text(node)
                self.mentions.setdefault(text, []).append(i)
                if node.type == "identifier" and _assigned(reader, node, self.up):
                    self.stores.setdefault(text, []).append(i)
            elif node.type in _BARRIERS and (holder := self.up(node)) is not None:
                self.barriers.setdefault(holder.id, []).append(i)

    def up(self, node: Node) -> Node | None:
        """`node.parent`, from the map inside the body."""
        found = self._parents.get(node.id)
        return found if found is not None else node.parent

    @staticmethod
    def after(table: dict[str, list[int]], key: str, i: int) -> list[int]:
        """The indices in `table[key]` past `i`."""
        found = table.get(key, [])
        return found[bisect_right(found, i) :]

    def barrier_after(self, i: int, free: Node) -> int:
        """The index of the first return/goto/throw past `i` whose block holds the free
        (`free(p); ... return;` at the free's level or above); past the end if none."""
        first = 1 << 62
        parent = self.up(free)
        while parent is not None:
            found = self.barriers.get(parent.id)
            if found:
                k = bisect_right(found, i)
                if k < len(found):
                    first = min(first, found[k])
            parent = self.up(parent)
        return first

    def leaves_after(self, free: Node) -> bool:
        """`_leaves_after`, each block's statements read once."""
        statement = _statement(free)
        if statement.type in _JUMPS:
            return True
        return self._jump_from(statement.next_named_sibling)

    def _jump_from(self, start: Node | None) -> bool:
        """Whether `start` or a statement after it in its block is a jump."""
        path: list[Node] = []
        node = start
        answer = False
        while node is not None:
            if node.id in self._jumps:
                answer = self._jumps[node.id]
                break
            path.append(node)
            if node.type in _JUMPS:
                answer = True
                break
            node = node.next_named_sibling
        for seen in path:
            self._jumps[seen.id] = answer
        return answer

    def correlated(self, free: Node, use: Node) -> bool:
        """`_correlated`, the branch's assignments read once per free and block."""
        if free.id not in self._chains:
            chain = self._chains[free.id] = []
            parent = self.up(free)
            while parent is not None:
                chain.append(parent)
                parent = self.up(parent)
        outer = next((p for p in self._chains[free.id] if _encloses(p, use)), None)
        key = (free.id, outer.id if outer is not None else -1)
        if key not in self._sets:
            self._sets[key] = _branch_sets(self.reader, free, use, self.up)
        sets = self._sets[key]
        return bool(sets) and _correlated_with(self.reader, sets, free, use, self.up)
