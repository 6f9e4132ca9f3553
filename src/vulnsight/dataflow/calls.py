"""What a call does to taint: sources, sanitisers, sinks, copies into buffers, container
mutation, and the summaries of the scanned functions it may reach."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from tree_sitter import Node

from vulnsight.dataflow.checks import ConditionChecks
from vulnsight.dataflow.spec import SanitiserSpec, SinkSpec
from vulnsight.dataflow.syntax import code_text, subscript_base, unwrap
from vulnsight.dataflow.taint import CLEAN, SinkHit, Summary, Taint, Value, step_all, union

#: Receivers that name the object itself: a call on them is not a call on data.
SELF_NAMES = ("self", "cls", "this")
#: Methods that put their arguments into the receiver (`items.append(x)`).
_MUTATORS = frozenset(
    {
        "append", "extend", "insert", "add", "update", "setdefault", "push", "unshift",
        "appendleft", "set", "write", "writelines",
        "push_back", "emplace_back", "push_front", "emplace", "assign",  # C++ containers
    }
)  # fmt: skip
#: resolve(callee leaf name) -> summaries of the scanned functions a call may reach
Resolver = Callable[[str], Sequence[tuple[str, Summary]]]


@dataclass
class Facts:
    """What analysing one function found."""

    returns: list[Value] = field(default_factory=list)
    param_sinks: list[SinkHit] = field(default_factory=list)
    source_sinks: list[SinkHit] = field(default_factory=list)
    #: tainted arguments passed to scanned functions: (callee key, parameter, taint), the
    #: taint's path ending at the call (`dataflow/facts.py` follows them top-down)
    calls: list[tuple[str, int, Taint]] = field(default_factory=list)


def _counts(sink: SinkSpec, taint: Taint) -> bool:
    """A sink for stored data only takes a parameter (a caller may pass stored data)
    or a value read from storage a function anyone can call set."""
    return not sink.stored or taint.param is not None or taint.stored_at is not None


class CallAnalysis(ConditionChecks):
    """Calls within one function's analysis (the state lives in `FunctionAnalysis`)."""

    env: dict[str, Value]
    consts: dict[str, Any]
    resolve: Resolver
    facts: Facts

    def expr(self, node: Node) -> Value:
        """The taints of an expression (`FunctionAnalysis` walks them)."""
        raise NotImplementedError

    def expr_call(self, node: Node) -> Value:
        constructor = node.type == "new_expression"
        callee_node = node.child_by_field_name("constructor" if constructor else "function")
        args_node = node.child_by_field_name("arguments")
        # Solidity: the arguments are the call's `call_argument` children, the callee
        # wrapped in `expression` (and call options: `to.call{value: v}(...)`)
        solidity_args = [c for c in node.named_children if c.type == "call_argument"]
        if args_node is None and callee_node is not None and callee_node.type == "expression":
            outer = callee_node.named_children[0] if callee_node.named_child_count else None
            if outer is not None and outer.type == "struct_expression":
                for option in outer.named_children[1:]:
                    self.expr(option)
            callee_node = unwrap(callee_node)
        callee = self.dotted(callee_node)
        positional: list[Value] = []
        keywords: dict[str, Value] = {}
        arg_nodes: list[Node] = []
        listed = args_node.named_children if args_node is not None else solidity_args
        for arg in listed:
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
            if obj is not None and self.text(obj) not in SELF_NAMES:
                receiver = self.expr(obj)
        elif callee_node is not None and callee_node.type == "field_expression":
            # C++ `s.c_str()`, `v.data()`: what the object holds comes out of the call
            obj = callee_node.child_by_field_name("argument")
            receiver = self.expr(obj) if obj is not None else CLEAN
        elif callee_node is not None and callee_node.type not in ("identifier",):
            receiver = self.expr(callee_node)
        leaf = callee.rsplit(".", 1)[-1].removesuffix("()")
        cpp_method = callee_node is not None and callee_node.type == "field_expression"
        if (attribute_call or cpp_method) and leaf in _MUTATORS and callee_node is not None:
            obj = callee_node.child_by_field_name("object" if attribute_call else "argument")
            added = union(*positional, *keywords.values())
            if (
                obj is not None
                and added
                and obj.type in ("identifier", "attribute", "member_expression", "field_expression")
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
        if args_node is not None:
            args_text = code_text(self.data, args_node)  # a comment guards nothing
        else:
            args_text = ", ".join(self.text(a) for a in solidity_args)
        if callee in self.spec.assertions and arg_nodes:  # require(n < 10): n checked
            for names, cwes in self.checks(unwrap(arg_nodes[0]), True):
                self.sanitise_names(names, cwes)
        sinks = self.spec.sinks_for(callee, constructor)
        for sink in sinks:
            if not sink.applies(args_text):
                continue
            checked = [v for i, v in enumerate(positional) if not sink.args or i in sink.args] + [
                v for k, v in keywords.items() if k in sink.keywords
            ]
            if sink.receiver == "only":  # `target.delegatecall(data)`: the address
                checked = [receiver]
            elif sink.receiver == "also":  # `to.transfer(amount)`: both untrusted
                if not any(t.reaches(sink.cwe) for v in checked for t in v):
                    continue
                checked = [receiver]
            sink_step = self.step(node, f"sink: {callee}() ({sink.label}, {sink.cwe})")
            for argument in checked:
                for taint in argument:
                    if taint.reaches(sink.cwe) and _counts(sink, taint):
                        self.record(SinkHit(taint, sink, sink_step))
        if sinks:
            return receiver if attribute_call else CLEAN  # a query's rows, a file's bytes
        sanitiser = self.sanitiser_for(callee)
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
        if summary.key:
            for param, value in by_param.items():
                if value:
                    into = self.step(node, f"passed to {name}() as {summary.params[param]}")
                    self.facts.calls.extend((summary.key, param, t.then(into)) for t in value)
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
                if not _counts(hit.sink, arg):
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
                node = subscript_base(node)
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
