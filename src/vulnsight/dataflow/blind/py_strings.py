"""Python: how a string handed to a call was built. A string is *built* when a constant
text is joined with a value the code does not fix (an f-string's `{x}`, `"..." % x`,
`"..." + x`, `"...".format(x)`), inline or through the local names it was assigned to;
a value cleaned on the way (`shlex.quote(x)`, `int(x)`) or a constant (a literal, an
UPPER_CASE name, a local only ever bound to constants) does not build anything."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from tree_sitter import Node

from vulnsight.dataflow.blind.base import Reader
from vulnsight.dataflow.constants import truth
from vulnsight.dataflow.syntax import walk

#: Calls whose result is clean whatever went in: quoting, escaping, numbers.
CLEANING = re.compile(
    r"(?:^|[._])(?:\w*quote\w*|\w*escape\w*|int|float|len|bool|abs|round|hex|ord|"
    r"isdigit|isnumeric|isalnum|count|index|find|uuid4|UUID)$",
    re.I,
)
#: Calls that check a value (`re.match(p, x)`, `x.isalnum()`, `is_valid(x)`): a value
#: checked before it is pasted is taken as clean.
VALIDATING = re.compile(
    r"(?:^|[._])(?:fullmatch|match|is[a-z]\w*|valid\w*|check_(?!output|call)\w*|\w*_is_valid|"
    r"\w*_valid|saniti[sz]e\w*)$",
    re.I,
)
_MAX_TEXT = 4_000
_MAX_PASTED = 32
#: Questions one scope may ask before its answers become "nothing found".
WORK_LIMIT = 20_000
_CONSTANT_NAME = re.compile(r"^_?[A-Z][A-Z0-9_]*$")
_LITERALS = frozenset({"integer", "float", "true", "false", "none", "ellipsis"})
#: Nodes that open a scope of their own (their assignments are not the caller's).
_SCOPES = frozenset({"function_definition", "class_definition", "lambda"})
_PREFIX = re.compile(r"^[rRbBuUfF]{0,2}(?:'''|\"\"\"|'|\")")


@dataclass(frozen=True)
class Built:
    """A string built from constant text and values the code does not fix: the constant
    text (values shown as placeholders), each pasted value with the constant text
    before it, and the node where the joining happens."""

    text: str
    pasted: tuple[tuple[str, Node], ...]
    at: Node

    def __post_init__(self) -> None:
        # `s = s + x + s` doubles the string each line: keep what a check reads
        if len(self.text) > _MAX_TEXT or len(self.pasted) > _MAX_PASTED:
            pasted = tuple((b[:_MAX_TEXT], v) for b, v in self.pasted[:_MAX_PASTED])
            object.__setattr__(self, "text", self.text[:_MAX_TEXT])
            object.__setattr__(self, "pasted", pasted)

    @property
    def value(self) -> Node:
        """The first value pasted."""
        return self.pasted[0][1]

    def after(self, prefix: str, at: Node) -> Built:
        """The same string with constant text `prefix` in front of it."""
        pasted = tuple((prefix + before, value) for before, value in self.pasted)
        return Built(prefix + self.text, pasted, at)


@dataclass
class Scope:
    """The assignments of one function (or module) to plain names, in source order:
    (start byte, operator, value) per name; and the function's parameters."""

    assigned: dict[str, list[tuple[int, str, Node]]] = field(default_factory=dict)
    parameters: frozenset[str] = frozenset()
    # each value a validating call or an `in` test checks: (text, from byte, to byte):
    # after `if not ok(x): return`, or inside `if ok(x): ...`
    checked: list[tuple[str, int, int]] = field(default_factory=list)
    # the file's functions that return a parameter unchanged (`def quote(v): return v`)
    identities: frozenset[str] = frozenset()

    @classmethod
    def of(cls, reader: Reader, node: Node) -> Scope:
        """The assignments made directly in `node` (not in nested functions or classes)."""
        scope = cls()
        params = node.child_by_field_name("parameters")
        if params is not None:
            scope.parameters = frozenset(
                reader.text(n) for n in walk(params) if n.type == "identifier"
            )
        body = node.child_by_field_name("body") or node
        stack = list(reversed(body.named_children))
        while stack:
            current = stack.pop()
            if current.type in _SCOPES:
                continue
            if current.type in ("assignment", "augmented_assignment"):
                left = current.child_by_field_name("left")
                right = current.child_by_field_name("right")
                op = current.child_by_field_name("operator")
                if left is not None and right is not None and left.type == "identifier":
                    operator = reader.text(op) if op is not None else "="
                    scope.assigned.setdefault(reader.text(left), []).append(
                        (current.start_byte, operator, right)
                    )
            scope.checked.extend(_guards(reader, current))
            stack.extend(reversed(_live_children(reader, current)))
        return scope


