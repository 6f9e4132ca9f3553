"""JavaScript/TypeScript in the browser: `postMessage(data, '*')`, which hands the data
to whatever origin the target window holds (CWE-345), and HTML written from values that
are not constants (`innerHTML =`, `outerHTML =`, `insertAdjacentHTML`, `document.write`,
React's `dangerouslySetInnerHTML`; CWE-79). Constants and values passed through a
sanitiser or an escaping function stay silent."""

from __future__ import annotations

import re

from tree_sitter import Node

from vulnsight.dataflow.blind.base import Check, Hit, Reader
from vulnsight.dataflow.blind.js_common import arguments, callee, calls, is_constant, strip
from vulnsight.dataflow.syntax import walk

POST_MESSAGE = Check(
    "post-message-any-origin",
    "javascript",
    "CWE-345",
    "postMessage() to any origin ('*')",
    0.9,
)
HTML = Check(
    "html-from-non-constant",
    "javascript",
    "CWE-79",
    "HTML markup written from a value that is not a constant",
    0.9,
)
CLEARTEXT = Check(
    "cleartext-url",
    "javascript",
    "CWE-319",
    "a request to a fixed http:// or ws:// address on another host",
    0.75,
)
#: Calls that send a request to the URL they are given first (`xhr.open` second).
_REQUESTS = frozenset(
    {"fetch", "get", "post", "put", "patch", "delete", "request", "ajax", "getJSON", "axios", "got"}
)
_CLEARTEXT_URL = re.compile(r"^(http|ws)://([^/:?#'\"`$]+)", re.IGNORECASE)
#: Hosts that are this machine or reserved for documentation and tests.
_LOCAL_HOST = re.compile(
    r"^(localhost|127\.[\d.]+|0\.0\.0\.0|\[::1\]|(.+\.)?example\.(com|org|net)|.+\.(test|local|localhost|example|invalid))$",
    re.IGNORECASE,
)
_HTML_PROPERTIES = frozenset({"innerHTML", "outerHTML"})
_WRITES = frozenset({"document.write", "document.writeln", "window.document.write"})
#: A call whose name says it sanitises or escapes markup.
_SANITISER = re.compile(r"(?i)(saniti[sz]e|escape|purify|encode|textContent)")


def post_message_any_origin(reader: Reader, root: Node) -> list[Hit]:
    """`w.postMessage(data, '*')`: any origin may receive the data."""
    hits: list[Hit] = []
    for call in calls(root):
        if not callee(reader, call).endswith("postMessage"):
            continue
        args = arguments(call)
        if len(args) < 2 or reader.text(args[1]).strip("'\"`") != "*":
            continue
        steps = [(call, "postMessage() with target origin '*'")]
        message = f"postMessage() sends data to any origin ('*') ({POST_MESSAGE.cwe})"
        hits.append(reader.hit(POST_MESSAGE, steps, message))
    return hits


def cleartext_url(reader: Reader, root: Node) -> list[Hit]:
    """`fetch('http://host/...')`, `xhr.open('GET', 'http://...')`,
    `new WebSocket('ws://...')` to a host other than this machine."""
    hits: list[Hit] = []
    for call in calls(root):
        name = callee(reader, call)
        last = name.rsplit(".", 1)[-1]
        args = arguments(call)
        if call.type == "new_expression" and name in ("WebSocket", "EventSource"):
            url = args[0] if args else None
        elif call.type == "call_expression" and last == "open" and len(args) >= 2:
            url = args[1]
        elif call.type == "call_expression" and last in _REQUESTS and args:
            url = args[0]
        else:
            continue
        url = strip(url)
        if url is None or url.type not in ("string", "template_string"):
            continue
        text = reader.text(url)[1:]
        found = _CLEARTEXT_URL.match(text)
        if found is None or _LOCAL_HOST.match(found.group(2)):
            continue
        steps = [(call, f"{name}() sends a request to {text[:60].rstrip(chr(39) + chr(34) + '`')}")]
        message = f"{name}() talks to a fixed address without TLS ({CLEARTEXT.cwe})"
        hits.append(reader.hit(CLEARTEXT, steps, message))
    return hits


def html_from_non_constant(reader: Reader, root: Node) -> list[Hit]:
    """Markup from a non-constant, unescaped value: `el.innerHTML = x`,
    `el.insertAdjacentHTML(pos, x)`, `document.write(x)`, `dangerouslySetInnerHTML`."""
    hits: list[Hit] = []
    for node in walk(root):
        found = _html_write(reader, node)
        if found is None:
            continue
        value, what = found
        if is_constant(reader, value) or _sanitised(reader, value):
            continue
        shown = reader.text(value)[:60]
        steps = [(value, f"{shown} is not a constant"), (node, f"written as HTML by {what}")]
        message = f"{what} writes markup from {shown}, unescaped ({HTML.cwe})"
        hits.append(reader.hit(HTML, steps, message, at=0 if what == "JSX" else -1))
    return hits


def _html_write(reader: Reader, node: Node) -> tuple[Node, str] | None:
    """(value, sink) when `node` writes `value` as HTML."""
    kind = node.type
    if kind in ("assignment_expression", "augmented_assignment_expression"):
        left = strip(node.child_by_field_name("left"))
        if left is not None and left.type == "member_expression":
            prop = left.child_by_field_name("property")
            if prop is not None and reader.text(prop) in _HTML_PROPERTIES:
                value = node.child_by_field_name("right")
                return (value, reader.text(prop)) if value is not None else None
    elif kind in ("call_expression",):
        name = callee(reader, node)
        args = arguments(node)
        if name in _WRITES and args:
            return args[0], name + "()"
        if name.endswith(".insertAdjacentHTML") and len(args) >= 2:
            return args[1], "insertAdjacentHTML()"
    elif kind in ("pair", "jsx_attribute"):
        key = node.child_by_field_name("key") if kind == "pair" else node.named_children[0]
        if key is None or reader.text(key).strip("'\"") != "dangerouslySetInnerHTML":
            return None
        inner = _html_field(reader, node)
        return (inner, "dangerouslySetInnerHTML") if inner is not None else None
    return None


def _html_field(reader: Reader, attribute: Node) -> Node | None:
    """The `__html` value of `dangerouslySetInnerHTML={{__html: v}}`, or the whole
    expression when it is not an object literal (`={this.markup()}`)."""
    value = attribute.child_by_field_name("value")
    if value is None and attribute.named_child_count > 1:
        value = attribute.named_children[-1]
    value = strip(value)
    if value is not None and value.type == "jsx_expression" and value.named_child_count:
        value = strip(value.named_children[0])
    if value is None:
        return None
    if value.type == "object":
        for pair in value.named_children:
            key = pair.child_by_field_name("key")
            if (
                pair.type == "pair"
                and key is not None
                and reader.text(key).strip("'\"") == "__html"
            ):
                return pair.child_by_field_name("value")
            if pair.type == "shorthand_property_identifier" and reader.text(pair) == "__html":
                return pair
        return None
    return value


def _sanitised(reader: Reader, value: Node) -> bool:
    """Whether a sanitiser or escaping call produces (part of) the value."""
    return any(
        n.type == "call_expression" and _SANITISER.search(callee(reader, n)) for n in walk(value)
    )
