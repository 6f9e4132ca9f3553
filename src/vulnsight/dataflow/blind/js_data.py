"""JavaScript/TypeScript: values built at run time where a fixed one is expected.
A regular expression compiled from a non-constant, unescaped pattern (ReDoS, CWE-1333);
a file path built by concatenation from non-constant parts (CWE-22); the deprecated
`new Buffer(x)` given a non-constant (a number allocates that many bytes, CWE-770); and
Buffer reads/writes with `noAssert` set, which skip the bounds check (CWE-119)."""

from __future__ import annotations

import re

from tree_sitter import Node

from vulnsight.dataflow.blind.base import Check, Hit, Reader
from vulnsight.dataflow.blind.js_common import (
    arguments,
    callee,
    calls,
    is_constant,
    is_string_built,
    method_calls,
    strip,
)
from vulnsight.dataflow.syntax import walk

REGEXP = Check(
    "regexp-non-constant",
    "javascript",
    "CWE-1333",
    "a regular expression compiled from a pattern built at run time, unescaped",
    0.9,
)
FS_PATH = Check(
    "fs-path-built",
    "javascript",
    "CWE-22",
    "a file path built by concatenation from non-constant parts",
    0.83,
)
BUFFER = Check(
    "buffer-constructor-non-constant",
    "javascript",
    "CWE-770",
    "the deprecated Buffer constructor given a value that is not a constant",
    0.9,
)
NO_ASSERT = Check(
    "buffer-no-assert",
    "javascript",
    "CWE-119",
    "a Buffer read or write with noAssert set (no bounds check)",
    0.8,
)
#: Escaping a pattern: a call named so, or `.replace(/[...]/g, '\\$&')`.
_ESCAPER = re.compile(r"(?i)(escape|quote)")
_FS_RECEIVER = re.compile(r"^(fs|fse|fsp|fsPromises|fs\.promises|graceful_?fs|fsExtra)$")
_FS_METHOD = re.compile(
    r"^(readFile|writeFile|appendFile|createReadStream|createWriteStream|open|unlink|rm|"
    r"rmdir|mkdir|readdir|stat|lstat|exists|access|copyFile|rename|symlink|chmod|"
    r"chown|truncate|realpath|readlink)(Sync)?$"
)
_NO_ASSERT_METHOD = re.compile(
    r"^(read|write)(U?Int(8|16|32)|Float|Double|BigU?Int64|U?Int)(LE|BE)?$"
)


def regexp_non_constant(reader: Reader, root: Node) -> list[Hit]:
    """`new RegExp(p)`/`RegExp(p)` where p is not a constant and nothing escapes it."""
    hits: list[Hit] = []
    for call in calls(root):
        if callee(reader, call) != "RegExp":
            continue
        args = arguments(call)
        if not args:
            continue
        pattern = strip(args[0])
        if pattern is None or is_constant(reader, pattern):
            continue
        if pattern.type == "regex" or _escaped(reader, pattern):
            continue
        if all(is_constant(reader, p) or _numeric(reader, p) for p in _parts(pattern)):
            continue
        shown = reader.text(pattern)[:60]
        steps = [(pattern, f"pattern {shown} is built at run time"), (call, "compiled by RegExp")]
        message = f"RegExp compiles a pattern built from {shown}, unescaped ({REGEXP.cwe})"
        hits.append(reader.hit(REGEXP, steps, message))
    return hits


def _escaped(reader: Reader, value: Node, depth: int = 0) -> bool:
    """Whether the pattern is rewritten into regex syntax on purpose: an escaping call,
    a `.replace(...)` (escaping, or turning a glob into a pattern), or the `.source` of
    another regular expression (here, or where a name in it is declared)."""
    for n in walk(value):
        if n.type == "identifier" and depth < 2:
            declared = reader.js.values_of(reader, n)
            if any(_escaped(reader, v, depth + 1) for v in declared):
                return True
        if n.type == "member_expression":
            prop = n.child_by_field_name("property")
            if prop is not None and reader.text(prop) == "source":
                return True
        if n.type != "call_expression":
            continue
        name = callee(reader, n)
        if _ESCAPER.search(name.rsplit(".", 1)[-1]) or name.endswith((".replace", ".replaceAll")):
            return True
    return False


