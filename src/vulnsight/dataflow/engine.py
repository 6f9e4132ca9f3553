"""Taint analysis of one function's body over its tree-sitter tree.

`FunctionAnalysis` walks the statements in order, keeping for every variable (and
attribute chain such as `self.name`) the taints it holds. Branches are analysed apart
and joined, loops twice, branches with constant conditions only on the side taken.
Calls are looked up in the language's specification (source, sanitiser, sink) and in
the summaries of the scanned functions they resolve to (see `scan.py`); a call to
anything else passes the taints of its receiver and arguments to its result.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tree_sitter import Node

from vulnsight.dataflow.constants import UNKNOWN, constant, truth
from vulnsight.dataflow.spec import LanguageSpec, SanitiserSpec
from vulnsight.dataflow.taint import CLEAN, SinkHit, Summary, Taint, Value, step_all, union
from vulnsight.types import PathStep

# fmt: off
_FUNCTIONS = frozenset({
    "function_definition", "function_declaration", "generator_function_declaration",
    "method_definition", "arrow_function", "function_expression", "function",
    "generator_function", "lambda",
})
_BLOCKS = frozenset({
    "block", "statement_block", "module", "program", "else_clause", "finally_clause",
    "compound_statement",
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
_COMPARISONS = frozenset({"==", "===", "!=", "!==", "<", ">", "<=", ">=", "instanceof", "in"})
_SELF = ("self", "cls", "this")
#: Methods that put their arguments into the receiver (`items.append(x)`).
_MUTATORS = frozenset({
    "append", "extend", "insert", "add", "update", "setdefault", "push", "unshift",
    "appendleft", "set", "write", "writelines",
})
# fmt: on

#: a branch's outcome: variables' taints, constants, whether it ended (return, break...)
_State = tuple[dict[str, Value], dict[str, Any], bool]
#: resolve(call node, callee leaf name) -> summaries of the scanned functions it may call
Resolver = Callable[[str], Sequence[tuple[str, Summary]]]


@dataclass
class Facts:
    """What analysing one function found."""

    returns: list[Value] = field(default_factory=list)
    param_sinks: list[SinkHit] = field(default_factory=list)
    source_sinks: list[SinkHit] = field(default_factory=list)


class FunctionAnalysis:
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
    ) -> None:
        self.spec = spec
        self.data = data
        self.file = file
        self.function = function
        self.resolve = resolve
        self.units = units  # start bytes of nested units analysed on their own
        # untrusted data stored in `self.x` by any method of the same class
        self.fields = fields if fields is not None else {}
        self.env: dict[str, Value] = {}
        self.consts: dict[str, Any] = {}
        self.dead = False
        self.facts = Facts()

    # --- helpers ---------------------------------------------------------------

    def text(self, node: Node) -> str:
        """The source text of a node."""
        return self.data[node.start_byte : node.end_byte].decode("utf-8", "replace")

    def step(self, node: Node, description: str) -> PathStep:
        """A path step at `node`'s line in this function."""
        return PathStep(self.file, node.start_point.row + 1, self.function, description)

    def dotted(self, node: Node | None) -> str:
        """`request.args.get` for an attribute chain; `?` for anything else."""
        if node is None:
            return "?"
        kind = node.type
        if kind in ("identifier", "this", "super", "property_identifier"):
            return self.text(node)
        if kind in ("attribute", "member_expression", "field_expression"):
            obj = node.child_by_field_name("object") or node.child_by_field_name("argument")
            prop = (
                node.child_by_field_name("attribute")
                or node.child_by_field_name("property")
                or node.child_by_field_name("field")
            )
            return f"{self.dotted(obj)}.{self.text(prop) if prop is not None else '?'}"
        if kind == "pointer_expression":  # `*p` and `&x` stand for p and x
            return self.dotted(node.child_by_field_name("argument"))
        if kind in ("call", "call_expression"):
            return self.dotted(node.child_by_field_name("function")) + "()"
        if kind in ("subscript", "subscript_expression"):
            return self.dotted(_subscript_base(node)) + "[]"
        if kind in ("parenthesized_expression", "await", "await_expression", "non_null_expression"):
            return self.dotted(node.named_children[0]) if node.named_child_count else "?"
        return "?"

    # --- statements --------------------------------------------------------------

    def run(self, node: Node) -> None:
        """Analyse a statement (or a block of them)."""
        if self.dead:
            return
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

    def branch(
        self, body: Node | None, narrowing: list[tuple[list[str], frozenset[str]]] | None
    ) -> _State:
        """Analyse `body` on a copy of the state; return its state and whether it ends."""
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
        return (dict(self.env), dict(self.consts), self.dead)

    def join(self, outcomes: list[_State]) -> None:
        """The state after branches: taints of every live branch, constants they agree on."""
        live = [(env, consts) for env, consts, dead in outcomes if not dead]
        if not live:
            self.dead = True
            return
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
        if condition is not None:
            self.expr(condition)
        consequence = node.child_by_field_name("consequence")
        alternatives = list(node.children_by_field_name("alternative"))
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
        for name in ("initializer", "increment", "update"):
            part = node.child_by_field_name(name)
            if part is not None:
                self.run(part)
        body = node.child_by_field_name("body")
        before = self.here()
        for _ in range(2):
            if left is not None and right is not None:
                self.bind(left, self.expr(right), left)
            state = self.branch(body, None)
            self.join([before, (state[0], state[1], False)])
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

    def run_switch(self, node: Node) -> None:
        value = node.child_by_field_name("value") or node.child_by_field_name("subject")
        if value is not None:
            self.expr(value)
        body = node.child_by_field_name("body")
        cases = body.named_children if body is not None else []
        outcomes = [self.here()]
        for case in cases:
            outcomes.append(self.branch(case, None))
        self.join(outcomes)

    # --- expressions -------------------------------------------------------------

    def expr(self, node: Node) -> Value:
        """The taints of an expression's value (analysing what it does on the way)."""
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
        handler = _EXPRESSIONS.get(kind)
        if handler is not None:
            return handler(self, node)
        return union(*(self.expr(c) for c in node.named_children))

    def expr_name(self, node: Node) -> Value:
        name = self.text(node)
        source = self.spec.source_for(name, call=False)  # `argv`, even as a parameter
        if source is None:
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
        sanitiser = self.spec.sanitiser_for(dotted)
        if sanitiser is not None and not sanitiser.validator:
            return self.sanitise(value, sanitiser)
        return value

    def expr_subscript(self, node: Node) -> Value:
        base = _subscript_base(node)
        index = node.child_by_field_name("subscript") or node.child_by_field_name("index")
        if index is not None:
            self.check_operand(node, "[]", "index", self.expr(index))
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
        if symbol in _COMPARISONS:
            return CLEAN
        if len(values) == 2:
            self.check_operand(node, symbol, "right", values[1])
        return union(*values)

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
        if node.type.startswith("augmented"):
            value = union(self.expr(left), value)
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
            self.env[name] = step_all(value, self.step(target, f"assigned to {name}"))
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
            return
        if kind in ("attribute", "member_expression", "field_expression"):
            name = self.dotted(target)
            self.env[name] = step_all(value, self.step(target, f"assigned to {name}"))
            if name.split(".", 1)[0] in _SELF:
                sourced = [t for t in self.env[name] if t.param is None]
                if sourced:
                    self.fields[name] = union(self.fields.get(name, CLEAN), sourced)
            return
        if kind in ("subscript", "subscript_expression"):
            base = _subscript_base(target)
            index = target.child_by_field_name("subscript") or target.child_by_field_name("index")
            if index is not None:
                self.check_operand(target, "[]", "index", self.expr(index))
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
            names.extend(_bound_names(p, self.data))
        return names

    # --- calls -------------------------------------------------------------------

    def expr_call(self, node: Node) -> Value:
        constructor = node.type == "new_expression"
        callee_node = node.child_by_field_name("constructor" if constructor else "function")
        args_node = node.child_by_field_name("arguments")
        callee = self.dotted(callee_node)
        positional: list[Value] = []
        keywords: dict[str, Value] = {}
        arg_nodes: list[Node] = []
        for arg in args_node.named_children if args_node is not None else []:
            if arg.type == "comment":
                continue
            if arg.type == "keyword_argument":
                name = arg.child_by_field_name("name")
                value = arg.child_by_field_name("value")
                if name is not None and value is not None:
                    keywords[self.text(name)] = self.expr(value)
                continue
            arg_nodes.append(arg)
            positional.append(self.expr(arg))
            if arg.type == "pointer_expression":  # f(&n) may change n
                self.consts.pop(self.dotted(arg), None)
        receiver: Value = CLEAN
        attribute_call = callee_node is not None and callee_node.type in (
            "attribute",
            "member_expression",
        )
        if attribute_call and callee_node is not None:
            obj = callee_node.child_by_field_name("object")
            if obj is not None and self.text(obj) not in _SELF:
                receiver = self.expr(obj)
        elif callee_node is not None and callee_node.type not in ("identifier",):
            receiver = self.expr(callee_node)
        leaf = callee.rsplit(".", 1)[-1].removesuffix("()")
        if attribute_call and leaf in _MUTATORS and callee_node is not None:
            obj = callee_node.child_by_field_name("object")
            added = union(*positional, *keywords.values())
            if (
                obj is not None
                and added
                and obj.type in ("identifier", "attribute", "member_expression")
            ):
                holder = self.dotted(obj)
                stored = step_all(added, self.step(node, f"added to {holder}"))
                self.env[holder] = union(self.env.get(holder, CLEAN), stored)
        source = self.spec.source_for(callee, call=True)
        if source is not None:
            taint = Taint(
                path=(self.step(node, f"source: {callee}() ({source.label})"),),
                source=source.label,
                confidence=source.confidence,
                only=source.cwes,
            )
            for k in source.out_args:
                if k < len(arg_nodes):
                    self.store_into(arg_nodes[k], (taint,), node, "read into")
            # what `recv`/`fgets` return is a count or the buffer's address, not the data
            return CLEAN if source.out_args else (taint,)
        propagator = self.spec.propagator_for(callee)
        if propagator is not None and propagator.into < len(arg_nodes):
            copied = union(*(v for i, v in enumerate(positional) if i != propagator.into))
            if copied:
                self.store_into(arg_nodes[propagator.into], copied, node, "copied into")
        args_text = self.text(args_node) if args_node is not None else ""
        sinks = self.spec.sinks_for(callee, constructor)
        for sink in sinks:
            if not sink.applies(args_text):
                continue
            checked = [v for i, v in enumerate(positional) if not sink.args or i in sink.args] + [
                v for k, v in keywords.items() if k in sink.keywords
            ]
            sink_step = self.step(node, f"sink: {callee}() ({sink.label}, {sink.cwe})")
            for argument in checked:
                for taint in argument:
                    if taint.reaches(sink.cwe):
                        self.record(SinkHit(taint, sink, sink_step))
        if sinks:
            return receiver if attribute_call else CLEAN  # a query's rows, a file's bytes
        sanitiser = self.spec.sanitiser_for(callee)
        everything = union(receiver, *positional, *keywords.values())
        if sanitiser is not None and not sanitiser.validator:
            return self.sanitise(everything, sanitiser)
        targets = self.resolve(leaf) if leaf.isidentifier() else ()
        if not targets:
            return everything
        result: list[Value] = [receiver]
        for target, summary in targets:
            result.append(
                self.apply_summary(node, target, summary, positional, keywords, attribute_call)
            )
        return union(*result)

    def apply_summary(
        self,
        node: Node,
        name: str,
        summary: Summary,
        positional: list[Value],
        keywords: dict[str, Value],
        attribute_call: bool,
    ) -> Value:
        """The call's result through a callee summary; sinks it reaches are recorded."""
        offset = 1 if summary.method and attribute_call else 0
        by_param: dict[int, Value] = {}
        for i, value in enumerate(positional):
            if i + offset < len(summary.params):
                by_param[i + offset] = value
        for key, value in keywords.items():
            if key in summary.params:
                by_param[summary.params.index(key)] = value
        result: list[Taint] = []
        for ret in summary.returns:
            if ret.param is None:
                result.append(ret.then(self.step(node, f"returned by {name}()")))
                continue
            for arg in by_param.get(ret.param, CLEAN):
                passed = self.step(node, f"passed to {name}() as {summary.params[ret.param]}")
                merged = arg.then(passed, *ret.path, self.step(node, f"returned by {name}()"))
                cleaned = merged.cleaned(ret.sanitised) if ret.sanitised else merged
                if cleaned is not None:
                    result.append(cleaned)
        for hit in summary.sinks:
            if hit.taint.param is None:
                continue
            for arg in by_param.get(hit.taint.param, CLEAN):
                if not (arg.reaches(hit.sink.cwe) and hit.taint.reaches(hit.sink.cwe)):
                    continue
                passed = self.step(node, f"passed to {name}() as {summary.params[hit.taint.param]}")
                merged = arg.then(passed, *hit.taint.path)
                self.record(SinkHit(merged, hit.sink, hit.step))
        return union(result)

    def store_into(self, target: Node, value: Value, call: Node, verb: str) -> None:
        """A call wrote `value` into the buffer `target` names (`fgets(buf, ...)`,
        `strcat(data + n, src)`, `fscanf(f, "%d", &n)`): weak update of that variable."""
        node: Node | None = target
        while node is not None and node.type in (
            "binary_expression",
            "pointer_expression",
            "cast_expression",
            "parenthesized_expression",
            "subscript_expression",
        ):
            if node.type == "binary_expression":
                node = node.child_by_field_name("left")
            elif node.type == "cast_expression":
                node = node.child_by_field_name("value")
            elif node.type == "subscript_expression":
                node = _subscript_base(node)
            elif node.type == "pointer_expression":
                node = node.child_by_field_name("argument")
            else:
                node = node.named_children[0] if node.named_child_count else None
        if node is None or node.type not in ("identifier", "field_expression"):
            return
        name = self.dotted(node)
        stored = step_all(value, self.step(call, f"{verb} {name}"))
        self.env[name] = union(self.env.get(name, CLEAN), stored)
        self.consts.pop(name, None)

    def record(self, hit: SinkHit) -> None:
        """A tainted value reached a sink: a finding (source) or a summary fact (param)."""
        if hit.taint.param is None:
            self.facts.source_sinks.append(hit)
        else:
            self.facts.param_sinks.append(hit)

    def sanitise(self, value: Value, sanitiser: SanitiserSpec) -> Value:
        """`value` after passing through `sanitiser`."""
        cleaned = (t.cleaned(sanitiser.cwes) for t in value)
        return tuple(t for t in cleaned if t is not None)

    def sanitise_names(self, names: list[str], cwes: frozenset[str]) -> None:
        """Mark variables as checked by a validator for `cwes`."""
        for name in names:
            if name in self.env:
                kept = (t.cleaned(cwes) for t in self.env[name])
                self.env[name] = tuple(t for t in kept if t is not None)

    def checks(self, node: Node | None, outcome: bool) -> list[tuple[list[str], frozenset[str]]]:
        """What holds when condition `node` evaluates to `outcome`: the names a validator
        (or an `in ALLOWED` test) has accepted, with the CWEs it checks for."""
        if node is None:
            return []
        kind = node.type
        if kind == "parenthesized_expression" and node.named_child_count == 1:
            return self.checks(node.named_children[0], outcome)
        if kind == "not_operator" or (kind == "unary_expression" and self.text(node)[:1] == "!"):
            return self.checks(node.child_by_field_name("argument"), not outcome)
        ops = [self.text(c) for c in node.children if not c.is_named]
        if kind in ("boolean_operator", "binary_expression") and ops in (["and"], ["&&"]):
            if not outcome:
                return []  # either side may have failed
            return [c for part in node.named_children for c in self.checks(part, True)]
        if kind in ("boolean_operator", "binary_expression") and ops in (["or"], ["||"]):
            if outcome:
                return []
            return [c for part in node.named_children for c in self.checks(part, False)]
        if kind == "comparison_operator" and node.named_child_count == 2:
            subject = node.named_children[0]
            accepted = ops in (["in"], ["not", "in"]) and outcome == (ops == ["in"])
            if accepted and subject.type in ("identifier", "attribute"):
                return [([self.dotted(subject)], frozenset({"*"}))]
            return []
        if self.spec.comparison_cwes and len(ops) == 1 and ops[0] in _COMPARISONS:
            return self.compared(node, ops[0], outcome)
        if kind in ("call", "call_expression") and outcome:
            fn = node.child_by_field_name("function")
            spec = self.spec.sanitiser_for(self.dotted(fn))
            if spec is None or not spec.validator:
                return []
            obj = fn.child_by_field_name("object") if fn is not None else None
            args = node.child_by_field_name("arguments")
            names: list[str] = []
            for part in [obj, *(args.named_children if args is not None else [])]:
                if part is not None and part.type in ("call", "call_expression"):
                    inner = part.child_by_field_name("arguments")  # normpath(x).startswith
                    names.extend(self.checked_names(inner.named_children if inner else []))
                elif part is not None:
                    names.extend(self.checked_names([part]))
            return [(names, spec.cwes)] if names else []
        return []

    def compared(
        self, node: Node, op: str, outcome: bool
    ) -> list[tuple[list[str], frozenset[str]]]:
        """What a comparison (`n < 10`, `d != 0`) checks: every compared variable for the
        comparison CWEs, and for the upper-bound ones only a variable bounded above."""
        left = node.child_by_field_name("left")
        right = node.child_by_field_name("right")
        found: list[tuple[list[str], frozenset[str]]] = []
        for side, operand in (("left", left), ("right", right)):
            if operand is None:
                continue
            inner = operand.child_by_field_name("arguments")  # fabs(d) > 0.0001, not read(...)
            if inner is not None and inner.named_child_count != 1:
                continue
            names = self.checked_names(inner.named_children if inner else [operand])
            if not names:
                continue
            below = {"left": ("<", "<="), "right": (">", ">=")}[side]
            above = {"left": (">", ">="), "right": ("<", "<=")}[side]
            upper = (
                (op in below and outcome)
                or (op in above and not outcome)
                or (op in ("==", "===") and outcome)
                or (op in ("!=", "!==") and not outcome)
            )
            nonzero = (op in ("!=", "!==", ">", "<") and outcome) or (
                op in ("==", "===", ">=", "<=") and not outcome
            )
            cwes = self.spec.comparison_cwes
            if not upper:
                cwes -= self.spec.upper_bound_cwes
            if not nonzero:
                cwes -= self.spec.nonzero_cwes
            found.append((names, cwes))
        return found

    def checked_names(self, parts: Sequence[Node]) -> list[str]:
        """The variables among a validator's operands (`x`, `self.x`, `url=x`)."""
        names = []
        for part in parts:
            operand = part
            if part.type == "keyword_argument":
                operand = part.child_by_field_name("value") or part
            if operand.type in ("identifier", "attribute", "member_expression", "field_expression"):
                names.append(self.dotted(operand))
        return names


