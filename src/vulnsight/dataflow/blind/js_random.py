"""JavaScript/TypeScript: `Math.random()` made into an identifier or a secret (CWE-338).

`Math.random()` is predictable. Used for a position, a delay or a colour it does no harm;
the check fires only where its value becomes a string (concatenated into text, turned
into digits by `toString`, used to pick characters of an alphabet) or is stored under a
name that says it identifies or protects something (`id`, `token`, `nonce`, `salt`,
`key`, `secret`, `password`, `session`). `crypto.randomBytes`, `crypto.getRandomValues`
and `crypto.randomUUID` stay silent."""

from __future__ import annotations

import re

from tree_sitter import Node

from vulnsight.dataflow.blind.base import Check, Hit, Reader
from vulnsight.dataflow.blind.js_common import callee, calls, string_valued, strip

WEAK_RANDOM = Check(
    "weak-random-value",
    "javascript",
    "CWE-338",
    "Math.random() made into an identifier, token or secret",
    0.9,
)
#: Arithmetic and rounding keep the random value's role; these nodes pass it on.
_NUMERIC = frozenset(
    {"binary_expression", "parenthesized_expression", "unary_expression", "arguments"}
)
_ROUNDING = frozenset({"Math.floor", "Math.round", "Math.ceil", "Math.trunc", "Math.abs"})
_TO_TEXT = frozenset({"toString", "toFixed", "substr", "substring", "slice"})
_PICKS = frozenset({"charAt", "charCodeAt", "codePointAt"})
_SECRET_NAME = re.compile(
    r"(^|[_.$])(id|uid|uuid|guid|token|nonce|salt|key|secret|password|passwd|pass|pwd|"
    r"session|sid|csrf|otp|code|hash|ticket)s?$|"
    r"(Id|Uid|Uuid|Guid|Token|Nonce|Salt|Key|Secret|Password|Session|Csrf|Otp|Ticket)s?$",
)


def weak_random_value(reader: Reader, root: Node) -> list[Hit]:
    """`Math.random()` whose value becomes text or a value named as an id or secret."""
    hits: list[Hit] = []
    for call in calls(root):
        if call.type != "call_expression" or callee(reader, call) != "Math.random":
            continue
        use = _security_use(reader, call)
        if use is None:
            continue
        where, how = use
        steps = [(call, "Math.random() is predictable"), (where, how)]
        message = f"a predictable Math.random() value {how} ({WEAK_RANDOM.cwe})"
        hits.append(reader.hit(WEAK_RANDOM, steps, message, at=0))
    return hits


def _security_use(reader: Reader, call: Node) -> tuple[Node, str] | None:
    """Where and how the random value becomes text or an identifier, if it does."""
    node = call
    parent = node.parent
    while parent is not None:
        kind = parent.type
        if kind == "binary_expression":
            op = parent.child_by_field_name("operator")
            other = parent.child_by_field_name(
                "right" if parent.child_by_field_name("left") == node else "left"
            )
            if op is not None and reader.text(op) == "+" and string_valued(reader, other):
                return parent, "is concatenated into a string"
        elif kind == "template_substitution":
            return parent, "is written into a string"
        elif kind == "member_expression":
            prop = parent.child_by_field_name("property")
            name = reader.text(prop) if prop is not None else ""
            if name in _TO_TEXT:
                return parent, f"is turned into text by {name}()"
            return None
        elif kind == "call_expression" and node.type == "arguments":
            fn = strip(parent.child_by_field_name("function"))
            name = reader.dotted(fn) if fn is not None else ""
            if name.rsplit(".", 1)[-1] in _PICKS:
                return parent, f"picks characters by {name}()"
            if name not in _ROUNDING:
                return None
        elif kind == "subscript_expression":
            base = strip(parent.child_by_field_name("object"))
            if base is not None and re.search(
                r"(?i)(char|alphabet|letters|digits)", reader.text(base)
            ):
                return parent, f"picks characters of {reader.text(base)[:40]}"
            return None
        elif kind in ("variable_declarator", "assignment_expression", "pair"):
            target = (
                parent.child_by_field_name("name")
                or parent.child_by_field_name("left")
                or parent.child_by_field_name("key")
            )
            text = reader.text(target) if target is not None else ""
            if _SECRET_NAME.search(text):
                return parent, f"is stored as {text[:40]}"
            return None
        elif kind not in _NUMERIC:
            return None
        node, parent = parent, parent.parent
    return None
