"""Split a source file into the functions the model judges.

One walk over the tree-sitter tree finds every function-like definition, names it
after the scopes that enclose it, and collects the names it calls. What lies outside
every function becomes one `toplevel` unit, unless it is only imports, comments and
declarations.
"""

from __future__ import annotations

import bisect
import math
import re
import time
from dataclasses import dataclass, field

from tree_sitter import Node

from vulnsight.errors import ParseError
from vulnsight.parse.comments import comment_ranges
from vulnsight.parse.grammars import (
    DEFAULT_BUDGET,
    ParseBudget,
    count_errors,
    grammar_name,
    parse_text,
)
from vulnsight.types import Function, SourceFile

TOPLEVEL_NAME = "<toplevel>"

# fmt: off
_FAMILY_SEPARATOR = {"cpp": "::", "c": "::"}

# Node types whose named children are statements of the code outside functions.
_STATEMENT_PARENTS = frozenset(
    {
        "module", "program", "translation_unit", "source_file", "declaration_list",
        "field_declaration_list", "preproc_ifdef", "preproc_if", "preproc_else", "preproc_elif",
        "template_declaration", "class_body", "contract_body", "export_statement",
        "decorated_definition", "linkage_specification",
    }
)
# Statements that hold no code worth judging on their own.
_IGNORABLE = frozenset(
    {
        "comment", "import_statement", "import_from_statement", "future_import_statement",
        "preproc_include", "preproc_call", "pragma_directive", "import_directive",
        "using_declaration", "using_directive", "alias_declaration", "namespace_alias_definition",
        "access_specifier", "field_definition", "public_field_definition", "field_declaration",
        "declaration", "type_definition", "struct_specifier", "union_specifier", "enum_specifier",
        "interface_declaration", "type_alias_declaration", "ambient_declaration",
        "abstract_method_signature", "method_signature", "function_signature",
        "state_variable_declaration", "event_definition", "error_declaration",
        "struct_declaration", "enum_declaration", "user_defined_type_definition", "decorator",
        "empty_statement", "ERROR",
    }
)
# Nodes between a class and its members, which keep the members' owner.
_OWNER_KEEPERS = frozenset(
    {
        "class_body", "field_declaration_list", "contract_body", "block", "decorated_definition",
        "template_declaration",
    }
)
# Statements that only hold other statements (examined one by one).
_CONTAINERS = frozenset(
    {
        "class_definition", "class_declaration", "abstract_class_declaration", "class",
        "class_specifier", "struct_specifier", "namespace_definition", "contract_declaration",
        "library_declaration", "interface_declaration", "decorated_definition",
        "template_declaration", "export_statement", "preproc_ifdef", "preproc_if", "preproc_else",
        "preproc_elif", "linkage_specification",
    }
)
_CALL_TYPES = frozenset({"call_expression", "call"})
_NAME_LEAVES = frozenset(
    {
        "identifier", "field_identifier", "property_identifier", "type_identifier",
        "private_property_identifier", "namespace_identifier", "destructor_name", "operator_name",
        "shorthand_property_identifier",
    }
)
_CALLEE_FIELDS = ("property", "field", "attribute", "name", "type", "function")
_JS_FUNCTION_VALUES = frozenset(
    {"arrow_function", "function_expression", "function", "generator_function"}
)
_JS_DECLARATIONS = frozenset(
    {"function_declaration", "generator_function_declaration", "method_definition"}
)
_SOLIDITY_FUNCTIONS = frozenset(
    {
        "function_definition", "modifier_definition", "constructor_definition",
        "fallback_receive_definition",
    }
)
# fmt: on

_WS = re.compile(r"\s+")


@dataclass(frozen=True)
class ParseResult:
    """The functions of one file and how many ERROR nodes its parse held."""

    functions: tuple[Function, ...]
    error_count: int

    @property
    def has_error(self) -> bool:
        """Whether tree-sitter had to recover from syntax errors."""
        return self.error_count > 0


@dataclass
class _Unit:
    name: str
    kind: str
    outer: Node
    node: Node
    calls: list[tuple[int, str]] = field(default_factory=list)


@dataclass(frozen=True)
class _Frame:
    node: Node
    prefix: str  # qualified name of the enclosing scope, "" at file level
    unit: int  # index of the enclosing unit in the walk's list, -1 outside functions
    owner: str | None  # class (or object) name when the node sits directly in one
    statement: bool  # whether the node is a statement of the code outside functions


