"""Semantics-preserving edits for robustness tests: a verdict should not flip because a
variable was renamed, dead code was added, a comment claims the code is safe, or the
code was re-indented.

Each perturbation is validated: the result must parse with no more tree-sitter error
nodes than the original (and Python must still compile when it did before); otherwise
the perturbation is not applied to that record and it is left out of the flip rate.

| name | what | lines |
|---|---|---|
| rename | local variables and parameters -> ``v_<n>`` | preserved |
| deadcode | an ``if (0) {...}`` / ``if False:`` block at the end of the first function | +1 or +2 |
| comment | "this code is safe" at the end of the first line, "no vulnerability here" at the
  end of each labelled line (else the last line), in the language's comment syntax | preserved |
| reformat | indentation doubled, trailing blanks removed (not in multi-line strings) | preserved |
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable, Iterator, Sequence

from tree_sitter import Node

from vulnsight.bench.records import Record, snippet_text
from vulnsight.parse.grammars import count_errors, parse_text

PERTURBATIONS: tuple[str, ...] = ("rename", "deadcode", "comment", "reformat")
_LINE_COMMENT = {"python": "#"}
_DEAD = {
    "c": "if (0) { int vs_unused = 0; (void)vs_unused; }",
    "cpp": "if (0) { int vs_unused = 0; (void)vs_unused; }",
    "javascript": "if (false) { let vsUnused = 0; void vsUnused; }",
    "typescript": "if (false) { let vsUnused = 0; void vsUnused; }",
    "solidity": "if (false) { revert(); }",
}
_FUNCTIONS = {
    "function_definition",
    "function_declaration",
    "method_definition",
    "function_expression",
    "arrow_function",
    "modifier_definition",
    "constructor_definition",
    "function",
}
_STRINGY = re.compile(r"string|template|comment|heredoc|raw")
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


def _walk(node: Node) -> Iterator[Node]:
    stack = [node]
    while stack:
        n = stack.pop()
        yield n
        stack.extend(reversed(n.children))


def _field(node: Node) -> str | None:
    parent = node.parent
    if parent is None:
        return None
    for i, child in enumerate(parent.children):
        if child.id == node.id:
            return parent.field_name_for_child(i)
    return None


def _errors(text: str, language: str) -> int:
    tree, _ = parse_text(text, language)
    return count_errors(tree)


def _compiles(text: str) -> bool:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            compile(text, "<snippet>", "exec")
        except (SyntaxError, ValueError):
            return False
    return True


def _valid(original: str, changed: str, language: str) -> bool:
    if changed == original:
        return False
    if _errors(changed, language) > _errors(original, language):
        return False
    return not (language == "python" and _compiles(original) and not _compiles(changed))


def _multiline_interior(root: Node) -> set[int]:
    """0-based rows that start inside a multi-line string or comment."""
    rows: set[int] = set()
    for n in _walk(root):
        if _STRINGY.search(n.type) and n.end_point[0] > n.start_point[0]:
            rows.update(range(n.start_point[0] + 1, n.end_point[0] + 1))
    return rows


def _outermost_functions(root: Node) -> list[Node]:
    found: list[Node] = []
    stack = [root]
    while stack:
        n = stack.pop()
        if n.type in _FUNCTIONS:
            found.append(n)
            continue
        stack.extend(n.children)
    return found


def _text(node: Node) -> str:
    return node.text.decode("utf-8", "replace") if node.text else ""


def _declared(fn: Node, language: str) -> tuple[list[str], list[Node]]:
    """Names declared inside a function (parameters, locals) and its identifier nodes."""
    declared: list[str] = []
    shorthand: set[str] = set()
    idents: list[Node] = []
    parents = _DECL_PARENTS[language]
    for n in _walk(fn):
        if n.type.startswith("shorthand_property_identifier"):
            shorthand.add(_text(n))
        if n.type != "identifier":
            continue
        idents.append(n)
        parent = n.parent
        if parent is None:
            continue
        field = _field(n)
        if (
            parent.type in parents
            and field not in ("value", "type", "right")
            or (
                language == "python"
                and parent.type in ("assignment", "for_statement")
                and field == "left"
            )
        ):
            declared.append(_text(n))
    names = [d for d in dict.fromkeys(declared) if d and d not in shorthand and d != "self"]
    return names, idents


def _renamable(n: Node) -> bool:
    field = _field(n)
    parent = n.parent
    if field in _NOT_A_VARIABLE_FIELDS or parent is None:
        return False
    if field == "name" and parent.type in _NAME_PARENTS:
        return False
    return not (parent.type in _FUNCTIONS and field == "name")


def rename(text: str, language: str) -> str:
    """Rename the local variables and parameters of each function to fresh ``v_<n>``."""
    if language == "python" and re.search(
        r"\b(locals|vars|eval|exec)\s*\(|\bglobal\b|\bnonlocal\b", text
    ):
        return text
    tree, data = parse_text(text, language)
    if tree.root_node.has_error:  # scopes inside ERROR nodes cannot be trusted
        return text
    edits: list[tuple[int, int, str]] = []
    k = 0
    for fn in _outermost_functions(tree.root_node):
        names, idents = _declared(fn, language)
        fresh: dict[str, str] = {}
        for name in names:
            while f"v_{k}" in text:
                k += 1
            fresh[name] = f"v_{k}"
            k += 1
        edits.extend(
            (n.start_byte, n.end_byte, fresh[_text(n)])
            for n in idents
            if _text(n) in fresh and _renamable(n)
        )
    out = bytearray(data)
    for start, end, new in sorted(edits, reverse=True):
        out[start:end] = new.encode()
    return out.decode("utf-8", "surrogatepass")


def _first_function(root: Node) -> Node | None:
    for n in _walk(root):
        if n.type in _FUNCTIONS and n.child_by_field_name("body") is not None:
            return n
    return None


def deadcode(text: str, language: str) -> str:
    """An unreachable block at the end of the first function's body."""
    tree, _ = parse_text(text, language)
    fn = _first_function(tree.root_node)
    if fn is None:
        return text
    body = fn.child_by_field_name("body")
    assert body is not None
    lines = text.splitlines()
    if language == "python":
        if not body.named_children:
            return text
        col = body.named_children[0].start_point[1]
        row = fn.end_point[0]
        pad = " " * col
        block = [f"{pad}if False:", f"{pad}    vs_unused = 0"]
        return "\n".join(lines[: row + 1] + block + lines[row + 1 :]) + "\n"
    row = body.end_point[0]
    if row >= len(lines) or not lines[row].lstrip().startswith("}"):
        return text
    closing = lines[row]
    pad = closing[: len(closing) - len(closing.lstrip())] + "    "
    return "\n".join(lines[:row] + [pad + _DEAD[language]] + lines[row:]) + "\n"