def _live_children(reader: Reader, node: Node) -> list[Node]:
    """The children of `node` that may run: not the body of `if False:` or `while 0:`
    (an assignment or a check there cleans nothing)."""
    children = node.named_children
    if node.type not in ("if_statement", "while_statement"):
        return children
    condition = node.child_by_field_name("condition")
    if truth(condition, reader.data, {}) is not False:
        return children
    dead = node.child_by_field_name("consequence") or node.child_by_field_name("body")
    return [c for c in children if dead is None or c.id != dead.id]


_EXITS = frozenset({"return_statement", "raise_statement", "continue_statement", "break_statement"})
_END = 1 << 62


def _guards(reader: Reader, node: Node) -> list[tuple[str, int, int]]:
    """The values an `if`/`elif`/`assert` checks, with the bytes where they are known
    good: after the statement when a failed check leaves (`if not ok(x): return`,
    `assert ok(x)`), inside the branch when it is taken on success (`if ok(x): ...`)."""
    if node.type == "assert_statement":
        return [(t, node.end_byte, _END) for t, negated in _tests(reader, node) if not negated]
    if node.type not in ("if_statement", "elif_clause"):
        return []
    condition = node.child_by_field_name("condition")
    branch = node.child_by_field_name("consequence")
    if condition is None or branch is None:
        return []
    leaves = any(n.type in _EXITS or _is_exit(reader, n) for n in walk(branch))
    found = []
    for text, negated in _tests(reader, condition):
        if negated and leaves:
            found.append((text, node.end_byte, _END))
        elif not negated:
            found.append((text, branch.start_byte, branch.end_byte))
    return found


def _is_exit(reader: Reader, node: Node) -> bool:
    if node.type != "call":
        return False
    name = reader.dotted(node.child_by_field_name("function"))
    return name.split(".")[-1] in ("exit", "_exit", "abort")


def _tests(reader: Reader, condition: Node) -> list[tuple[str, bool]]:
    """The values a condition tests, each with whether the test is negated (`not ok(x)`,
    `x not in allowed`)."""
    found = []
    for node in walk(condition):
        text = _tested(reader, node)
        if text is None:
            continue
        negated = node.type == "comparison_operator" and any(
            reader.text(c) == "not in" for c in node.children if not c.is_named
        )
        parent = node.parent
        while parent is not None and parent != condition.parent:
            if parent.type == "not_operator":
                negated = not negated
            parent = parent.parent
        found.append((text, negated))
    return found


def _tested(reader: Reader, node: Node) -> str | None:
    """The value `node` checks: a validating call's argument or receiver, the left side
    of an `in` test."""
    if node.type == "comparison_operator":
        operators = {reader.text(c) for c in node.children if not c.is_named}
        first = node.named_children[0] if node.named_children else None
        return reader.text(first) if first is not None and operators & {"in", "not in"} else None
    if node.type != "call":
        return None
    fn = node.child_by_field_name("function")
    args = node.child_by_field_name("arguments")
    if fn is None or args is None or not VALIDATING.search(reader.dotted(fn)):
        return None
    receiver = fn.child_by_field_name("object") if fn.type == "attribute" else None
    listed = [a for a in args.named_children if a.type not in ("keyword_argument", "comment")]
    if receiver is not None and receiver.type != "identifier" or not listed:
        return reader.text(receiver) if receiver is not None else None
    return reader.text(listed[-1])