class _Walk:
    """State of one extraction walk over a parsed file."""

    def __init__(self, source: SourceFile, data: bytes, deadline: float = math.inf) -> None:
        self.deadline = deadline
        self.language = source.language
        self.data = data
        self.sep = _FAMILY_SEPARATOR.get(source.language, ".")
        self.units: list[_Unit] = []
        self.toplevel_calls: list[tuple[int, str]] = []
        self.loose: list[Node] = []  # statements outside functions that hold code

    def text(self, node: Node) -> str:
        return self.data[node.start_byte : node.end_byte].decode("utf-8", "replace")

    def qualify(self, prefix: str, name: str) -> str:
        return f"{prefix}{self.sep}{name}" if prefix else name

    def run(self, root: Node) -> None:
        stack = [_Frame(root, "", -1, None, False)]
        steps = 0
        while stack:
            steps += 1
            if steps % 4096 == 0 and time.monotonic() > self.deadline:
                raise ParseError("over the parse budget: extracting functions took too long")
            frame = stack.pop()
            node = frame.node
            children = self.visit(frame)
            stack.extend(reversed(children))
            if node.type in _CALL_TYPES:
                callee = node.child_by_field_name("function")
                leaf = _callee_leaf(callee) if callee is not None else None
                if leaf is not None:
                    self.add_call(frame.unit, leaf)
            elif node.type == "modifier_invocation" and node.named_child_count:
                self.add_call(frame.unit, node.named_children[0])

    def add_call(self, unit: int, leaf: Node) -> None:
        name = self.text(leaf).lstrip("~#")
        if name:
            call = (leaf.start_byte, name)
            (self.units[unit].calls if unit >= 0 else self.toplevel_calls).append(call)

    def visit(self, frame: _Frame) -> list[_Frame]:
        """Record what `frame.node` defines; return the frames of its children."""
        node = frame.node
        found = self.function_at(frame)
        if found is not None:
            name, kind, outer = found
            self.units.append(_Unit(self.qualify(frame.prefix, name), kind, outer, node))
            index = len(self.units) - 1
            return [
                _Frame(child, self.units[index].name, index, None, False) for child in node.children
            ]
        if (
            frame.statement
            and frame.unit < 0
            and node.is_named
            and node.type not in _IGNORABLE
            and node.type not in _CONTAINERS
            and not self.is_declaration_only(node)
        ):
            self.loose.append(node)
        scope = self.scope_name(node, frame)
        prefix, owner = frame.prefix, frame.owner
        if scope is not None:
            prefix, owner = self.qualify(frame.prefix, scope), scope
        elif node.type not in _OWNER_KEEPERS:
            owner = frame.owner if node.type in ("object", "pair") else None
        statement_parent = node.type in _STATEMENT_PARENTS or (
            node.type == "block" and frame.owner is not None and self.language == "python"
        )
        return [
            _Frame(child, prefix, frame.unit, owner, statement_parent and frame.unit < 0)
            for child in node.children
        ]

    def is_declaration_only(self, node: Node) -> bool:
        """Statements that only import or export (`require`, `module.exports = x`)."""
        if self.language == "python":
            return node.type == "expression_statement" and _is_string_statement(node)
        if self.language not in ("javascript", "typescript"):
            return False
        text = self.text(node)
        if node.type in ("lexical_declaration", "variable_declaration"):
            values = [d.child_by_field_name("value") for d in node.named_children]
            return all(
                v is not None
                and v.type in ("call_expression", "member_expression")
                and self.text(v).startswith("require(")
                for v in values
            )
        if node.type == "expression_statement":
            return text.startswith(("module.exports", "exports.", "'use strict'", '"use strict"'))
        return node.type == "export_statement" and node.child_by_field_name("declaration") is None

    def scope_name(self, node: Node, frame: _Frame) -> str | None:
        """The name a class, namespace, contract or named object literal adds to scope."""
        kind = node.type
        if kind in (
            "class_definition",
            "class_declaration",
            "abstract_class_declaration",
            "class",
            "class_specifier",
            "struct_specifier",
            "namespace_definition",
            "contract_declaration",
            "library_declaration",
            "interface_declaration",
        ):
            name = node.child_by_field_name("name")
            if name is None:
                return None if kind != "class" else self.assigned_name(node)
            return _collapse(self.text(name))
        if kind == "object" and frame.unit < 0:
            return self.assigned_name(node)
        return None

    def assigned_name(self, node: Node) -> str | None:
        """The name a value is bound to: `x = v`, `obj.m = v`, `{k: v}`, a class field."""
        parent = node.parent
        if parent is None:
            return None
        if parent.type == "variable_declarator":
            name = parent.child_by_field_name("name")
            return self.text(name) if name is not None and name.type == "identifier" else None
        if parent.type == "assignment_expression":
            left = parent.child_by_field_name("left")
            return _collapse(self.text(left)) if left is not None else None
        if parent.type == "pair":
            key = parent.child_by_field_name("key")
            return _unquote(self.text(key)) if key is not None else None
        if parent.type in ("field_definition", "public_field_definition"):
            key = parent.child_by_field_name("property") or parent.child_by_field_name("name")
            return self.text(key) if key is not None else None
        if parent.type == "export_statement":
            return "default"
        return None

    def function_at(self, frame: _Frame) -> tuple[str, str, Node] | None:
        """(name, kind, outer node) when `frame.node` is a function-like unit."""
        node = frame.node
        language = self.language
        if language in ("c", "cpp"):
            if node.type != "function_definition" or node.child_by_field_name("body") is None:
                return None
            name = _c_declarator_name(node.child_by_field_name("declarator"), self)
            if name is None:
                return None
            outer = node.parent if _parent_type(node) == "template_declaration" else node
            return name, self.method_kind(frame, name), outer or node
        if language == "python":
            if node.type != "function_definition":
                return None
            name = self.text(node.child_by_field_name("name") or node)
            outer = node.parent if _parent_type(node) == "decorated_definition" else node
            return name, self.method_kind(frame, name), outer or node
        if language == "solidity":
            return self.solidity_function(node)
        return self.js_function(frame)

    def method_kind(self, frame: _Frame, name: str) -> str:
        if frame.owner is None:
            if self.sep == "::" and "::" in name:
                scope, _, last = name.rpartition("::")
                return "constructor" if scope.rpartition("::")[2] == last else "method"
            return "function"
        constructors = ("__init__", "constructor", frame.owner)
        return "constructor" if name in constructors else "method"

    def solidity_function(self, node: Node) -> tuple[str, str, Node] | None:
        if node.type not in _SOLIDITY_FUNCTIONS or node.child_by_field_name("body") is None:
            return None
        if node.type == "constructor_definition":
            return "constructor", "constructor", node
        if node.type == "fallback_receive_definition":
            head = self.text(node).lstrip()
            return ("receive" if head.startswith("receive") else "fallback"), "function", node
        name = node.child_by_field_name("name")
        if name is None:
            return None
        kind = "modifier" if node.type == "modifier_definition" else "function"
        return self.text(name), kind, node

    def js_function(self, frame: _Frame) -> tuple[str, str, Node] | None:
        node = frame.node
        if node.type in _JS_DECLARATIONS:
            if node.child_by_field_name("body") is None:
                return None
            name = _unquote(self.text(node.child_by_field_name("name") or node))
            if node.type == "method_definition":
                return name, self.method_kind(frame, name), node
            return name, "function", node
        if node.type not in _JS_FUNCTION_VALUES:
            return None
        assigned = self.assigned_name(node)
        parent = node.parent
        if assigned is not None and parent is not None:
            outer = parent
            if parent.type == "variable_declarator" and parent.parent is not None:
                if parent.parent.named_child_count == 1:
                    outer = parent.parent
            elif parent.type == "assignment_expression" and _parent_type(parent) == (
                "expression_statement"
            ):
                outer = parent.parent or parent
            kind = (
                "method"
                if parent.type in ("pair", "field_definition", "public_field_definition")
                else "function"
            )
            return assigned, kind, outer
        if frame.unit >= 0:
            return None  # an inline callback stays part of the function around it
        return self.callback_name(node), "function", node

    def callback_name(self, node: Node) -> str:
        """`app.get('/x') handler` for a route callback, else `<anonymous@LINE>`."""
        line = node.start_point.row + 1
        args = node.parent
        call = args.parent if args is not None else None
        if args is None or call is None or args.type != "arguments" or call.type not in _CALL_TYPES:
            return f"<anonymous@{line}>"
        callee = call.child_by_field_name("function")
        first = args.named_children[0] if args.named_child_count else None
        if callee is None or first is None or first.type not in ("string", "template_string"):
            return f"<anonymous@{line}>"
        callee_text = _collapse(self.text(callee))[:60]
        return f"{callee_text}('{_collapse(self.text(first))[1:-1][:80]}') handler"


