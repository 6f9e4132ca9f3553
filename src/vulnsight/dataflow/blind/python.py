"""Python: commands, queries and code built by pasting a value into a string, whatever the
value's origin (the taint engine needs a known source; these need none), and Jinja2
environments that leave autoescaping off.

* CWE-78: a built string run by a shell (`os.system`, `os.popen`, `subprocess.*(...,
  shell=True)`), or handed to a call whose name says it runs a command (`_run_ssh`,
  `exec_command`, `run_cmd`) when the constant text reads as a command line;
* CWE-89: a built string whose constant text is an SQL statement, passed alone (no bound
  parameters) to a call that executes or queries (`cursor.execute`, `db.query`);
* CWE-95: a built string passed to `eval`/`exec`;
* CWE-79: `jinja2.Environment(loader=...)` without an `autoescape` argument (or with
  `autoescape=False`).

A value that is constant or cleaned (`shlex.quote`, `int`, `quote_name`) builds nothing;
see `py_strings`.
"""

from __future__ import annotations

import re

from tree_sitter import Node

from vulnsight.dataflow.blind.base import Check, Hit, Reader
from vulnsight.dataflow.blind.py_strings import Built, Scope, Strings, identity_functions
from vulnsight.dataflow.syntax import walk

SHELL = Check(
    "shell-command-built",
    "python",
    "CWE-78",
    "shell command built from a value by string formatting",
    0.9,
)
SQL = Check(
    "sql-query-built",
    "python",
    "CWE-89",
    "SQL statement built from a value by string formatting, run without bound parameters",
    0.9,
)
EVAL = Check(
    "eval-built-code",
    "python",
    "CWE-95",
    "code built from a value by string formatting, passed to eval/exec",
    0.9,
)
AUTOESCAPE = Check(
    "jinja2-autoescape-off",
    "python",
    "CWE-79",
    "jinja2 Environment with a loader and autoescaping left off",
    0.86,
)

#: Calls that run their first argument through a shell.
_SHELLS = frozenset(
    {
        "os.system", "os.popen", "os.popen2", "os.popen3", "os.popen4", "system", "popen",
        "commands.getoutput", "commands.getstatusoutput", "subprocess.getoutput",
        "subprocess.getstatusoutput", "getoutput", "getstatusoutput",
        "asyncio.create_subprocess_shell", "create_subprocess_shell",
    }
)  # fmt: skip
#: subprocess calls: a shell only with `shell=True`.
_SUBPROCESS = re.compile(r"^(?:\w+\.)?(?:run|call|check_call|check_output|Popen)$")
#: Words in a callee's name that say it runs a command line.
_RUNNER_WORDS = frozenset(
    {"ssh", "cli", "cliq", "cmd", "command", "shell", "exec", "execute", "run", "spawn",
     "system", "popen", "sh", "bash"}
)  # fmt: skip
#: Words in a callee's name that say it executes or queries SQL.
_SQL_WORDS = frozenset({"execute", "executemany", "executescript", "query", "raw", "mogrify"})
#: Keywords that carry a query's bound parameters.
_PARAMS = frozenset({"params", "parameters", "args", "vars", "values", "bind", "bindparams"})
#: The start of an SQL statement (interpolations and quotes may come first).
_SQL = re.compile(
    r"""^[\s("'`]*(?:select\b[\s\S]*\bfrom\b|insert\s+(?:or\s+\w+\s+)?into\b|update\b[\s\S]*\bset\b|"""
    r"""delete\s+from\b|replace\s+into\b|(?:create|drop|alter|truncate)\s+(?:table|index|view|database)\b)""",
    re.I,
)
_SQL_WORD = re.compile(
    r"^\W*(?:select|insert|update|delete|replace|create|drop|alter|truncate|set|show|pragma|"
    r"grant|revoke|with|begin|commit|rollback|savepoint|release|vacuum|analyze|explain|"
    r"declare|lock|use|copy|comment|listen|notify|values|where|from|and|or|order|group)\b",
    re.I,
)
#: A command line: a program name (not an upper-case keyword such as SQL's `ATTACH`),
#: then something after a blank.
_COMMAND = re.compile(r"^\s*(?:[{%][^\s]*\s+)?(?![A-Z0-9_]+\s)[A-Za-z][\w.+/-]*\s+\S")
_CAMEL = re.compile(r"([a-z0-9])([A-Z])")