def _subscript_base(node: Node) -> Node | None:
    """The indexed value: `value` (Python), `object` (JavaScript), `argument` (C)."""
    return (
        node.child_by_field_name("value")
        or node.child_by_field_name("object")
        or node.child_by_field_name("argument")
    )


def _bound_names(node: Node, data: bytes) -> list[str]:
    kind = node.type
    if kind in ("identifier", "shorthand_property_identifier_pattern"):
        return [data[node.start_byte : node.end_byte].decode("utf-8", "replace")]
    for field_name in ("name", "pattern", "left", "value", "declarator"):
        inner = node.child_by_field_name(field_name)
        if inner is not None and kind not in ("object_pattern", "array_pattern"):
            return _bound_names(inner, data)
    names: list[str] = []
    for child in node.named_children:
        if child.type in ("type_annotation", "type"):
            continue
        names.extend(_bound_names(child, data))
    return names


def parameter_names(node: Node, data: bytes) -> list[str]:
    """One name per parameter of a function node, in order (`*args` as `args`); a
    destructured parameter is named by its text."""
    single = node.child_by_field_name("parameter")
    params = node.child_by_field_name("parameters")
    declarator = node.child_by_field_name("declarator")
    while params is None and declarator is not None:  # C: int f(int a) is a declarator
        params = declarator.child_by_field_name("parameters")
        declarator = declarator.child_by_field_name("declarator")
    names: list[str] = []
    for p in [single] if single is not None else (params.named_children if params else []):
        if p.type in ("comment", "keyword_separator", "positional_separator"):
            continue
        bound = _bound_names(p, data)
        if len(bound) == 1:
            names.append(bound[0])
        elif bound:
            names.append(data[p.start_byte : p.end_byte].decode("utf-8", "replace"))
    return names


