"""What a branch condition establishes: the variables a validator, an allow-list test or
(in C) a comparison has checked, and for which weaknesses."""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence

from tree_sitter import Node

from vulnsight.dataflow.spec import LanguageSpec, SanitiserSpec
from vulnsight.dataflow.syntax import COMPARISONS, NodeReader, unwrap


class ConditionChecks(NodeReader):
    """Reads conditions; `spec` says which calls are validators."""

    spec: LanguageSpec
    #: whether a called name resolves to a function of the scanned tree (then it is not
    #: the library sanitiser/validator the spec names, whatever it is called)
    shadowed: Callable[[str], bool]

    def sanitiser_for(self, callee: str) -> SanitiserSpec | None:
        """The spec's sanitiser/validator `callee` is, unless the scanned tree defines
        the name itself (a repository's own `def secure_filename(v): return v`)."""
        spec = self.spec.sanitiser_for(callee)
        if spec is None or self.shadowed(callee):
            return None
        return spec

    def checks(self, node: Node | None, outcome: bool) -> list[tuple[list[str], frozenset[str]]]:
        """What holds when condition `node` evaluates to `outcome`: the names a validator
        (or an `in ALLOWED` test) has accepted, with the CWEs it checks for."""
        node = unwrap(node)
        if node is None:
            return []
        kind = node.type
        if kind == "array_access" and node.named_child_count:
            # tree-sitter-solidity reads `n <= b[k]` as `(n <= b)[k]`: the comparison
            base = unwrap(node.named_children[0])
            if base is not None and base.type == "binary_expression":
                return self.checks(base, outcome)
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
        if self.spec.comparison_cwes and len(ops) == 1 and ops[0] in COMPARISONS:
            return self.compared(node, ops[0], outcome)
        if kind in ("call", "call_expression") and outcome:
            fn = node.child_by_field_name("function")
            spec = self.sanitiser_for(self.dotted(fn))
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
        for operand in (left, right):
            seen = " ".join(self.text(operand).split()) if operand is not None else ""
            if seen and any(re.fullmatch(p, seen) for p in self.spec.trivial_operands):
                return []
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
            operand = unwrap(part) or part
            if part.type == "keyword_argument":
                operand = part.child_by_field_name("value") or part
            while operand.type == "cast_expression":  # abs((long)n) <= LIMIT bounds n
                inner = operand.child_by_field_name("value")
                if inner is None:
                    break
                operand = inner
            if operand.type in ("identifier", "attribute", "member_expression", "field_expression"):
                names.append(self.dotted(operand))
        return names
