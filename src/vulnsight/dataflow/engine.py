"""Taint analysis of one function's body over its tree-sitter tree.

`FunctionAnalysis` walks the statements in order, keeping for every variable (and
attribute chain such as `self.name`) the taints it holds. Branches are analysed apart
and joined, loops twice, branches with constant conditions only on the side taken.
Calls are looked up in the language's specification (source, sanitiser, sink) and in
the summaries of the scanned functions they resolve to (see `scan.py`); a call to
anything else passes the taints of its receiver and arguments to its result.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from tree_sitter import Node

from vulnsight.dataflow.calls import SELF_NAMES, CallAnalysis, Facts, Resolver
from vulnsight.dataflow.constants import UNKNOWN, constant, truth
from vulnsight.dataflow.sol_state import StateAccess, state_sink
from vulnsight.dataflow.spec import LanguageSpec
from vulnsight.dataflow.syntax import (
    COMPARISONS,
    bound_names,
    subscript_base,
    subscript_index,
    unwrap,
)
from vulnsight.dataflow.taint import CLEAN, SinkHit, Taint, Value, step_all, union
from vulnsight.errors import VulnsightError

#: Loops run their body twice (a value tainted late in the body reaches its start), so
#: each level of nesting doubles the work: loops nested deeper than this run once (the
#: outer loops still run them again), or 22 nested loops in 25 lines would take hours.
TWICE_DEPTH = 3
#: Statements and expressions one function's analysis may visit, plus the variables it
#: copies and joins at branches (else 4,000 variables and 4,000 `if`s, 180 kB, take a
#: minute): sympy's largest solver function needs 40,000, vulnsight's own 5,700.
MAX_VISITS = 400_000
#: The stored members of a local aggregate whose values a read of another one joins.
MEMBER_LIMIT = 16


def _never(_callee: str) -> bool:
    return False


class FlowBudgetExceeded(VulnsightError):
    """A function whose analysis would visit more than `MAX_VISITS` nodes."""


# fmt: off
_FUNCTIONS = frozenset({
    "function_definition", "function_declaration", "generator_function_declaration",
    "method_definition", "arrow_function", "function_expression", "function",
    "generator_function", "lambda",
})
_BLOCKS = frozenset({
    "block", "statement_block", "module", "program", "else_clause", "finally_clause",
    "compound_statement", "function_body", "statement", "block_statement",
    "expression_statement", "labeled_statement", "export_statement", "decorated_definition",
})
_SKIPPED = frozenset({
    "class_definition", "class_declaration", "import_statement", "import_from_statement",
    "comment", "pass_statement", "global_statement", "nonlocal_statement", "decorator",
    "interface_declaration", "type_alias_declaration", "enum_declaration",
    "preproc_include", "preproc_def", "preproc_function_def", "type_definition",
    "struct_specifier", "enum_specifier", "union_specifier",
})
_CLEAN_EXPRESSIONS = frozenset({
    "comparison_operator", "not_operator", "integer", "float", "number", "true", "false",
    "none", "null", "undefined", "this", "super", "regex", "lambda", "class",
    "number_literal", "char_literal", "sizeof_expression",
})
_ASSIGNMENTS = frozenset({
    "assignment", "augmented_assignment", "assignment_expression",
    "augmented_assignment_expression", "named_expression",
})
# fmt: on
#: Operators whose result a clean operand bounds (`x % n`, `x & mask`), and the
#: weaknesses such a bound excludes (the sum or product of small values does not wrap).
_BOUNDING = frozenset({"%", "&"})
_BOUNDED_CWES = frozenset({"CWE-190", "CWE-680"})

#: a branch's outcome: variables' taints, constants, whether it ended (return, break...)
_State = tuple[dict[str, Value], dict[str, Any], bool]


class FunctionAnalysis(CallAnalysis):
    """One pass over one function (or a file's top-level code)."""

    def __init__(
        self,
        spec: LanguageSpec,
        data: bytes,
        file: str,
        function: str,
        resolve: Resolver,
        units: frozenset[int],
        fields: dict[str, Value] | None = None,
        state: StateAccess | None = None,
        shadowed: Callable[[str], bool] | None = None,
    ) -> None:
        super().__init__(data, file, function)
        self.shadowed = shadowed if shadowed is not None else _never
        self.state = state  # Solidity: the contract's storage
        self.spec = spec
        self.resolve = resolve
        self.units = units  # start bytes of nested units analysed on their own
        # untrusted data stored in `self.x` by any method of the same class
        self.fields = fields if fields is not None else {}
        self.env: dict[str, Value] = {}
        self.consts: dict[str, Any] = {}
        self.dead = False
        self.facts = Facts()
        self.visits = 0
        self.loop_depth = 0
        self.integers: set[str] = set()  # C: variables declared here with an integer type
        # the states at each `break` of the switch statements being analysed (innermost
        # last; a loop pushes its own frame so its breaks stay out of the switch's)
        self.breaks: list[list[_State]] = []
        # C: pointers set to a variable's address (`p = &data`): `*p` reads and writes data
        self.aliases: dict[str, str] = {}
        # C: variables declared with a byte type (`unsigned char c`): like a byte cast,
        # what is stored in them indexes a 256-entry table safely
        self.narrow: set[str] = set()
        # C++: variables of a source's type (`std::ifstream in`), read with `in >> x`
        self.streams: set[str] = set()
        # C: struct/union variables declared here with no value, address never taken
        self.aggregates: set[str] = set()
        # the stored members of each aggregate, per env dict and size (keys are only
        # ever added to one env dict, so the pair says when to read them again)
        self._members: tuple[dict[str, Value], int, dict[str, list[str]]] | None = None

    def _visit(self, cost: int = 1) -> None:
        self.visits += cost
        if self.visits > MAX_VISITS:
            raise FlowBudgetExceeded(
                f"{self.function} is too complex to follow (over {MAX_VISITS:,} steps)"
            )

    # --- statements --------------------------------------------------------------

    def run(self, node: Node) -> None:
        """Analyse a statement (or a block of them)."""
        if self.dead:
            return
        self._visit()
        kind = node.type
        if kind in _SKIPPED or (kind in _FUNCTIONS and node.start_byte in self.units):
            return
        if kind in _BLOCKS:
            for child in node.named_children:
                self.run(child)
            return
        handler = _STATEMENTS.get(kind)
        if handler is not None:
            handler(self, node)
        else:
            self.expr(node)

    def run_return(self, node: Node) -> None:
        value = union(*(self.expr(c) for c in node.named_children))
        if value:
            self.facts.returns.append(step_all(value, self.step(node, "returned")))
        self.dead = True

    def run_exit(self, node: Node) -> None:
        for child in node.named_children:
            self.expr(child)
        self.dead = True

    def run_break(self, node: Node) -> None:
        """`break`: a switch statement's case ends here and the code after the switch
        goes on with this state (a loop's break is the loop's own, see `run_loop`)."""
        if self.breaks and not self.dead:
            self.breaks[-1].append(self.here())
        self.run_exit(node)

    def branch(
        self, body: Node | None, narrowing: list[tuple[list[str], frozenset[str]]] | None
    ) -> _State:
        """Analyse `body` on a copy of the state; return its state and whether it ends."""
        self._visit(len(self.env) + len(self.consts))  # copying the state is work too
        saved_env, saved_consts, saved_dead = dict(self.env), dict(self.consts), self.dead
        for names, cwes in narrowing or []:
            self.sanitise_names(names, cwes)
        if body is not None:
            self.run(body)
        result = (self.env, self.consts, self.dead)
        self.env, self.consts, self.dead = saved_env, saved_consts, saved_dead
        return result

    def here(self) -> _State:
        """A copy of the current state."""
        self._visit(len(self.env) + len(self.consts))
        return (dict(self.env), dict(self.consts), self.dead)

    def join(self, outcomes: list[_State]) -> None:
        """The state after branches: taints of every live branch, constants they agree on."""
        live = [(env, consts) for env, consts, dead in outcomes if not dead]
        if not live:
            self.dead = True
            return
        self._visit(sum(len(env) + len(consts) for env, consts in live))
        keys = dict.fromkeys(k for env, _ in live for k in env)
        self.env = {k: union(*(env.get(k, CLEAN) for env, _ in live)) for k in keys}
        first = live[0][1]
        self.consts = {
            k: v
            for k, v in first.items()
            if all(k in c and c[k] == v and type(c[k]) is type(v) for _, c in live)
        }
        self.dead = False

    def run_if(self, node: Node) -> None:
        condition = node.child_by_field_name("condition")
        if condition is not None and condition.type == "condition_clause":
            # C++ wraps `(cond)` in a clause; its value is what C has in parentheses
            condition = condition.child_by_field_name("value") or condition
        if condition is not None:
            self.expr(condition)
        consequence = node.child_by_field_name("consequence")
        alternatives = list(node.children_by_field_name("alternative"))
        if consequence is None:  # Solidity: `body` twice, the second after `else`
            bodies = list(node.children_by_field_name("body"))
            consequence, alternatives = (bodies[0], bodies[1:]) if bodies else (None, [])
        decided = truth(condition, self.data, self.consts)
        if decided is True:
            self.run_branch_body(consequence)
            return
        if decided is False:
            self.run_alternatives(alternatives)
            return
        then = self.branch(consequence, self.checks(condition, True))
        saved = self.here()
        for names, cwes in self.checks(condition, False):
            self.sanitise_names(names, cwes)
        self.run_alternatives(alternatives)
        otherwise = (self.env, self.consts, self.dead)
        self.env, self.consts, self.dead = saved
        self.join([then, otherwise])

    def run_branch_body(self, body: Node | None) -> None:
        if body is not None:
            self.run(body)

    def run_alternatives(self, alternatives: list[Node]) -> None:
        for alt in alternatives:
            if alt.type == "elif_clause":
                self.run_if(alt)  # same fields: condition, consequence
                return
            body = alt.child_by_field_name("body") or (
                alt.named_children[-1] if alt.named_child_count else None
            )
            self.run_branch_body(body)

    def run_loop(self, node: Node) -> None:
        condition = node.child_by_field_name("condition")
        if condition is not None:
            self.expr(condition)
            once = node.type == "do_statement"  # do { ... } while (0) runs once
            if truth(condition, self.data, self.consts) is False and not once:
                return
        left = node.child_by_field_name("left")
        right = node.child_by_field_name("right")
        for name in ("initializer", "initial", "increment", "update"):
            part = node.child_by_field_name(name)
            if part is not None:
                self.run(part)
        body = node.child_by_field_name("body")
        before = self.here()
        self.loop_depth += 1
        self.breaks.append([])
        try:
            for _ in range(2 if self.loop_depth <= TWICE_DEPTH else 1):
                if left is not None and right is not None:
                    self.bind(left, self.expr(right), left)
                state = self.branch(body, None)
                self.join([before, (state[0], state[1], False)])
        finally:
            self.loop_depth -= 1
            broken = self.breaks.pop()
        if broken:  # `if (...) { data = x; break; }`: the loop ends with data set
            self.join([self.here(), *broken])
        alternative = node.child_by_field_name("alternative")
        if alternative is not None:
            self.run(alternative)

    def run_try(self, node: Node) -> None:
        parts = [c for c in node.named_children if c.type not in ("finally_clause",)]
        body = node.child_by_field_name("body")
        if body is not None:
            self.run(body)
        self.dead = False  # a handler may run after the body stopped anywhere
        for part in parts:
            if part is body:
                continue
            inner = part.child_by_field_name("body") or (
                part.named_children[-1] if part.named_child_count else None
            )
            if inner is not None:
                self.join([self.here(), self.branch(inner, None)])
        final = node.child_by_field_name("finalizer") or next(
            (c for c in node.named_children if c.type == "finally_clause"), None
        )
        if final is not None:
            self.run(final)

    def run_with(self, node: Node) -> None:
        for child in node.named_children:
            if child.type == "with_clause":
                for item in child.named_children:
                    value = item.child_by_field_name("value")
                    if value is not None and value.type == "as_pattern":
                        target = value.child_by_field_name("alias")
                        inner = value.named_children[0] if value.named_child_count else None
                        taint = self.expr(inner) if inner is not None else CLEAN
                        if target is not None:
                            self.bind(target, taint, target)
                    elif value is not None:
                        self.expr(value)
            elif child.type == "block":
                self.run(child)

    def run_declaration(self, node: Node) -> None:
        self.note_integers(node)
        self.note_streams(node)
        self.note_aggregates(node)
        for declarator in node.named_children:
            if declarator.type not in ("variable_declarator", "init_declarator"):
                continue
            name = declarator.child_by_field_name("name") or declarator.child_by_field_name(
                "declarator"
            )
            value = declarator.child_by_field_name("value")
            if name is None or value is None:
                continue
            self.bind(name, self.expr(value), value)

    def note_streams(self, node: Node) -> None:
        """C++: a variable whose declared type is a source (`std::ifstream in(path)`)
        holds that source's data; `in >> x` fills x with it (`reads_stream`)."""
        kind = node.child_by_field_name("type")
        if kind is None or kind.type not in ("qualified_identifier", "type_identifier"):
            return
        source = self.spec.source_for(self.text(kind).replace("::", "."), call=False)
        if source is None:
            return
        for declarator in node.children_by_field_name("declarator"):
            if declarator.type in ("init_declarator", "function_declarator"):
                declarator = declarator.child_by_field_name("declarator") or declarator
            if declarator.type != "identifier":
                continue
            name = self.text(declarator)
            step = self.step(declarator, f"source: {name} ({source.label})")
            taint = Taint((step,), source=source.label, confidence=source.confidence,
                          only=source.cwes)  # fmt: skip
            self.streams.add(name)
            self.env[name] = union(self.env.get(name, CLEAN), (taint,))

    def note_aggregates(self, node: Node) -> None:
        """C: remember `T u;` / `union U u;` (a named type, a plain name, no value)."""
        kind = node.child_by_field_name("type")
        if kind is None or kind.type not in ("type_identifier", "union_specifier"):
            return
        if not self.spec.integer_types:  # C and C++ only
            return
        for declarator in node.children_by_field_name("declarator"):
            if declarator.type == "identifier":
                self.aggregates.add(self.text(declarator))

    def note_integers(self, node: Node) -> None:
        """Remember the plain variables a C declaration gives an integer type (`int a, b
        = 0;`; not `int *p` or `int buf[4]`), and those of a byte type."""
        kind = node.child_by_field_name("type")
        if kind is None or not self.spec.integer_types:
            return
        written = " ".join(self.text(kind).split())
        if written in self.spec.narrow_casts:
            for declarator in node.children_by_field_name("declarator"):
                if declarator.type == "init_declarator":
                    declarator = declarator.child_by_field_name("declarator") or declarator
                if declarator.type == "identifier":
                    self.narrow.add(self.text(declarator))
        if written not in self.spec.integer_types:
            return
        for declarator in node.children_by_field_name("declarator"):
            if declarator.type == "init_declarator":
                declarator = declarator.child_by_field_name("declarator") or declarator
            if declarator.type == "identifier":
                self.integers.add(self.text(declarator))

    def is_integer(self, node: Node | None) -> bool:
        """An integer variable declared in this function, or an integer literal."""
        if node is None:
            return False
        if node.type == "number_literal":
            return "." not in self.text(node)
        return node.type == "identifier" and self.text(node) in self.integers

    def check_integer(
        self, node: Node, operator: str, target: Node | None, other: Node | None, value: Value
    ) -> None:
        """`data + 1`, `data++`, `total += n`: an untrusted integer variable's sum wraps."""
        if not value or target is None or target.type != "identifier":
            return
        if self.is_integer(target) and (other is None or self.is_integer(other)):
            self.check_operand(node, operator, "integer", value)

    def note_alias(self, name: str, right: Node) -> None:
        """C: remember that `name` points at a variable (`p = &data`), or forget it."""
        value = right
        while value.type in ("parenthesized_expression", "cast_expression"):
            inner = value.child_by_field_name("value") or (
                value.named_children[-1] if value.named_children else None
            )
            if inner is None:
                break
            value = inner
        argument = value.child_by_field_name("argument")
        if (
            value.type == "pointer_expression"
            and self.text(value)[:1] == "&"
            and argument is not None
            and argument.type == "identifier"
        ):
            self.aliases[name] = self.text(argument)
        elif self.aliases:
            self.aliases.pop(name, None)

    def expr_pointer(self, node: Node) -> Value:
        """`*p`: what p points at (the variable it was set to the address of, if any)."""
        argument = node.child_by_field_name("argument")
        value = self.expr(argument) if argument is not None else CLEAN
        if argument is not None and self.text(node)[:1] == "&" and self.aggregates:
            self.aggregates.discard(self.text(argument))  # `memset(&s, ...)`: filled
        if argument is not None and self.text(node)[:1] == "*":
            aliased = self.aliases.get(self.text(argument))
            if aliased is not None:
                return union(value, self.env.get(aliased, CLEAN))
        return value

    def run_variable_statement(self, node: Node) -> None:
        """Solidity: `T x = v;` and `(bool ok, bytes memory d) = v;`."""
        value = node.child_by_field_name("value")
        taint = self.expr(value) if value is not None else CLEAN
        for child in node.named_children:
            if child.type == "variable_declaration_tuple":
                declared = [c for c in child.named_children if c.type == "variable_declaration"]
            elif child.type == "variable_declaration":
                declared = [child]
            else:
                continue
            for declaration in declared:
                name = declaration.child_by_field_name("name")
                if name is not None and value is not None:
                    self.bind(name, taint, value, constant_ok=len(declared) == 1)

    def run_switch(self, node: Node) -> None:
        value = node.child_by_field_name("value") or node.child_by_field_name("subject")
        if value is not None:
            self.expr(value)
        body = node.child_by_field_name("body")
        cases = body.named_children if body is not None else []
        outcomes = [self.here()]
        if node.type != "switch_statement":  # Python's `break` in a `case` leaves a loop
            for case in cases:
                outcomes.append(self.branch(case, None))
            self.join(outcomes)
            return
        self.breaks.append([])
        try:
            for case in cases:
                outcomes.append(self.branch(case, None))
        finally:
            broken = self.breaks.pop()
        self.join(outcomes + broken)  # a case ending in `break` goes on after the switch

    # --- expressions -------------------------------------------------------------

    def expr(self, node: Node) -> Value:
        """The taints of an expression's value (analysing what it does on the way)."""
        self._visit()
        kind = node.type
        if kind in _CLEAN_EXPRESSIONS:
            if kind in ("comparison_operator", "not_operator"):
                for child in node.named_children:
                    self.expr(child)
            return CLEAN
        if kind in _FUNCTIONS:
            if node.start_byte not in self.units:
                self.inline_callback(node)
            return CLEAN
        if kind in _STATEMENTS or kind in _BLOCKS:
            self.run(node)
            return CLEAN
        if kind == "expression" and node.named_child_count == 1:  # Solidity's wrapper
            return self.expr(node.named_children[0])
        handler = _EXPRESSIONS.get(kind)
        if handler is not None:
            return handler(self, node)
        return union(*(self.expr(c) for c in node.named_children))

    def expr_name(self, node: Node) -> Value:
        name = self.text(node)
        source = self.spec.source_for(name, call=False)  # `argv`, even as a parameter
        if source is None:
            if name not in self.env and self.state is not None and self.state.is_state(name):
                return self.state.read(name, self.step(node, f"read from state variable {name}"))
            return self.env.get(name, CLEAN)
        step = self.step(node, f"source: {name} ({source.label})")
        return (
            Taint((step,), source=source.label, confidence=source.confidence, only=source.cwes),
        )

    def expr_attribute(self, node: Node) -> Value:
        dotted = self.dotted(node)
        if dotted in self.env:
            return self.env[dotted]
        if dotted in self.fields:
            return self.fields[dotted]
        shared = self.other_member(node, dotted)
        if shared:
            return shared
        if self.state is not None and self.state.is_state(dotted):
            return self.state.read(dotted, self.step(node, f"read from state variable {dotted}"))
        source = self.spec.source_for(dotted, call=False)
        if source is not None:
            taint = Taint(
                path=(self.step(node, f"source: {dotted} ({source.label})"),),
                source=source.label,
                confidence=source.confidence,
                only=source.cwes,
            )
            return (taint,)
        obj = node.child_by_field_name("object")
        value = self.expr(obj) if obj is not None else CLEAN
        sanitiser = self.sanitiser_for(dotted)
        if sanitiser is not None and not sanitiser.validator:
            return self.sanitise(value, sanitiser)
        return value

    def other_member(self, node: Node, dotted: str) -> Value:
        """C: `u.b` of a local aggregate (declared here with no value, its address never
        taken) when only other members were stored: what they hold (a union's members
        share their bytes; a struct's unset member is no cleaner)."""
        if node.type != "field_expression" or not self.aggregates:
            return CLEAN
        obj = node.child_by_field_name("argument")
        op = node.child_by_field_name("operator")
        if obj is None or op is None or obj.type != "identifier" or self.text(op) != ".":
            return CLEAN
        name = self.text(obj)
        if name not in self.aggregates:
            return CLEAN
        return union(*(self.env[k] for k in self.members(name)))

    def members(self, name: str) -> list[str]:
        """The first `MEMBER_LIMIT` env keys `name.x` (one pass over env per env state:
        reading thousands of members of an aggregate with thousands stored would
        otherwise scan, and join, every stored one at each read)."""
        cached = self._members
        if cached is None or cached[0] is not self.env or cached[1] != len(self.env):
            found: dict[str, list[str]] = {}
            for key in self.env:
                head, dot, _ = key.partition(".")
                if dot:
                    kept = found.setdefault(head, [])
                    if len(kept) < MEMBER_LIMIT:
                        kept.append(key)
            cached = self._members = (self.env, len(self.env), found)
        return cached[2].get(name, [])

    def expr_subscript(self, node: Node) -> Value:
        base = subscript_base(node)
        index = subscript_index(node)
        if index is not None:
            self.check_operand(node, "[]", "index", self.expr(index))
        return self.expr(base) if base is not None else CLEAN

    def expr_array_access(self, node: Node) -> Value:
        """Solidity `m[k]`: the entry holds what was stored in `m`; which key the caller
        picks does not make the stored value the caller's."""
        index = node.child_by_field_name("index")
        if index is not None:
            self.expr(index)
        base = node.child_by_field_name("base")
        return self.expr(base) if base is not None else CLEAN

    def expr_cast(self, node: Node) -> Value:
        value_node = node.child_by_field_name("value")
        value = self.expr(value_node) if value_node is not None else CLEAN
        kind = node.child_by_field_name("type")
        if value and kind is not None and self.spec.narrow_casts:
            written = " ".join(self.text(kind).split())
            if written in self.spec.narrow_casts:
                cleaned = (t.cleaned(self.spec.narrow_cast_cwes) for t in value)
                return tuple(t for t in cleaned if t is not None)
        return value

    def check_operand(self, node: Node, operator: str, operand: str, value: Value) -> None:
        """Record a sink hit when an operator's operand (a divisor, an index) is untrusted."""
        sink = self.spec.operator_sink(operator, operand) if value else None
        if sink is None:
            return
        step = self.step(node, f"sink: {sink.label} in {self.text(node)[:60]} ({sink.cwe})")
        for taint in value:
            if taint.reaches(sink.cwe):
                self.record(SinkHit(taint, sink, step))

    def expr_binary(self, node: Node) -> Value:
        op = node.child_by_field_name("operator")
        values = [self.expr(c) for c in node.named_children]
        symbol = self.text(op) if op is not None else ""
        if symbol in COMPARISONS:
            return CLEAN
        if symbol == ">>" and values and values[0] and self.reads_stream(node):
            # C++ `std::cin >> a >> b`: the stream's data goes into each right operand
            self.store_into(node.named_children[-1], values[0], node, "read into")
            return values[0]
        if len(values) == 2:
            self.check_operand(node, symbol, "right", values[1])
            self.check_operand(node, symbol, "left", values[0])  # `n * 4` wraps as well
            left, right = node.child_by_field_name("left"), node.child_by_field_name("right")
            self.check_integer(node, symbol, left, right, values[0])
            self.check_integer(node, symbol, right, left, values[1])
            if symbol in _BOUNDING and not all(values):
                # `x % 10`, `x & 0xff`: bounded above by the clean operand, it cannot wrap
                cleaned = (t.cleaned(_BOUNDED_CWES) for t in union(*values))
                return tuple(t for t in cleaned if t is not None)
        return union(*values)

    def expr_update(self, node: Node) -> Value:
        """`data++`, `++data`: the variable's value, incremented (it may wrap)."""
        target = node.child_by_field_name("argument")
        value = self.expr(target) if target is not None else CLEAN
        op = node.child_by_field_name("operator")
        self.check_integer(node, self.text(op) if op is not None else "", target, None, value)
        return value

    def reads_stream(self, node: Node) -> bool:
        """Whether a `>>` chain starts at a stream that is a source (`std::cin`)."""
        left = node.child_by_field_name("left")
        while left is not None and left.type == "binary_expression":
            op = left.child_by_field_name("operator")
            if op is None or self.text(op) != ">>":
                return False
            left = left.child_by_field_name("left")
        if left is None or left.type not in ("identifier", "qualified_identifier"):
            return False
        if left.type == "identifier" and self.text(left) in self.streams:
            return True
        return self.spec.source_for(self.dotted(left), call=False) is not None

    def expr_conditional(self, node: Node) -> Value:
        condition = node.child_by_field_name("condition")
        if condition is not None:  # JavaScript: condition ? consequence : alternative
            yes = node.child_by_field_name("consequence")
            no = node.child_by_field_name("alternative")
        else:  # Python: yes if condition else no
            parts = node.named_children
            if len(parts) != 3:
                return union(*(self.expr(c) for c in parts))
            yes, condition, no = parts
        decided = truth(condition, self.data, self.consts)
        if decided is True:
            return self.expr(yes) if yes is not None else CLEAN
        if decided is False:
            return self.expr(no) if no is not None else CLEAN
        self.expr(condition)
        values = []
        for branch, outcome in ((yes, True), (no, False)):
            if branch is None:
                continue
            saved = dict(self.env)
            for names, cwes in self.checks(condition, outcome):
                self.sanitise_names(names, cwes)
            values.append(self.expr(branch))
            self.env = saved
        return union(*values)

    def expr_assignment(self, node: Node) -> Value:
        left = node.child_by_field_name("left") or node.child_by_field_name("name")
        right = node.child_by_field_name("right") or node.child_by_field_name("value")
        if right is None:
            return CLEAN
        value = self.expr(right)
        if left is None:
            return value
        op = node.child_by_field_name("operator")
        symbol = self.text(op) if op is not None else "="
        if node.type.startswith("augmented") or symbol not in ("=", ":="):  # C: `data += n`
            value = union(self.expr(left), value)
            self.check_integer(node, symbol, left, right, value)
            self.consts.pop(self.text(left), None)
            self.bind(left, value, right, constant_ok=False)
        else:
            self.bind(left, value, right)
        return value

    def bind(self, target: Node, value: Value, right: Node, constant_ok: bool = True) -> None:
        """Store `value` in what `target` names (a name, attribute, item or pattern)."""
        kind = target.type
        if kind in ("identifier", "shorthand_property_identifier_pattern"):
            name = self.text(target)
            if value and name in self.narrow:  # `unsigned char c = input[i]`: a byte
                cleaned = (t.cleaned(self.spec.narrow_cast_cwes) for t in value)
                value = tuple(t for t in cleaned if t is not None)
            self.env[name] = step_all(value, self.step(target, f"assigned to {name}"))
            self.store(target, name, value)
            self.note_alias(name, right)
            known = constant(right, self.data, self.consts) if constant_ok else UNKNOWN
            if known is UNKNOWN:
                self.consts.pop(name, None)
            else:
                self.consts[name] = known
            return
        if kind in ("init_declarator", "pointer_declarator", "array_declarator"):
            inner = target.child_by_field_name("declarator")
            if inner is not None:
                self.bind(inner, value, right, constant_ok)
            return
        if kind == "pointer_expression":  # `*p = x`: p points at x's data now (may-alias)
            inner = target.child_by_field_name("argument")
            if inner is not None and value:
                name = self.dotted(inner)
                stored = step_all(value, self.step(target, f"stored through {name}"))
                self.env[name] = union(self.env.get(name, CLEAN), stored)
            aliased = self.aliases.get(self.text(inner)) if inner is not None else None
            if aliased is not None:  # `p = &data; *p = x`: data holds x now
                self.env[aliased] = step_all(value, self.step(target, f"stored in {aliased}"))
            return
        if kind in ("attribute", "member_expression", "field_expression"):
            name = self.dotted(target)
            self.env[name] = step_all(value, self.step(target, f"assigned to {name}"))
            self.store(target, name, value)
            if name.split(".", 1)[0] in SELF_NAMES:
                sourced = [t for t in self.env[name] if t.param is None]
                if sourced:
                    self.fields[name] = union(self.fields.get(name, CLEAN), sourced)
            return
        if kind in ("subscript", "subscript_expression"):
            base = subscript_base(target)
            index = subscript_index(target)
            if index is not None:
                self.check_operand(target, "[]", "index", self.expr(index))
            if base is not None and value:
                name = self.dotted(base)
                self.check_item(target, name, index, value)
                stored = step_all(value, self.step(target, f"stored in {name}"))
                self.env[name] = union(self.env.get(name, CLEAN), stored)
            return
        if kind == "array_access":  # Solidity `m[k] = v`: m holds v (k is not assigned)
            base = target.child_by_field_name("base")
            index = target.child_by_field_name("index")
            if index is not None:
                self.expr(index)
            base = unwrap(base)
            while base is not None and base.type == "array_access":  # m[a][b] = v
                base = unwrap(base.child_by_field_name("base"))
            if base is not None and value:
                name = self.dotted(base)
                stored = step_all(value, self.step(target, f"stored in {name}"))
                self.env[name] = union(self.env.get(name, CLEAN), stored)
            return
        if kind == "pair_pattern":
            inner = target.child_by_field_name("value")
            if inner is not None:
                self.bind(inner, value, right, constant_ok=False)
            return
        if kind == "assignment_pattern":
            inner = target.child_by_field_name("left")
            if inner is not None:
                self.bind(inner, value, right, constant_ok=False)
            return
        for child in target.named_children:  # tuples, lists, object/array patterns
            self.bind(child, value, right, constant_ok=False)

    def check_item(self, target: Node, container: str, index: Node | None, value: Value) -> None:
        """`response['Location'] = url`: an item whose store is a sink (`SinkSpec.items`)."""
        if index is None or index.type != "string" or not value:
            return
        item = self.text(index).strip("'\"")
        for sink in self.spec.item_sinks_for(container, item):
            step = self.step(target, f"sink: {container}[{item!r}] ({sink.label}, {sink.cwe})")
            for taint in value:
                if taint.reaches(sink.cwe):
                    self.record(SinkHit(taint, sink, step))

    def store(self, target: Node, name: str, value: Value) -> None:
        """Solidity: untrusted data written to a state variable (a pseudo-sink hit, so a
        parameter's write reaches the callers' summaries; `sol_state.py`)."""
        if self.state is None or not value or not self.state.is_state(name):
            return
        sink = state_sink(name)
        step = self.step(target, f"stored in state variable {name}")
        for taint in value:
            if taint.reaches(sink.cwe):
                self.record(SinkHit(taint, sink, step))

    def inline_callback(self, node: Node) -> None:
        """A callback inside the function (`rows.forEach(r => ...)`): its body runs in
        this function's state; its parameters are unknown, its returns are its own."""
        body = node.child_by_field_name("body")
        if body is None or node.type == "lambda":
            return
        saved_returns, saved_dead = list(self.facts.returns), self.dead
        for name in self.param_names(node):
            self.env[name] = CLEAN
        if body.type in ("statement_block", "block"):
            self.run(body)
        else:
            self.expr(body)
        self.facts.returns, self.dead = saved_returns, saved_dead

    def param_names(self, node: Node) -> list[str]:
        """The names a function node's parameters bind (patterns flattened)."""
        single = node.child_by_field_name("parameter")
        params = node.child_by_field_name("parameters")
        names: list[str] = []
        for p in [single] if single is not None else (params.named_children if params else []):
            names.extend(bound_names(p, self.data))
        return names


_STATEMENTS: dict[str, Callable[[FunctionAnalysis, Node], None]] = {
    "return_statement": FunctionAnalysis.run_return,
    "raise_statement": FunctionAnalysis.run_exit,
    "throw_statement": FunctionAnalysis.run_exit,
    "break_statement": FunctionAnalysis.run_break,
    "continue_statement": FunctionAnalysis.run_exit,
    "if_statement": FunctionAnalysis.run_if,
    "for_statement": FunctionAnalysis.run_loop,
    "for_in_statement": FunctionAnalysis.run_loop,
    "while_statement": FunctionAnalysis.run_loop,
    "do_statement": FunctionAnalysis.run_loop,
    "try_statement": FunctionAnalysis.run_try,
    "with_statement": FunctionAnalysis.run_with,
    "lexical_declaration": FunctionAnalysis.run_declaration,
    "declaration": FunctionAnalysis.run_declaration,
    "variable_declaration": FunctionAnalysis.run_declaration,
    "switch_statement": FunctionAnalysis.run_switch,
    "variable_declaration_statement": FunctionAnalysis.run_variable_statement,
    "revert_statement": FunctionAnalysis.run_exit,
    "match_statement": FunctionAnalysis.run_switch,
}
_EXPRESSIONS: dict[str, Callable[[FunctionAnalysis, Node], Value]] = {
    "identifier": FunctionAnalysis.expr_name,
    "shorthand_property_identifier": FunctionAnalysis.expr_name,
    "attribute": FunctionAnalysis.expr_attribute,
    "member_expression": FunctionAnalysis.expr_attribute,
    "field_expression": FunctionAnalysis.expr_attribute,
    "cast_expression": FunctionAnalysis.expr_cast,
    "pointer_expression": FunctionAnalysis.expr_pointer,
    "subscript": FunctionAnalysis.expr_subscript,
    "subscript_expression": FunctionAnalysis.expr_subscript,
    "array_access": FunctionAnalysis.expr_array_access,
    "binary_expression": FunctionAnalysis.expr_binary,
    "update_expression": FunctionAnalysis.expr_update,
    "conditional_expression": FunctionAnalysis.expr_conditional,
    "ternary_expression": FunctionAnalysis.expr_conditional,
    "call": FunctionAnalysis.expr_call,
    "call_expression": FunctionAnalysis.expr_call,
    "new_expression": FunctionAnalysis.expr_call,
    **{kind: FunctionAnalysis.expr_assignment for kind in _ASSIGNMENTS},
}
