"""JavaScript/TypeScript: SQL text built by concatenation from non-constant parts and
handed to a query call (CWE-89), and a recursive merge or deep assignment that copies
keys it does not check into an object, so `__proto__` reaches Object.prototype
(CWE-1321). Parameterised queries, escaped values and merges that skip
`__proto__`/`constructor` stay silent."""

from __future__ import annotations

import re

from tree_sitter import Node

from vulnsight.dataflow.blind.base import Check, Hit, Reader
from vulnsight.dataflow.blind.js_common import (
    arguments,
    code_text,
    is_string_built,
    method_calls,
    strip,
)
from vulnsight.dataflow.syntax import walk

SQL = Check(
    "sql-built-by-concatenation",
    "javascript",
    "CWE-89",
    "SQL text built from non-constant parts and passed to a query call",
    0.9,
)
PROTOTYPE = Check(
    "prototype-pollution-merge",
    "javascript",
    "CWE-1321",
    "a recursive merge copies unchecked keys (`__proto__`) into an object",
    0.5,
)
_QUERY_METHODS = frozenset({"query", "execute", "raw", "run", "all", "get", "prepare", "exec"})
_SQL_START = re.compile(
    r"""^[`'"]\s*(SELECT|INSERT|UPDATE|DELETE|REPLACE|MERGE|WITH|CREATE|DROP|ALTER)\s""",
    re.IGNORECASE,
)
_ESCAPE = re.compile(r"(?i)\b(escape|escapeId|escapeLiteral|quote|format)\w*\s*\(")
_GUARDS = ("__proto__", "constructor", "prototype", "hasOwnProperty", "hasOwn(")
_FUNCTIONS = frozenset(
    {"function_declaration", "function_expression", "function", "method_definition"}
)


def sql_built(reader: Reader, root: Node) -> list[Hit]:
    """`db.query('SELECT ... ' + x)`: the first argument starts as SQL text and is
    built with non-constant parts, none of them escaped."""
    hits: list[Hit] = []
    for call, _, prop in method_calls(root):
        if reader.text(prop) not in _QUERY_METHODS:
            continue
        args = arguments(call)
        if not args:
            continue
        sql = _built_sql(reader, args[0])
        if sql is None:
            continue
        shown = reader.text(sql)[:60]
        steps = [
            (sql, f"SQL text {shown} is built at run time"),
            (call, f"run by {reader.text(prop)}()"),
        ]
        message = f"{reader.text(prop)}() runs SQL built from non-constant parts ({SQL.cwe})"
        hits.append(reader.hit(SQL, steps, message))
    return hits


def _built_sql(reader: Reader, node: Node) -> Node | None:
    """The SQL-building expression behind `node` (itself, or a name's declaration)."""
    node = strip(node) or node
    if node.type == "identifier":
        declared = reader.js.values_of(reader, node)
        return next((v for v in declared if _is_built_sql(reader, v)), None)
    return node if _is_built_sql(reader, node) else None


def _is_built_sql(reader: Reader, node: Node) -> bool:
    if not is_string_built(reader, node):
        return False
    first = next((n for n in walk(node) if n.type in ("string", "template_string")), None)
    if first is None or not _SQL_START.match(reader.text(first)):
        return False
    return not _ESCAPE.search(code_text(reader, node))


def prototype_pollution_merge(reader: Reader, root: Node) -> list[Hit]:
    """A function that, in a `for (k in src)` loop (or over `Object.keys(src)`), assigns
    `target[k]` and calls itself on the values, without testing `k` against
    `__proto__`/`constructor` or own properties.

    Read from each loop up to the functions around it (through the parent map): walking
    every function's whole body made 300 nested functions cost seconds."""
    hits: list[Hit] = []
    decided: set[int] = set()  # functions whose first keyed loop was found
    recursive: dict[int, str] = {}  # function id -> its name, when its body calls it
    for loop in walk(root):
        if loop.type != "for_in_statement":
            continue
        fn = _up(reader, loop)
        while fn is not None:
            if fn.type in _FUNCTIONS and fn.id not in decided:
                merges, hit = _merge_hit(reader, fn, loop, recursive)
                if merges:
                    decided.add(fn.id)
                if hit is not None:
                    hits.append(hit)
            fn = _up(reader, fn)
    return hits


def _up(reader: Reader, node: Node) -> Node | None:
    parent = reader.js.parents.get(node.id)
    return parent if parent is not None else node.parent


def _merge_hit(
    reader: Reader, fn: Node, loop: Node, recursive: dict[int, str]
) -> tuple[bool, Hit | None]:
    """Whether `loop` inside `fn` merges keys recursively into `fn`, and the hit when it
    does without a guard (`__proto__`, `hasOwnProperty`)."""
    if fn.id not in recursive:
        name = _function_name(reader, fn)
        body = fn.child_by_field_name("body")
        calls_itself = (
            bool(name)
            and body is not None
            and re.search(rf"\b{re.escape(name)}\s*\(", reader.text(body)) is not None
        )
        recursive[fn.id] = name if calls_itself else ""
    name = recursive[fn.id]
    body = fn.child_by_field_name("body")
    if not name or body is None:
        return False, None
    found = _keyed_assignment(reader, loop, name)
    if found is None:
        return False, None
    if any(g in code_text(reader, body) for g in _GUARDS):
        return True, None
    key, assignment = found
    steps = [
        (loop, f"{key} takes every key of the source, __proto__ included"),
        (assignment, f"{reader.text(assignment)[:50]}: {name}() recurses"),
    ]
    message = (
        f"{name}() copies keys it does not check into an object: `__proto__` "
        f"pollutes Object.prototype ({PROTOTYPE.cwe})"
    )
    return True, reader.hit(PROTOTYPE, steps, message)


def _function_name(reader: Reader, fn: Node) -> str:
    name = fn.child_by_field_name("name")
    if name is not None:
        return reader.text(name)
    parent = fn.parent
    if parent is not None and parent.type == "variable_declarator":
        target = parent.child_by_field_name("name")
        return reader.text(target) if target is not None else ""
    return ""


def _keyed_assignment(reader: Reader, loop: Node, name: str) -> tuple[str, Node] | None:
    """(key, assignment) for `for (key in src) { ... target[key] = ... }` where the loop
    also recurses into `target[key]` (for key `__proto__`, Object.prototype itself): a
    fresh copy (`clone[key] = clone(src[key])`) pollutes nothing."""
    if loop.type != "for_in_statement":
        return None
    left = strip(loop.child_by_field_name("left"))
    body = loop.child_by_field_name("body")
    if left is None or body is None:
        return None
    key = reader.text(left)
    for node in walk(body):
        if node.type != "assignment_expression":
            continue
        target = strip(node.child_by_field_name("left"))
        if target is None or target.type != "subscript_expression":
            continue
        index = strip(target.child_by_field_name("index"))
        obj = target.child_by_field_name("object")
        if index is None or obj is None or reader.text(index) != key:
            continue
        into = f"{reader.text(obj)}[{key}]"
        recursion = re.compile(rf"\b{re.escape(name)}\s*\(\s*{re.escape(into)}")
        if recursion.search(reader.text(body)):
            return key, node
    return None