def string_text(reader: Reader, node: Node) -> str:
    """A string literal's text without its prefix and quotes (interpolations kept)."""
    if node.type == "concatenated_string":
        return "".join(string_text(reader, c) for c in node.named_children if c.type == "string")
    text = reader.text(node)
    match = _PREFIX.match(text)
    if match is None:
        return text
    quote = match.group(0).lstrip("rRbBuUfF")
    body = text[match.end() :]
    return body[: -len(quote)] if body.endswith(quote) else body


class Strings:
    """Questions about the values of one scope, asked at a byte offset (`at`): only the
    assignments before it count."""

    def __init__(self, reader: Reader, scope: Scope) -> None:
        self.reader = reader
        self.scope = scope
        # answers already given, per (node, offset): a long chain of `s = s + x` would
        # otherwise be read again from every later line
        self._constants: dict[tuple[int, int], bool] = {}
        self._built: dict[tuple[int, int], Built | None] = {}
        self._states: dict[str, list[tuple[Built | None, str | None]]] = {}
        self.work = 0  # questions asked; past WORK_LIMIT every answer is "nothing found"

    def callee_name(self, call: Node) -> str:
        """The called name: `run` for `self.run(...)`, `cmd.run` for a dispatch
        table's `__salt__['cmd.run'](...)`."""
        fn = call.child_by_field_name("function")
        if fn is None:
            return ""
        if fn.type == "attribute":
            attr = fn.child_by_field_name("attribute")
            return self.reader.text(attr) if attr is not None else ""
        if fn.type == "subscript":
            key = fn.child_by_field_name("subscript")
            if key is not None and key.type == "string":
                return string_text(self.reader, key)
        return self.reader.text(fn)

    def literal(self, node: Node | None, at: int, depth: int = 0) -> str | None:
        """The text of a constant string (a literal or a local bound only to one)."""
        node = _inner(node)
        if node is None or depth > 8:
            return None
        if node.type in ("string", "concatenated_string"):
            if any(n.type == "interpolation" for n in walk(node)):
                return None
            return string_text(self.reader, node)
        if node.type == "identifier":
            values = self._values(self.reader.text(node), at)
            if len(values) == 1 and values[0][1] == "=":
                return self.literal(values[0][2], values[0][0], depth + 1)
        return None

    def constant(self, node: Node | None, at: int, depth: int = 0) -> bool:
        """Whether `node`'s value is fixed by the code or cleaned (see the module);
        past the work limit, yes (nothing is reported)."""
        if node is None:
            return True
        key = (node.id, at)
        if key not in self._constants:
            self.work += 1
            self._constants[key] = self.work > WORK_LIMIT or self._constant(node, at, depth)
        return self._constants[key]

    def _constant(self, node: Node | None, at: int, depth: int) -> bool:
        node = _inner(node)
        if node is None or depth > 8:
            return node is None
        kind = node.type
        if kind in _LITERALS:
            return True
        if kind in ("string", "concatenated_string"):
            return all(
                self.constant(n.child_by_field_name("expression") or n.named_children[0], at)
                for n in walk(node)
                if n.type == "interpolation" and n.named_child_count
            )
        if kind in ("identifier", "attribute") and self._checked(node, at):
            return True
        if kind == "identifier":
            name = self.reader.text(node)
            values = self._values(name, at)
            if _CONSTANT_NAME.match(name) and not (name in self.scope.parameters or values):
                return True
            # its last plain assignment and what is added after it (`x = int(x)` cleans
            # a parameter; branches are not told apart)
            last = max((i for i, v in enumerate(values) if v[1] == "="), default=-1)
            if last < 0:
                return False
            return all(self.constant(v, start, depth + 1) for start, _, v in values[last:])
        if kind == "attribute":
            attr = node.child_by_field_name("attribute")
            return attr is not None and bool(_CONSTANT_NAME.match(self.reader.text(attr)))
        if kind in ("binary_operator", "boolean_operator"):
            left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
            return self.constant(left, at, depth + 1) and self.constant(right, at, depth + 1)
        if kind == "conditional_expression":
            parts = node.named_children
            return len(parts) == 3 and all(
                self.constant(p, at, depth + 1) for p in (parts[0], parts[2])
            )
        if kind in ("tuple", "list", "set", "expression_list"):
            return all(self.constant(c, at, depth + 1) for c in node.named_children)
        if kind in ("generator_expression", "list_comprehension", "set_comprehension"):
            # `(qn(c) for c in columns)`: every element is what its body makes
            body = node.child_by_field_name("body")
            return body is not None and self.constant(body, at, depth + 1)
        if kind == "dictionary":
            return all(
                self.constant(p.child_by_field_name("value"), at, depth + 1)
                for p in node.named_children
                if p.type == "pair"
            )
        if kind == "unary_operator":
            return self.constant(node.child_by_field_name("argument"), at, depth + 1)
        if kind == "call":
            return self._clean_call(node, at, depth)
        return False

    def _clean_call(self, call: Node, at: int, depth: int) -> bool:
        name = self.reader.dotted(call.child_by_field_name("function"))
        cleaning = CLEANING.search(name) or CLEANING.search(self._alias(name, at))
        if cleaning and not self._identity(name):
            return True
        args = call.child_by_field_name("arguments")
        if name == "str" and args is not None and args.named_child_count == 1:
            return self.constant(args.named_children[0], at, depth + 1)
        fn = call.child_by_field_name("function")
        if fn is not None and fn.type == "attribute" and name.endswith((".format", ".join")):
            receiver = fn.child_by_field_name("object")
            listed = [] if args is None else args.named_children
            if args is not None and args.type == "generator_expression":
                listed = [args]  # `", ".join(qn(c) for c in columns)`
            return self.constant(receiver, at, depth + 1) and all(
                self.constant(a.child_by_field_name("value") or a, at, depth + 1) for a in listed
            )
        return False

    def _identity(self, name: str) -> bool:
        """Whether `name` (`quote`, `self.quote`) is a function of this file that hands
        a parameter back as it is (`def quote(v): return v`): named like a cleaner, it
        cleans nothing."""
        head, _, last = name.rpartition(".")
        if head not in ("", "self", "cls"):
            return False
        return last in self.scope.identities

    def _alias(self, name: str, at: int) -> str:
        """What a local function name stands for (`qn = connection.ops.quote_name`)."""
        values = self._values(name, at) if "." not in name else []
        if len(values) == 1 and values[0][2].type in ("attribute", "identifier"):
            return self.reader.dotted(values[0][2])
        return ""

    def built(self, node: Node | None, at: int, depth: int = 0) -> Built | None:
        """How `node` builds a string from constant text and an unfixed value, if it does
        (past the work limit: not known, None)."""
        if node is None:
            return None
        key = (node.id, at)
        if key not in self._built:
            self.work += 1
            self._built[key] = None if self.work > WORK_LIMIT else self._build(node, at, depth)
        return self._built[key]

    def _build(self, node: Node | None, at: int, depth: int) -> Built | None:
        node = _inner(node)
        if node is None or depth > 8:
            return None
        kind = node.type
        if kind in ("string", "concatenated_string"):
            return self._fstring(node, at, depth)
        if kind == "binary_operator":
            return self._operator(node, at, depth)
        if kind == "call":
            return self._format(node, at, depth)
        if kind == "identifier":
            return self._name(node, at, depth)
        return None

    def _fstring(self, node: Node, at: int, depth: int) -> Built | None:
        text = ""
        pasted: list[tuple[str, Node]] = []
        strings = [node] if node.type == "string" else node.named_children
        for string in strings:
            for part in string.named_children:
                if part.type != "interpolation":
                    if part.type in ("string_content", "escape_sequence"):
                        text += self.reader.text(part)
                    continue
                value = part.child_by_field_name("expression")
                if value is None and part.named_child_count:
                    value = part.named_children[0]
                if value is not None and not self.constant(value, at, depth + 1):
                    pasted.append((text, value))
                text += self.reader.text(part)
        return Built(text, tuple(pasted), node) if pasted else None

    def _operator(self, node: Node, at: int, depth: int) -> Built | None:
        op = node.child_by_field_name("operator")
        operator = self.reader.text(op) if op is not None else ""
        left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
        if operator == "%":
            text = self.literal(left, at)
            if text is not None and not self.constant(right, at, depth + 1):
                formatted = _percent(self, text, right, at)
                return Built(text, formatted, node) if formatted else None
            return self.built(left, at, depth + 1)
        if operator != "+":
            return None
        text = ""
        pasted: list[tuple[str, Node]] = []
        literal = False
        for part in _flatten_plus(self.reader, node):
            constant = self.literal(part, at)
            if constant is not None:
                text += constant
                literal = True
                continue
            found = self.built(part, at, depth + 1)
            if found is not None:
                pasted.extend(found.after(text, node).pasted)
                text += found.text
                literal = True
            elif not self.constant(part, at, depth + 1):
                pasted.append((text, part))
                text += "{}"
        return Built(text, tuple(pasted), node) if pasted and literal else None

    def _format(self, call: Node, at: int, depth: int) -> Built | None:
        fn = call.child_by_field_name("function")
        if fn is None or fn.type != "attribute":
            return None
        attr = fn.child_by_field_name("attribute")
        if attr is None or self.reader.text(attr) != "format":
            return None
        text = self.literal(fn.child_by_field_name("object"), at)
        args = call.child_by_field_name("arguments")
        if text is None or args is None:
            return None
        positional = [a for a in args.named_children if a.type != "keyword_argument"]
        keywords = {}
        for arg in args.named_children:
            name, value = arg.child_by_field_name("name"), arg.child_by_field_name("value")
            if arg.type == "keyword_argument" and name is not None and value is not None:
                keywords[self.reader.text(name)] = value
        pasted: list[tuple[str, Node]] = []
        auto = 0
        for field_match in _FIELD.finditer(text):
            key = field_match.group(1).split(".")[0].split("[")[0]
            if key.isdigit():
                chosen = positional[int(key)] if int(key) < len(positional) else None
            elif key:
                chosen = keywords.get(key)
            else:
                chosen = positional[auto] if auto < len(positional) else None
                auto += 1
            if chosen is not None and not self.constant(chosen, at, depth + 1):
                pasted.append((text[: field_match.start()], chosen))
        if not pasted and not _FIELD.search(text):  # `*args`, `**kw`: unknown fields
            for value in [*positional, *keywords.values()]:
                if not self.constant(value, at, depth + 1):
                    pasted.append((text, value))
                    break
        return Built(text, tuple(pasted), call) if pasted else None

    def _name(self, node: Node, at: int, depth: int) -> Built | None:
        """The string a local holds at `at`: its last plain assignment and the `+=`
        after it (straight-line reading; branches are not told apart). Read forward
        once per name: each assignment's state is kept for the later ones."""
        name = self.reader.text(node)
        count = len(self._values(name, at))
        states = self._states.setdefault(name, [(None, None)])
        assigned = self.scope.assigned.get(name, [])
        while len(states) <= count:
            start, operator, value = assigned[len(states) - 1]
            states.append(self._assign(states[-1], operator, value, start, depth))
        return states[count][0]

    def _assign(
        self,
        previous: tuple[Built | None, str | None],
        operator: str,
        value: Node,
        start: int,
        depth: int,
    ) -> tuple[Built | None, str | None]:
        """The (built string, constant text) a name holds after one more assignment."""
        state, base = previous
        if operator == "=":
            return self.built(value, start, depth + 1), self.literal(value, start)
        if operator != "+=":
            return None, None
        before = state.text if state is not None else base
        added = self.built(value, start, depth + 1)
        earlier = state.pasted if state is not None else ()
        if added is not None and before is not None:
            shifted = added.after(before, value)
            return Built(shifted.text, (*earlier, *shifted.pasted), value), base
        if before is not None and not self.constant(value, start, depth + 1):
            return Built(before + "{}", (*earlier, (before, value)), value), base
        text = self.literal(value, start)
        if state is not None and text is not None:
            return Built(state.text + text, state.pasted, state.at), base
        return state, (base + text if base is not None and text is not None else None)

    def _checked(self, node: Node, at: int) -> bool:
        text = self.reader.text(node)
        return any(
            start <= at < end and checked == text for checked, start, end in self.scope.checked
        )

    def _values(self, name: str, at: int) -> list[tuple[int, str, Node]]:
        return [v for v in self.scope.assigned.get(name, []) if v[0] < at]