def _words(name: str) -> set[str]:
    return {w for w in re.split(r"[\W_]+", _CAMEL.sub(r"\1_\2", name).lower()) if w}


def built_strings(reader: Reader, root: Node) -> list[Hit]:
    """Every check of this module over one file: each function, and the module's own
    statements, is one scope of local names."""
    hits: list[Hit] = []
    identities = identity_functions(reader, root)
    for scope_node in [root, *(n for n in walk(root) if n.type == "function_definition")]:
        scope = Scope.of(reader, scope_node)
        scope.identities = identities
        strings = Strings(reader, scope)
        for call in _own_calls(scope_node):
            hits.extend(_check_call(strings, call))
    return hits


def _own_calls(scope: Node) -> list[Node]:
    """The calls of a scope, not those of the functions and classes nested in it."""
    body = scope.child_by_field_name("body") if scope.type == "function_definition" else scope
    found: list[Node] = []
    stack = list(reversed(body.named_children)) if body is not None else []
    while stack:
        node = stack.pop()
        if node.type in ("function_definition", "class_definition"):
            if node.type == "class_definition":  # a class body runs in the module's flow
                inner = node.child_by_field_name("body")
                stack.extend(reversed(inner.named_children) if inner is not None else [])
            continue
        if node.type == "call":
            found.append(node)
        stack.extend(reversed(node.named_children))
    return found


def _arguments(reader: Reader, call: Node) -> tuple[list[Node], dict[str, Node]]:
    args = call.child_by_field_name("arguments")
    positional: list[Node] = []
    keywords: dict[str, Node] = {}
    if args is None or args.type != "argument_list":
        return positional, keywords
    for arg in args.named_children:
        if arg.type == "keyword_argument":
            name, value = arg.child_by_field_name("name"), arg.child_by_field_name("value")
            if name is not None and value is not None:
                keywords[reader.text(name)] = value
        elif arg.type not in ("comment", "list_splat", "dictionary_splat"):
            positional.append(arg)
        else:
            keywords["**" if arg.type == "dictionary_splat" else "*"] = arg
    return positional, keywords


def _check_call(strings: Strings, call: Node) -> list[Hit]:
    reader = strings.reader
    dotted = reader.dotted(call.child_by_field_name("function"))
    name = strings.callee_name(call)
    positional, keywords = _arguments(reader, call)
    escape = keywords.get("autoescape")
    off = escape is not None and reader.text(escape) in ("False", "None", "0")
    unescaped = "loader" in keywords and (off or not {"autoescape", "**"} & set(keywords))
    if dotted.endswith("Environment") and unescaped:
        step = (call, f"{dotted}(loader=...) renders templates without autoescaping")
        message = (
            f"{dotted}() without autoescape=True (or select_autoescape()) renders "
            f"variables into HTML unescaped ({AUTOESCAPE.cwe})"
        )
        return [reader.hit(AUTOESCAPE, [step], message)]
    first = positional[0] if positional else keywords.get("cmd") or keywords.get("command")
    if first is None:
        return []
    at = call.start_byte
    if dotted in ("eval", "exec", "builtins.eval", "builtins.exec"):
        built = strings.built(first, at)
        return [_hit(strings, EVAL, built, call, f"{dotted}()")] if built else []
    if dotted in _SHELLS or (_SUBPROCESS.match(dotted) and _shell_true(reader, keywords)):
        built = strings.built(first, at)
        return [_hit(strings, SHELL, built, call, f"{dotted}() (a shell)")] if built else []
    words = _words(name)
    sql_call = bool(words & _SQL_WORDS) or "read_sql" in name
    hits: list[Hit] = []
    if sql_call and not (set(keywords) & _PARAMS or "*" in keywords):
        query = _sql_text(strings, first, at)
        bound = len(positional) > 1 and "read_sql" not in name
        values = [] if query is None else [v for b, v in query.pasted if _value_position(b)]
        if query is not None and values and not bound and _SQL.match(query.text):
            # the message names a value pasted where a bound parameter would go
            query = Built(query.text, ((query.text, values[0]),), query.at)
            hits.append(_hit(strings, SQL, query, call, f"{name}() without bound parameters"))
    # a class (`SystemExit(...)`, `CommandError(...)`) is built, not run
    runner = bool(words & _RUNNER_WORDS) and not name.lstrip("_")[:1].isupper()
    runner = runner and "sql" not in words and "cursor" not in dotted.lower()
    if runner and not _SUBPROCESS.match(dotted) and dotted not in _SHELLS:
        built = strings.built(first, at)
        if built is not None and _COMMAND.match(built.text) and not _SQL_WORD.match(built.text):
            hits.append(_hit(strings, SHELL, built, call, f"{name}(), which runs a command"))
    return hits


