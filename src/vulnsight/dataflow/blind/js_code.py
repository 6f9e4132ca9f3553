"""JavaScript/TypeScript: code and commands built at run time. `eval`, `new Function`
and string timers given a value that is not a constant (CWE-95), `require` of a computed
module path (CWE-95), and `child_process.exec` of a command built from non-constant
parts (CWE-78). Constant arguments, functions passed to timers and `execFile` with an
argument list stay silent."""

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
    strip,
)
from vulnsight.dataflow.syntax import walk

EVAL = Check(
    "eval-non-constant",
    "javascript",
    "CWE-95",
    "eval / new Function / a string timer given a value built at run time",
    0.9,
)
REQUIRE = Check(
    "require-non-constant",
    "javascript",
    "CWE-95",
    "require() of a module path computed at run time",
    0.8,
)
EXEC = Check(
    "exec-built-command",
    "javascript",
    "CWE-78",
    "child_process.exec of a shell command built from non-constant parts",
    0.89,
)
_EVALS = frozenset({"eval", "window.eval", "global.eval", "globalThis.eval", "self.eval"})
_FUNCTIONS = frozenset({"Function", "window.Function", "global.Function", "globalThis.Function"})
_TIMERS = frozenset(
    {"setTimeout", "setInterval", "window.setTimeout", "window.setInterval", "setImmediate"}
)
_EXECS = frozenset({"exec", "execSync"})
#: Receivers that name Node's child_process module by convention.
_CHILD_PROCESS = re.compile(r"^(child_?process|childProcess|ChildProcess|cp|proc|shell)$")
#: A part passed through one of these is quoted for the shell.
_QUOTING = re.compile(r"(?i)(escape|quote)")
_IMPORTS_CHILD_PROCESS = re.compile(r"""(require\(\s*|from\s+)["'](node:)?child_process["']""")


def eval_non_constant(reader: Reader, root: Node) -> list[Hit]:
    """`eval(x)`, `new Function(..., body)`, `Function(body)` with a non-constant
    argument; `setTimeout('...' + x)` with a string built at run time."""
    hits: list[Hit] = []
    for call in calls(root):
        name = callee(reader, call)
        args = arguments(call)
        if not args:
            continue
        if name in _EVALS or name in _FUNCTIONS:
            built = next((a for a in args if not is_constant(reader, a)), None)
            what = "eval()" if name in _EVALS else "new Function()"
        elif name in _TIMERS:
            built = args[0] if is_string_built(reader, args[0]) else None
            what = f"{name}() with a string"
        else:
            continue
        if built is None:
            continue
        shown = reader.text(built)[:60]
        steps = [(built, f"{shown} is built at run time"), (call, f"{what} runs it as code")]
        hits.append(reader.hit(EVAL, steps, f"{what} runs code built from {shown} ({EVAL.cwe})"))
    return hits


def require_non_constant(reader: Reader, root: Node) -> list[Hit]:
    """`require(x)` whose module path is not fixed in the source (`__dirname` and
    `path.join` of constants are fixed)."""
    hits: list[Hit] = []
    for call in calls(root):
        if call.type != "call_expression" or callee(reader, call) != "require":
            continue
        args = arguments(call)
        if len(args) != 1 or is_constant(reader, args[0]):
            continue
        shown = reader.text(args[0])[:60]
        steps = [(args[0], f"module path {shown} is computed"), (call, "require() loads it")]
        message = f"require() loads a module whose path is computed: {shown} ({REQUIRE.cwe})"
        hits.append(reader.hit(REQUIRE, steps, message))
    return hits


def exec_built_command(reader: Reader, root: Node) -> list[Hit]:
    """`child_process.exec(cmd)`/`execSync(cmd)` (or `exec` imported from it) with a
    command string built from non-constant parts."""
    imported = bool(_IMPORTS_CHILD_PROCESS.search(reader.data.decode("utf-8", "replace")))
    hits: list[Hit] = []
    for call in calls(root):
        if call.type != "call_expression":
            continue
        fn = strip(call.child_by_field_name("function"))
        if fn is None:
            continue
        if fn.type == "identifier":
            if reader.text(fn) not in _EXECS or not imported:
                continue
        elif fn.type == "member_expression":
            prop = fn.child_by_field_name("property")
            obj = strip(fn.child_by_field_name("object"))
            if prop is None or obj is None or reader.text(prop) not in _EXECS:
                continue
            if not _CHILD_PROCESS.match(reader.text(obj)) and not _is_require_cp(reader, obj):
                continue
        else:
            continue
        args = arguments(call)
        if not args or not _built_command(reader, args[0]):
            continue
        shown = reader.text(args[0])[:60]
        steps = [(args[0], f"command {shown} is built at run time"), (call, "run by a shell")]
        message = f"a shell runs a command built from non-constant parts: {shown} ({EXEC.cwe})"
        hits.append(reader.hit(EXEC, steps, message))
    return hits


def _is_require_cp(reader: Reader, node: Node) -> bool:
    """`require('child_process')` itself as the receiver."""
    return node.type == "call_expression" and "child_process" in reader.text(node)


def _built_command(reader: Reader, node: Node) -> bool:
    """A command built by concatenation or a template, here or where its variable is
    declared (a parameter is a command chosen elsewhere: the taint engine follows it)."""
    if not is_string_built(reader, node):
        return False
    return not any(
        n.type == "call_expression" and _QUOTING.search(callee(reader, n).rsplit(".", 1)[-1])
        for n in walk(node)
    )