def comment(text: str, language: str, labelled: Sequence[int] = ()) -> str:
    """Reassuring comments on the first line and on the vulnerable lines."""
    tree, _ = parse_text(text, language)
    inside = _multiline_interior(tree.root_node)
    lines = text.splitlines()
    mark = _LINE_COMMENT.get(language, "//")
    targets = {0: "this code is safe"}
    flagged = [n - 1 for n in labelled if 0 < n <= len(lines)] or [len(lines) - 1]
    for row in flagged:
        targets.setdefault(row, "no vulnerability here")
    for row, words in targets.items():
        line = lines[row]
        # A row whose end lies inside a multi-line string/comment, or a continued line.
        if row + 1 in inside or line.rstrip().endswith("\\") or not line.strip():
            continue
        lines[row] = f"{line.rstrip()}  {mark} {words}"
    return "\n".join(lines) + "\n"


def reformat(text: str, language: str) -> str:
    """Double every line's indentation and strip trailing blanks, outside multi-line
    strings (whose content would change)."""
    tree, _ = parse_text(text, language)
    inside = _multiline_interior(tree.root_node)
    out = []
    for row, line in enumerate(text.splitlines()):
        if row in inside:
            out.append(line)
            continue
        body = line.lstrip(" \t")
        indent = line[: len(line) - len(body)].expandtabs(4 if language != "python" else 8)
        out.append((indent * 2 + body).rstrip() if body.strip() else "")
    return "\n".join(out) + "\n"


_FUNCS: dict[str, Callable[[str, str], str]] = {
    "rename": rename,
    "deadcode": deadcode,
    "reformat": reformat,
}


def perturb(record: Record, name: str) -> str | None:
    """The record's snippet text under a perturbation, or None when it does not apply
    (nothing to change, or the result would not parse as well as the original)."""
    if name not in PERTURBATIONS:
        raise ValueError(f"unknown perturbation {name!r}")
    original = snippet_text(record)
    language = "typescript" if record.language == "typescript" else record.language
    try:
        if name == "comment":
            changed = comment(original, language, record.lines)
        else:
            changed = _FUNCS[name](original, language)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
    return changed if _valid(original, changed, language) else None


def perturb_all(records: Sequence[Record], name: str) -> dict[str, str]:
    """Perturbed code by record id, for the records where the perturbation applies."""
    out: dict[str, str] = {}
    for r in records:
        changed = perturb(r, name)
        if changed is not None:
            out[r.id] = changed
    return out
