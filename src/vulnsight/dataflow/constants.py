"""Conditions whose value is known at parse time (`if False:`, `if (1 === 2)`, `7 * 18 > 200`).

Only literals, names bound to literals in the same function, and arithmetic, comparison
and boolean operators over them are evaluated; anything else is `UNKNOWN`.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

from tree_sitter import Node

UNKNOWN: Any = object()

_BINARY: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "//": operator.floordiv,
    "%": operator.mod,
    "==": operator.eq,
    "===": operator.eq,
    "!=": operator.ne,
    "!==": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}
_LITERALS = {"true": True, "True": True, "false": False, "False": False}
_NULLS = {"none", "None", "null", "undefined"}


def constant(node: Node, data: bytes, names: Mapping[str, Any]) -> Any:
    """The value of `node` when it is a constant expression, else `UNKNOWN`."""
    try:
        return _value(node, data, names, 0)
    except (ArithmeticError, TypeError, ValueError, OverflowError):
        return UNKNOWN


def _text(node: Node, data: bytes) -> str:
    return data[node.start_byte : node.end_byte].decode("utf-8", "replace")


def _value(node: Node, data: bytes, names: Mapping[str, Any], depth: int) -> Any:
    if depth > 20:
        return UNKNOWN
    kind = node.type
    text = _text(node, data)
    if kind in ("integer", "number", "float", "number_literal"):
        number = text.replace("_", "").rstrip("uUlLfF") if kind == "number_literal" else text
        number = number.replace("_", "")
        try:
            return int(number, 0)
        except ValueError:
            return float(number)
    if kind in ("true", "false") or text in _LITERALS and kind not in ("identifier",):
        return _LITERALS.get(text, UNKNOWN)
    if kind in ("none", "null", "undefined") or (kind != "identifier" and text in _NULLS):
        return None
    if kind == "identifier":
        return names.get(text, UNKNOWN)
    if kind == "string" and not any(
        c.type in ("interpolation", "template_substitution") for c in node.children
    ):
        if text[:1] in "'\"" and len(text) >= 2:
            return text[1:-1]
        return UNKNOWN
    if kind in ("parenthesized_expression", "expression") and node.named_child_count == 1:
        return _value(node.named_children[0], data, names, depth + 1)  # `expression`: Solidity
    if kind == "not_operator":
        arg = node.child_by_field_name("argument")
        inner = _value(arg, data, names, depth + 1) if arg is not None else UNKNOWN
        return UNKNOWN if inner is UNKNOWN else not inner
    if kind == "unary_expression":
        arg = node.child_by_field_name("argument")
        sign = node.child_by_field_name("operator")
        inner = _value(arg, data, names, depth + 1) if arg is not None else UNKNOWN
        if inner is UNKNOWN or sign is None:
            return UNKNOWN
        symbol = _text(sign, data)
        if symbol == "!":
            return not inner
        return -inner if symbol == "-" else UNKNOWN
    operands = list(node.named_children)
    if kind in ("boolean_operator", "binary_expression", "binary_operator", "comparison_operator"):
        ops = [_text(c, data) for c in node.children if not c.is_named]
        if len(operands) != 2 or len(ops) != 1:
            return UNKNOWN
        left = _value(operands[0], data, names, depth + 1)
        right = _value(operands[1], data, names, depth + 1)
        if left is UNKNOWN or right is UNKNOWN:
            return UNKNOWN
        op = ops[0]
        if op in ("and", "&&"):
            return left and right
        if op in ("or", "||"):
            return left or right
        fn = _BINARY.get(op)
        if fn is None:
            return UNKNOWN
        if op in ("==", "!=") and kind == "binary_expression" and type(left) is not type(right):
            return UNKNOWN  # JavaScript's loose equality coerces
        return _bounded(op, fn, left, right)
    return UNKNOWN


#: The longest string and the widest integer (in bits) a constant may fold to: `'a' *
#: 3_000_000_000` took 3 GB, `'%0999999999d' % 1` a gigabyte, and 30 lines of
#: `a2 = a1 + a1` (or `a1 * a1`) double it each line.
MAX_STRING = 10_000
MAX_BITS = 4_096


def _bounded(op: str, fn: Callable[[Any, Any], Any], left: Any, right: Any) -> Any:
    """`fn(left, right)` when its result stays within the bounds, else `UNKNOWN`
    (checked before a string is repeated or formatted, after anything else)."""
    texts = (str, bytes)
    if isinstance(left, texts) or isinstance(right, texts):
        if op == "%":
            return UNKNOWN  # `'%09999999d' % 1`: formatting is not followed
        if op == "*":
            count = right if isinstance(left, texts) else left
            text = left if isinstance(left, texts) else right
            if not isinstance(count, int) or len(text) * max(count, 0) > MAX_STRING:
                return UNKNOWN
    result = fn(left, right)
    if isinstance(result, texts) and len(result) > MAX_STRING:
        return UNKNOWN
    if isinstance(result, int) and result.bit_length() > MAX_BITS:
        return UNKNOWN
    return result


def truth(node: Node | None, data: bytes, names: Mapping[str, Any]) -> bool | None:
    """True/False when the condition `node` is constant, else None."""
    if node is None:
        return None
    value = constant(node, data, names)
    return None if value is UNKNOWN else bool(value)