def parse_source(source: SourceFile, budget: ParseBudget = DEFAULT_BUDGET) -> ParseResult:
    """Parse one file into its functions (see `extract`) and count its syntax errors.

    Raises ParseError when the file is over `budget` (too long a line, too many syntax
    nodes, or more time than the budget allows for parsing and extraction).
    """
    grammar = grammar_name(source.language, source.path)
    deadline = time.monotonic() + budget.seconds
    tree, data = parse_text(source.text, grammar, budget)
    walk = _Walk(source, data, deadline)
    walk.run(tree.root_node)
    lines = source.text.split("\n")
    comments = comment_ranges(tree, data, source.language)
    units = [(unit, walk, comments) for unit in walk.units]
    # the walk may already have found a function inside an ERROR region: keep one copy
    known = {(unit.name, _line_span(unit.outer)) for unit in walk.units}
    units.extend(
        item
        for item in _recover(source, grammar, tree.root_node, lines, deadline)
        if (item[0].name, _line_span(item[0].outer)) not in known
    )
    units.sort(key=lambda item: (item[0].outer.start_point.row, item[0].outer.start_byte))
    functions: list[Function] = []
    covered = [False] * (len(lines) + 2)
    for unit, owner, spans in units:
        start, end = _line_span(unit.outer)
        for line in range(start, end + 1):
            covered[line] = True
        functions.append(
            Function(
                file=source.path,
                language=source.language,
                name=unit.name,
                start_line=start,
                end_line=end,
                code="\n".join(lines[start - 1 : end]),
                signature=_signature(unit, owner.data, spans),
                calls=_ordered_names(unit.calls),
                kind=unit.kind,
            )
        )
    toplevel = _toplevel(source, walk, lines, covered)
    if toplevel is not None:
        functions.insert(0, toplevel)
    return ParseResult(tuple(functions), count_errors(tree))