#: The end of SQL text before a value (not an identifier): a comparison, a quote,
#: `LIKE`, `LIMIT`, `VALUES`...
_VALUE_TAIL = re.compile(
    r"(?:[=<>]|\b(?:like|ilike|glob|regexp|limit|offset|values|between|in|then|else|when|is))$",
    re.I,
)
_LIST_OPEN = re.compile(r"\b(?:values|in)\s*\(", re.I)


def _value_position(before: str) -> bool:
    """Whether SQL text ending in `before` takes a value next (`name = '`, `LIMIT `,
    `VALUES (1, `) rather than an identifier (`FROM `, `INSERT INTO `): a bound
    parameter can take only the former, so only it says the query should have one."""
    tail = before.rstrip().rstrip("%").rstrip()
    if tail.endswith("'"):
        return True
    tail = tail.rstrip('"`').rstrip()
    if _VALUE_TAIL.search(tail):
        return True
    opened = [m.end() for m in _LIST_OPEN.finditer(tail)]
    return bool(opened) and ")" not in tail[opened[-1] :] and tail.endswith(("(", ","))


def _sql_text(strings: Strings, node: Node, at: int) -> Built | None:
    """The built query, also inside `text(...)`/`sql.SQL(...)` wrappers."""
    if node.type == "call":
        fn = strings.reader.dotted(node.child_by_field_name("function"))
        if fn.split(".")[-1] in ("text", "SQL"):
            positional, _ = _arguments(strings.reader, node)
            return strings.built(positional[0], at) if positional else None
    return strings.built(node, at)


def _shell_true(reader: Reader, keywords: dict[str, Node]) -> bool:
    value = keywords.get("shell")
    return value is not None and reader.text(value) not in ("False", "0", "None")


def _hit(strings: Strings, check: Check, built: Built, call: Node, sink: str) -> Hit:
    reader = strings.reader
    value = reader.text(built.value)[:60]
    steps: list[tuple[Node, str]] = []
    if built.at.start_point.row != call.start_point.row:
        steps.append((built.at, f"string built with {value}"))
    steps.append((call, f"built string passed to {sink}"))
    message = (
        f"{value} is pasted into a string that reaches {sink} ({check.cwe}); {_ADVICE[check.cwe]}"
    )
    return reader.hit(check, steps, message)


_ADVICE = {
    "CWE-78": "pass an argument list without a shell, or quote with shlex.quote()",
    "CWE-89": "pass the value as a bound parameter (execute(sql, (value,)))",
    "CWE-95": "parse the value (ast.literal_eval, int()) instead of evaluating it",
}