def fs_path_built(reader: Reader, root: Node) -> list[Hit]:
    """`fs.readFile(dir + '/' + name)`: a path concatenated from non-constant parts
    (`path.basename` of the part, or only `__dirname` and constants, stay silent)."""
    hits: list[Hit] = []
    for call, obj, prop in method_calls(root):
        if obj is None or not _FS_METHOD.match(reader.text(prop)):
            continue
        if not _FS_RECEIVER.match(reader.dotted(obj)):
            continue
        args = arguments(call)
        if not args or not is_string_built(reader, args[0]):
            continue
        if "basename" in reader.text(args[0]) or not _name_after_separator(reader, args[0]):
            continue
        shown = reader.text(args[0])[:60]
        steps = [
            (args[0], f"path {shown} is concatenated"),
            (call, f"opened by {reader.text(prop)}"),
        ]
        message = f"fs.{reader.text(prop)} opens a path built from {shown} ({FS_PATH.cwe})"
        hits.append(reader.hit(FS_PATH, steps, message))
    return hits


def _name_after_separator(reader: Reader, node: Node, depth: int = 0) -> bool:
    """Whether a non-constant part follows a `/` of the built path (`dir + '/' + name`):
    the appended name can climb out with `../`; `base + '.json'` cannot."""
    node = strip(node) or node
    if node.type == "identifier" and depth < 2:
        declared = reader.js.values_of(reader, node)
        return any(_name_after_separator(reader, v, depth + 1) for v in declared)
    seen_separator = False
    for part in _parts(node):
        if is_constant(reader, part):
            text = reader.text(part)
            seen_separator = seen_separator or "/" in text or "\\\\" in text
        elif seen_separator:
            return True
    return False


_ARITHMETIC = frozenset({"-", "*", "/", "%", "**", "|", "&", ">>", "<<", ">>>"})


def _numeric(reader: Reader, node: Node) -> bool:
    """A number (`width - 1`, `n * 2`, `Number(x)`): it cannot add regex syntax."""
    node = strip(node) or node
    if node.type == "number":
        return True
    if node.type == "binary_expression":
        op = node.child_by_field_name("operator")
        return op is not None and reader.text(op) in _ARITHMETIC
    if node.type == "call_expression":
        return callee(reader, node) in ("Number", "parseInt", "parseFloat", "Math.max", "Math.min")
    return False


def _parts(node: Node) -> list[Node]:
    """The operands of a `+` chain or the pieces of a template, in order (without
    recursion: a chain of thousands of operands nests as deep)."""
    found: list[Node] = []
    stack = [node]
    while stack:
        popped = stack.pop()
        current = strip(popped) or popped
        if current.type == "binary_expression":
            left = current.child_by_field_name("left")
            right = current.child_by_field_name("right")
            if left is not None and right is not None:
                stack.extend((right, left))
                continue
        if current.type == "template_string":
            found.extend(
                c.named_children[0]
                if c.type == "template_substitution" and c.named_child_count
                else c
                for c in current.named_children
            )
            continue
        found.append(current)
    return found


def buffer_non_constant(reader: Reader, root: Node) -> list[Hit]:
    """`new Buffer(x)` / `Buffer(x)` with x not a constant."""
    hits: list[Hit] = []
    for call in calls(root):
        if callee(reader, call) != "Buffer":
            continue
        args = arguments(call)
        if not args or is_constant(reader, args[0]):
            continue
        shown = reader.text(args[0])[:60]
        steps = [(call, f"Buffer constructor given {shown}")]
        message = (
            f"the deprecated Buffer constructor is given {shown}: a number allocates that "
            f"many bytes (use Buffer.from/Buffer.alloc) ({BUFFER.cwe})"
        )
        hits.append(reader.hit(BUFFER, steps, message))
    return hits


def buffer_no_assert(reader: Reader, root: Node) -> list[Hit]:
    """`buf.readUInt16BE(offset, true)`: the trailing `true` is noAssert."""
    hits: list[Hit] = []
    for call, _, prop in method_calls(root):
        if not _NO_ASSERT_METHOD.match(reader.text(prop)):
            continue
        args = arguments(call)
        is_read = reader.text(prop).startswith("read")
        if len(args) != (2 if is_read else 3) or args[-1].type != "true":
            continue
        steps = [(call, f"{reader.text(prop)}() with noAssert = true")]
        message = f"{reader.text(prop)}() skips its bounds check (noAssert) ({NO_ASSERT.cwe})"
        hits.append(reader.hit(NO_ASSERT, steps, message))
    return hits