def _recover(
    source: SourceFile, grammar: str, root: Node, lines: list[str], deadline: float = math.inf
) -> list[tuple[_Unit, _Walk, list[tuple[int, int]]]]:
    """Functions inside top-level ERROR regions, found by parsing the region in pieces.

    Tree-sitter sometimes swallows every function after a C syntax error into one
    ERROR node. The region is cut where a new definition seems to begin (a line at
    column 0 after a blank line or a closing brace), each piece is parsed alone with
    its line numbers kept, and the functions that parse cleanly are kept.
    """
    found: list[tuple[_Unit, _Walk, list[tuple[int, int]]]] = []
    for error in root.named_children:
        if error.type != "ERROR":
            continue
        first, last = _line_span(error)
        starts = [first] + [n for n in range(first + 1, last + 1) if _starts_definition(lines, n)]
        for begin, stop in zip(starts, [*starts[1:], last + 1], strict=True):
            piece = "\n" * (begin - 1) + "\n".join(lines[begin - 1 : stop - 1])
            if time.monotonic() > deadline:
                raise ParseError(
                    "over the parse budget: recovering from syntax errors took too long"
                )
            tree, data = parse_text(piece, grammar)
            walk = _Walk(source, data, deadline)
            walk.run(tree.root_node)
            comments = comment_ranges(tree, data, source.language)
            found.extend((u, walk, comments) for u in walk.units if not u.outer.has_error)
    return found


def extract(source: SourceFile) -> list[Function]:
    """The functions, methods, modifiers and top-level code of a source file.

    Syntax errors do not stop it: whatever tree-sitter recovers is returned (see
    `parse_errors`). Raises ParseError only for a language without a grammar.
    """
    return list(parse_source(source).functions)


def parse_errors(source: SourceFile, budget: ParseBudget = DEFAULT_BUDGET) -> int:
    """How many ERROR nodes tree-sitter produced for the file (0: it parsed cleanly)."""
    tree, _ = parse_text(source.text, grammar_name(source.language, source.path), budget)
    return count_errors(tree)