_STATEMENTS: dict[str, Callable[[FunctionAnalysis, Node], None]] = {
    "return_statement": FunctionAnalysis.run_return,
    "raise_statement": FunctionAnalysis.run_exit,
    "throw_statement": FunctionAnalysis.run_exit,
    "break_statement": FunctionAnalysis.run_exit,
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
    "match_statement": FunctionAnalysis.run_switch,
}
_EXPRESSIONS: dict[str, Callable[[FunctionAnalysis, Node], Value]] = {
    "identifier": FunctionAnalysis.expr_name,
    "shorthand_property_identifier": FunctionAnalysis.expr_name,
    "attribute": FunctionAnalysis.expr_attribute,
    "member_expression": FunctionAnalysis.expr_attribute,
    "field_expression": FunctionAnalysis.expr_attribute,
    "cast_expression": FunctionAnalysis.expr_cast,
    "subscript": FunctionAnalysis.expr_subscript,
    "subscript_expression": FunctionAnalysis.expr_subscript,
    "binary_expression": FunctionAnalysis.expr_binary,
    "conditional_expression": FunctionAnalysis.expr_conditional,
    "ternary_expression": FunctionAnalysis.expr_conditional,
    "call": FunctionAnalysis.expr_call,
    "call_expression": FunctionAnalysis.expr_call,
    "new_expression": FunctionAnalysis.expr_call,
    **{kind: FunctionAnalysis.expr_assignment for kind in _ASSIGNMENTS},
}