def _inner(node: Node | None) -> Node | None:
    while node is not None and node.type in ("parenthesized_expression", "expression_statement"):
        inner = [c for c in node.named_children if c.type != "comment"]
        if len(inner) != 1:
            break
        node = inner[0]
    return node


def _flatten_plus(reader: Reader, node: Node) -> list[Node]:
    """The operands of a chain `a + b + c`, left to right (without recursion: a chain
    of thousands of operands nests as deep)."""
    found: list[Node] = []
    stack: list[Node] = [node]
    while stack:
        inner = _inner(stack.pop())
        if inner is None:
            continue
        op = inner.child_by_field_name("operator")
        if inner.type == "binary_operator" and op is not None and reader.text(op) == "+":
            left = inner.child_by_field_name("left")
            right = inner.child_by_field_name("right")
            stack.extend(n for n in (right, left) if n is not None)
        else:
            found.append(inner)
    return found


#: A `%` conversion: its mapping key (`%(name)s`) and its type.
_CONVERSION = re.compile(
    r"%(?:\(([^)]*)\))?[-#0 +]*(?:\*|\d+)?(?:\.(?:\*|\d+))?[hlL]?([diouxXeEfFgGcrsa%])"
)
#: A `str.format` replacement field (its name; `{{` is not one).
_FIELD = re.compile(r"(?<!\{)\{([^{}!:]*)(?:![rsa])?(?::[^{}]*)?\}")


