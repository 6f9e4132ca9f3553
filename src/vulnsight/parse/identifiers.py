"""Local names of functions (parameters and variables), found with tree-sitter, and
renaming them without moving a line.

Scanned code chooses its own names, and a name such as ``safe_sanitized_query`` is
the author's claim, not a fact. `neutralise_identifiers` gives every parameter and
local variable of each cleanly parsed function a neutral name (``v_0``, ``v_1``, ...)
for the model's eyes; names of functions, types, fields and anything that is called
(library APIs: ``strcpy``, ``os.system``) are kept, since they carry what the code
does. The same scoping rules back eval's ``rename`` and ``identifier`` perturbations.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator

from tree_sitter import Node, Tree

from vulnsight.parse.grammars import grammar_name, parse_text

FUNCTION_TYPES = frozenset(
    {
        "function_definition",
        "function_declaration",
        "method_definition",
        "function_expression",
        "arrow_function",
        "modifier_definition",
        "constructor_definition",
        "function",
    }
)
_NOT_A_VARIABLE_FIELDS = {"property", "attribute", "field"}
_NAME_PARENTS = {"keyword_argument", "struct_field_assignment", "pair", "labeled_statement"}
_DECL_PARENTS = {
    "c": {
        "init_declarator",
        "pointer_declarator",
        "array_declarator",
        "parameter_declaration",
        "declaration",
        "reference_declarator",
    },
    "python": {
        "parameters",
        "default_parameter",
        "typed_parameter",
        "typed_default_parameter",
        "list_splat_pattern",
        "dictionary_splat_pattern",
        "pattern_list",
        "tuple_pattern",
    },
    "javascript": {
        "variable_declarator",
        "formal_parameters",
        "assignment_pattern",
        "required_parameter",
        "optional_parameter",
        "arrow_function",
    },
    "solidity": {"parameter", "variable_declaration"},
}
_DECL_PARENTS["cpp"] = _DECL_PARENTS["c"]
_DECL_PARENTS["typescript"] = _DECL_PARENTS["javascript"]
_PY_DYNAMIC = re.compile(r"\b(locals|vars|eval|exec)\s*\(|\bglobal\b|\bnonlocal\b")
_CALLS = frozenset({"call_expression", "call", "new_expression"})

#: Byte edits: start -> (end, replacement).
Edits = dict[int, tuple[int, str]]


def walk(node: Node) -> Iterator[Node]:
    """Every node under `node` (itself included), depth first, without recursion."""
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(n.children))


def node_text(node: Node) -> str:
    """A node's source text."""
    return node.text.decode("utf-8", "replace") if node.text else ""


def field_of(node: Node) -> str | None:
    """The field name under which `node` hangs from its parent."""
    parent = node.parent
    if parent is None:
        return None
    for i, child in enumerate(parent.children):
        if child.id == node.id:
            return parent.field_name_for_child(i)
    return None


def outermost_functions(root: Node) -> list[Node]:
    """Function-like nodes not nested in another one."""
    found: list[Node] = []
    stack = [root]
    while stack:
        n = stack.pop()
        if n.type in FUNCTION_TYPES:
            found.append(n)
            continue
        stack.extend(n.children)
    return found


def declared_locals(fn: Node, language: str) -> tuple[list[str], list[Node]]:
    """Names declared inside a function (parameters, locals) and its identifier nodes."""
    declared: list[str] = []
    shorthand: set[str] = set()
    idents: list[Node] = []
    parents = _DECL_PARENTS[language]
    for n in walk(fn):
        if n.type.startswith("shorthand_property_identifier"):
            shorthand.add(node_text(n))
        if n.type != "identifier":
            continue
        idents.append(n)
        parent = n.parent
        if parent is None:
            continue
        field = field_of(n)
        if (
            parent.type in parents
            and field not in ("value", "type", "right")
            or (
                language == "python"
                and parent.type in ("assignment", "for_statement")
                and field == "left"
            )
        ):
            declared.append(node_text(n))
    names = [d for d in dict.fromkeys(declared) if d and d not in shorthand and d != "self"]
    return names, idents


def renamable(n: Node) -> bool:
    """Whether an identifier node is a use of a variable (not a field, key or label)."""
    field = field_of(n)
    parent = n.parent
    if field in _NOT_A_VARIABLE_FIELDS or parent is None:
        return False
    if field == "name" and parent.type in _NAME_PARENTS:
        return False
    return not (parent.type in FUNCTION_TYPES and field == "name")


def callee_names(root: Node) -> set[str]:
    """Names called anywhere (``f(...)``, ``new F(...)``): never renamed."""
    called: set[str] = set()
    for n in walk(root):
        if n.type in _CALLS:
            target = n.child_by_field_name("function") or n.child_by_field_name("constructor")
            if target is not None and target.type == "identifier":
                called.add(node_text(target))
    return called


def local_renames(
    tree: Tree, text: str, language: str, fresh: Callable[[str], str]
) -> tuple[Edits, list[Node]]:
    """Edits renaming each clean function's locals to `fresh(old)`, and those functions.

    Functions with parse errors inside are left alone: their scopes cannot be trusted.
    Names that are also called somewhere are kept (a local function pointer named like
    a library call is not worth the risk).
    """
    if language == "python" and _PY_DYNAMIC.search(text):
        return {}, []
    functions = [fn for fn in outermost_functions(tree.root_node) if not fn.has_error]
    called = callee_names(tree.root_node)
    edits: Edits = {}
    for fn in functions:
        names, idents = declared_locals(fn, language)
        new = {name: fresh(name) for name in names if name not in called}
        for n in idents:
            if node_text(n) in new and renamable(n):
                edits[n.start_byte] = (n.end_byte, new[node_text(n)])
    return edits, functions


def apply_edits(data: bytes, edits: Edits) -> str:
    """`data` with the byte edits applied."""
    out = bytearray(data)
    for start in sorted(edits, reverse=True):
        end, new = edits[start]
        out[start:end] = new.encode()
    return out.decode("utf-8", "surrogatepass")


def neutralise_identifiers(code: str, language: str, path: str = "") -> str:
    """`code` with each clean function's parameters and locals renamed ``v_<n>``;
    same lines, same calls, fields and types."""
    if not code or language not in _DECL_PARENTS:
        return code
    tree, data = parse_text(code, grammar_name(language, path))
    taken = set(re.findall(r"\w+", code))
    counter = iter(range(1 << 30))

    def fresh(_old: str) -> str:
        name = f"v_{next(counter)}"
        while name in taken:
            name = f"v_{next(counter)}"
        return name

    edits, _ = local_renames(tree, code, language, fresh)
    return apply_edits(data, edits) if edits else code
