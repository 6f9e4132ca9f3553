"""JavaScript/TypeScript: what the JS checks share. Above all, whether a value is a
constant (literals, templates without substitutions, and names the file binds to
constants only), so that a check fires on values that are *built* at run time and
stays silent on fixed ones."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from tree_sitter import Node

from vulnsight.dataflow.syntax import code_text as syntax_code_text
from vulnsight.dataflow.syntax import walk

if TYPE_CHECKING:
    from vulnsight.dataflow.blind.base import Reader

#: Names whose value is fixed by the module's own location or the language.
_FIXED_NAMES = frozenset({"__dirname", "__filename", "undefined", "NaN", "Infinity"})
_LITERALS = frozenset(
    {
        "string",
        "number",
        "true",
        "false",
        "null",
        "undefined",
        "regex",
        "string_fragment",
        "escape_sequence",
    }
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


def method_calls(root: Node) -> Iterator[tuple[Node, Node | None, Node]]:
    """(call, receiver, method name node) of every `receiver.method(...)` call under
    `root`, in source order (parentheses around the callee are looked through)."""
    for call in calls(root):
        fn = strip(call.child_by_field_name("function"))
        if call.type != "call_expression" or fn is None or fn.type != "member_expression":
            continue
        prop = fn.child_by_field_name("property")
        if prop is not None:
            yield call, fn.child_by_field_name("object"), prop


_SCOPES = frozenset(
    {
        "program",
        "function_declaration",
        "function_expression",
        "function",
        "arrow_function",
        "method_definition",
        "generator_function_declaration",
        "generator_function",
    }
)
_Key = tuple[int, int]


@dataclass
class _Scope:
    declared: dict[str, list[Node]] = field(default_factory=dict)
    params: set[str] = field(default_factory=set)
    #: names assigned, updated or left unset anywhere inside (nested functions too)
    changed: set[str] = field(default_factory=set)


def _key(node: Node) -> _Key:
    return node.start_byte, node.end_byte


@dataclass(frozen=True)
class JsFacts:
    """What the JS checks read of a whole file: per function scope, the names it
    declares (with their values), its parameters, and the names reassigned in it."""

    scopes: Mapping[_Key, _Scope] = field(default_factory=dict)
    _memo: dict[tuple[_Key, str], bool] = field(default_factory=dict)
    #: each node's parent by id: tree-sitter's `.parent` walks down from the root, so a
    #: name 300 functions deep climbed in time growing with the square (2,000 such
    #: names took 19 s)
    parents: Mapping[int, Node] = field(default_factory=dict)

    def values_of(self, reader: Reader, ident: Node) -> tuple[Node, ...]:
        """The values the declaration `ident` resolves to gives it (empty for a
        parameter, a global, or a name assigned again later)."""
        found = self._resolve(reader, ident)
        return tuple(found[1]) if found is not None else ()

    def constant_name(self, reader: Reader, ident: Node, depth: int = 0) -> bool:
        """Whether `ident` names a variable bound to constant values only (`depth`: how
        deep the question already is, see `is_constant`)."""
        found = self._resolve(reader, ident)
        if found is None:
            return False
        key, values = found
        memo = (key, reader.text(ident))
        if memo not in self._memo:
            self._memo[memo] = False  # a name defined from itself is not constant
            self._memo[memo] = all(is_constant(reader, v, depth) for v in values)
        return self._memo[memo]

    def _resolve(self, reader: Reader, ident: Node) -> tuple[_Key, list[Node]] | None:
        name = reader.text(ident)
        node: Node | None = ident
        while node is not None:
            if node.type in _SCOPES:
                scope = self.scopes.get(_key(node))
                if scope is not None:
                    if name in scope.params:
                        return None
                    if name in scope.declared:
                        if name in scope.changed:
                            return None
                        return _key(node), scope.declared[name]
            parent = self.parents.get(node.id)
            node = parent if parent is not None else node.parent
        return None


def file_facts(reader: Reader, root: Node) -> JsFacts:
    """The `JsFacts` of the file whose tree is `root`."""
    scopes: dict[_Key, _Scope] = {}
    parents: dict[int, Node] = {}
    stack: list[tuple[Node, list[_Scope]]] = [(root, [])]
    while stack:
        node, chain = stack.pop()
        for child in node.children:
            parents[child.id] = node
        if node.type in _SCOPES:
            scope = _Scope()
            scopes[_key(node)] = scope
            chain = [*chain, scope]
            _add_params(reader, node, scope)
        if chain:
            _note(reader, node, chain)
        stack.extend((child, chain) for child in reversed(node.named_children))
    return JsFacts(scopes, parents=parents)


def _add_params(reader: Reader, fn: Node, scope: _Scope) -> None:
    params = fn.child_by_field_name("parameters") or fn.child_by_field_name("parameter")
    if params is None:
        return
    for inner in walk(params):
        if inner.type in ("identifier", "shorthand_property_identifier_pattern"):
            scope.params.add(reader.text(inner))


def _note(reader: Reader, node: Node, chain: list[_Scope]) -> None:
    """Record a declaration in the innermost scope, a reassignment in every one."""
    kind = node.type
    changed: Node | None = None
    if kind == "variable_declarator":
        name = node.child_by_field_name("name")
        value = node.child_by_field_name("value")
        if name is not None and name.type == "identifier":
            if value is None:
                changed = name  # `let x;` is set later
            else:
                chain[-1].declared.setdefault(reader.text(name), []).append(value)
        elif name is not None:  # destructuring: values unknown
            for inner in walk(name):
                if inner.type in ("identifier", "shorthand_property_identifier_pattern"):
                    chain[-1].params.add(reader.text(inner))
    elif kind in ("assignment_expression", "augmented_assignment_expression"):
        changed = strip(node.child_by_field_name("left"))
    elif kind == "update_expression":
        changed = strip(node.child_by_field_name("argument"))
    elif kind in ("for_in_statement", "catch_clause"):
        target = node.child_by_field_name("left") or node.child_by_field_name("parameter")
        for inner in walk(target) if target is not None else ():
            if inner.type == "identifier":
                for scope in chain:
                    scope.changed.add(reader.text(inner))
    if changed is not None and changed.type == "identifier":
        for scope in chain:
            scope.changed.add(reader.text(changed))


#: How deep `is_constant` follows nested expressions and names bound to names: past it a
#: value counts as built (a chain of thousands of `+` or `const aN = aM + aM` would
#: otherwise exhaust Python's stack).
MAX_DEPTH = 100


def is_constant(reader: Reader, node: Node | None, depth: int = 0) -> bool:
    """Whether `node`'s value is fixed in the source: literals, templates without
    substitutions, operators and ternaries over constants, arrays of constants, names
    bound to constants only, and pure calls (`path.join`, string methods) over constants."""
    node = strip(node)
    if node is None:
        return True
    if depth > MAX_DEPTH:
        return False
    depth += 1
    kind = node.type
    if kind in _LITERALS:
        return True
    if kind == "template_string":
        return all(
            is_constant(reader, c.named_children[0] if c.named_child_count else None, depth)
            for c in node.named_children
            if c.type == "template_substitution"
        )
    if kind == "identifier":
        return reader.text(node) in _FIXED_NAMES or reader.js.constant_name(reader, node, depth)
    if kind == "binary_expression":
        left = node.child_by_field_name("left")
        right = node.child_by_field_name("right")
        return is_constant(reader, left, depth) and is_constant(reader, right, depth)
    if kind == "unary_expression":
        return is_constant(reader, node.child_by_field_name("argument"), depth)
    if kind == "ternary_expression":
        return is_constant(reader, node.child_by_field_name("consequence"), depth) and (
            is_constant(reader, node.child_by_field_name("alternative"), depth)
        )
    if kind == "array":
        return all(is_constant(reader, c, depth) for c in node.named_children)
    if kind == "call_expression":
        args = arguments(node)
        if not all(is_constant(reader, a, depth) for a in args):
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
                and is_constant(reader, obj, depth)
            )
    return False


def is_string_built(reader: Reader, node: Node | None, depth: int = 0) -> bool:
    """Whether `node` builds a string from a non-constant part: `'a' + x`, `` `a${x}` ``,
    `[..., x].join(...)`, or is a name declared so (`const cmd = 'ls ' + dir`)."""
    node = strip(node)
    if node is None or is_constant(reader, node):
        return False
    if node.type == "identifier" and depth < 2:
        declared = reader.js.values_of(reader, node)
        return any(is_string_built(reader, v, depth + 1) for v in declared)
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


def code_text(reader: Reader, node: Node) -> str:
    """`node`'s source text with its comments left out: a word a check looks for (a
    guard, an escaping call) counts in code and strings, not in a comment."""
    return syntax_code_text(reader.data, node)


def string_valued(reader: Reader, node: Node | None) -> bool:
    """Whether `node` is a string literal or template (its type is known to be string)."""
    node = strip(node)
    return node is not None and node.type in ("string", "template_string")


#: Code before and after a fragment that close what it opens or open what it closes
#: (a window cut from a file, a diff hunk): added on its first and last line only, so
#: line numbers stay.
_OPENERS = ("", "{", "_(function(){", "{{", "_(function(){{", "_(function(){_(function(){")
_CLOSERS = ("", "}", "})", "}}", "});}", "}})", "})})")
#: Fragments over this many bytes are parsed as they are.
_REPAIR_LIMIT = 40_000
#: The bytes all candidates together may parse: error recovery is slow on broken text
#: (43 candidates of a 39 kB file of random brackets took 15 s), so a long fragment
#: tries only the first few (the balancing one first).
_REPAIR_BUDGET = 200_000


def repaired_source(text: str, parse: Callable[[str], Node]) -> tuple[str, Node]:
    """`text` (or `text` with an opener and a closer around it) and its tree: the
    candidate whose parse has the fewest error nodes; `text` itself when it parses."""
    root = parse(text)
    if not root.has_error or len(text) > _REPAIR_LIMIT:
        return text, root
    best = (_errors(root), text, root)
    spent = len(text)
    for opener, closer in [_balance(text), *((o, c) for o in _OPENERS for c in _CLOSERS)]:
        if not opener and not closer:
            continue
        candidate = opener + text + closer
        spent += len(candidate)
        if spent > _REPAIR_BUDGET:
            break
        tree = parse(candidate)
        score = _errors(tree)
        if score < best[0]:
            best = (score, candidate, tree)
        if not tree.has_error:
            return candidate, tree
    return best[1], best[2]


_PAIRS = {")": "(", "]": "[", "}": "{"}
_CLOSE = {"(": ")", "[": "]", "{": "}"}


def _balance(text: str) -> tuple[str, str]:
    """What opens the brackets `text` closes first and closes those it leaves open
    (strings, templates and comments skipped; `})` opens as a function argument)."""
    stack: list[str] = []
    unopened: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c in "'\"`":
            i += 1
            while i < n and text[i] != c and not (c != "`" and text[i] == "\n"):
                i += 2 if text[i] == "\\" else 1
        elif text.startswith("//", i):
            i = text.find("\n", i)
            i = n if i < 0 else i
        elif text.startswith("/*", i):
            i = text.find("*/", i + 2)
            i = n if i < 0 else i + 1
        elif c in _CLOSE:
            stack.append(c)
        elif c in _PAIRS:
            if stack and stack[-1] == _PAIRS[c]:
                stack.pop()
            elif not stack:
                unopened.append(c)
        i += 1
    opener = "".join(reversed(unopened)).replace(")}", "_(function(){")
    opener = opener.replace(")", "_(").replace("}", "{").replace("]", "[")
    return opener, "".join(_CLOSE[c] for c in reversed(stack))


def _errors(root: Node) -> tuple[int, int]:
    """(error and missing nodes, bytes inside error nodes) of a tree."""
    count = size = 0
    stack = [root]
    while stack:
        node = stack.pop()
        if node.type == "ERROR" or node.is_missing:
            count += 1
            size += node.end_byte - node.start_byte
        if node.has_error:
            stack.extend(node.children)
    return count, size