def _percent(
    strings: Strings, text: str, node: Node | None, at: int
) -> tuple[tuple[str, Node], ...]:
    """The values `text % node` pastes that are not constant, each with the text before
    its conversion."""
    inner = _inner(node)
    assert inner is not None
    found = [(m.group(1), m.start()) for m in _CONVERSION.finditer(text) if m.group(2) != "%"]
    pasted: list[tuple[str, Node]] = []
    if inner.type == "tuple":
        for child, (_, offset) in zip(inner.named_children, found, strict=False):
            if not strings.constant(child, at):
                pasted.append((text[:offset], child))
        return tuple(pasted)
    if inner.type == "dictionary":
        values: dict[str, Node] = {}
        for pair in inner.named_children:
            key, item = pair.child_by_field_name("key"), pair.child_by_field_name("value")
            name = strings.literal(key, at) if key is not None else None
            if name is not None and item is not None:
                values[name] = item
        for mapping_key, offset in found:
            chosen = values.get(mapping_key or "")
            if chosen is not None and not strings.constant(chosen, at):
                pasted.append((text[:offset], chosen))
        if pasted or values:
            return tuple(pasted)
    offset = found[0][1] if found else len(text)
    return ((text[:offset], inner),)


def identity_functions(reader: Reader, root: Node) -> frozenset[str]:
    """The names of the file's functions whose every `return` hands back a parameter as
    it is (`def quote(v): return v`), however they are named."""
    found = set()
    for fn in walk(root):
        if fn.type != "function_definition":
            continue
        name, params = fn.child_by_field_name("name"), fn.child_by_field_name("parameters")
        if name is None or params is None:
            continue
        names = {reader.text(n) for n in params.named_children if n.type == "identifier"}
        returns = [n for n in walk(fn) if n.type == "return_statement"]
        values = [_inner(r.named_children[0]) if r.named_child_count else None for r in returns]
        if values and all(
            v is not None and v.type == "identifier" and reader.text(v) in names for v in values
        ):
            found.add(reader.text(name))
    return frozenset(found)