def _starts_definition(lines: list[str], number: int) -> bool:
    """Whether file line `number` looks like the start of a new top-level definition."""
    if lines[number - 1][:1] in ("", " ", "\t", "}", "{", ")", "#"):
        return False
    previous = lines[number - 2].rstrip()
    return not previous or previous.endswith(("}", ";"))


def _toplevel(
    source: SourceFile, walk: _Walk, lines: list[str], covered: list[bool]
) -> Function | None:
    """The code outside every function, other lines blanked, or None when it is idle."""
    loose = [
        node
        for node in walk.loose
        if not all(covered[line] for line in range(*_range_of(_line_span(node))))
    ]
    if not loose:
        return None
    kept = [
        "" if covered[number] else text.rstrip("\r") for number, text in enumerate(lines, start=1)
    ]
    numbered = [number for number, text in enumerate(kept, start=1) if text.strip()]
    if not numbered:  # loose nodes (e.g. error recovery) covering only blank lines
        return None
    start, end = numbered[0], numbered[-1]
    return Function(
        file=source.path,
        language=source.language,
        name=TOPLEVEL_NAME,
        start_line=start,
        end_line=end,
        code="\n".join(kept[start - 1 : end]),
        signature="",
        calls=_ordered_names(walk.toplevel_calls),
        kind="toplevel",
    )


def _range_of(span: tuple[int, int]) -> tuple[int, int]:
    return span[0], span[1] + 1


def _line_span(node: Node) -> tuple[int, int]:
    """1-based first and last line of a node; a node ending at column 0 ends a line early."""
    start = node.start_point.row + 1
    end = node.end_point.row + 1
    if node.end_point.column == 0 and end > start:
        end -= 1
    return start, end


def _signature(unit: _Unit, data: bytes, comments: list[tuple[int, int]]) -> str:
    """The header of a unit, from its start to its body, comments removed, one line."""
    node = unit.node
    begin = (
        unit.outer.start_byte
        if unit.outer.type
        in (
            "lexical_declaration",
            "variable_declaration",
            "variable_declarator",
            "expression_statement",
            "assignment_expression",
            "pair",
            "field_definition",
            "public_field_definition",
        )
        else node.start_byte
    )
    body = node.child_by_field_name("body")
    stop = body.start_byte if body is not None else node.end_byte
    pieces: list[bytes] = []
    pos = begin
    first = max(bisect.bisect_left(comments, (begin, 0)) - 1, 0)
    for start, end in comments[first:]:
        if start >= stop:
            break
        if end <= begin:
            continue
        pieces.append(data[pos : max(pos, start)])
        pos = max(pos, end)
    pieces.append(data[pos:stop] if pos < stop else b"")
    return _collapse(b" ".join(pieces).decode("utf-8", "replace"))


def _c_declarator_name(declarator: Node | None, walk: _Walk) -> str | None:
    """The name in a C/C++ declarator, as written (`Foo::bar`, `operator==`, `~Foo`)."""
    while declarator is not None:
        if declarator.type == "function_declarator":
            inner = declarator.child_by_field_name("declarator")
            return _collapse(walk.text(inner)) if inner is not None else None
        declarator = declarator.child_by_field_name("declarator")
    return None


def _ordered_names(calls: list[tuple[int, str]]) -> tuple[str, ...]:
    """Called names in source order, each once."""
    return tuple(dict.fromkeys(name for _, name in sorted(calls)))


def _callee_leaf(node: Node) -> Node | None:
    """The last identifier of a callee: `foo`, `obj.bar` -> `bar`, `a::b` -> `b`."""
    for _ in range(32):
        if node.type in _NAME_LEAVES:
            return node
        if node.type in ("this", "super"):
            return None
        nxt = None
        for name in _CALLEE_FIELDS:
            nxt = node.child_by_field_name(name)
            if nxt is not None:
                break
        if nxt is None and node.named_child_count == 1:
            nxt = node.named_children[0]
        if nxt is None:
            return None
        node = nxt
    return None


def _is_string_statement(node: Node) -> bool:
    return node.named_child_count == 1 and node.named_children[0].type in (
        "string",
        "concatenated_string",
    )


def _parent_type(node: Node) -> str | None:
    return node.parent.type if node.parent is not None else None


def _collapse(text: str) -> str:
    return _WS.sub(" ", text).strip()


def _unquote(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"`":
        return text[1:-1]
    return text
