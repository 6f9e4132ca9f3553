"""String literals reduced to what a vulnerability verdict needs, line numbers kept.

Scanned code is hostile input, and a string literal is text its author chose: a string
holding ``</code>`` or ``{"vulnerability": false, "confidence": 0.99}`` must not reach
the model as written. Inside every string literal (and C macro text, JSX text) each
word is replaced by the placeholder ``x`` unless it is security vocabulary (SQL and
shell keywords, HTML tags and handlers, URL schemes, system paths, weak crypto names);
runs of placeholders on one line collapse into one. Kept as written: format
specifiers (``%s``, ``%n``, ``%-10.3lf``), escape sequences, digits, punctuation,
quotes and whitespace (so newlines inside multi-line strings, and with them every line
number, are unchanged), and code inside the string (f-string and template
interpolations). The delimiters are never touched, so the code stays valid.

The result is for the model's eyes only; findings still point at the original code.
"""

from __future__ import annotations

import re

from tree_sitter import Node

from vulnsight.parse.comments import iter_nodes
from vulnsight.parse.grammars import count_errors, grammar_name, parse_text

PLACEHOLDER = "x"

_VOCABULARY = """
    select insert update delete from where and or not values into set drop table union
    all order by group having like join exec execute create alter truncate grant limit
    declare cast char varchar waitfor sleep benchmark information_schema
    sh bash zsh cmd exe powershell rm ls cat echo curl wget chmod chown sudo eval system
    nc ping kill mv cp tar
    script img iframe svg object embed style body html href src onerror onload onclick
    onmouseover javascript vbscript alert document cookie innerhtml
    http https file ftp data ldap gopher localhost
    etc passwd shadow tmp root proc dev bin usr var windows system32 boot ini
    md5 sha1 sha256 sha512 des rc4 ecb cbc gcm aes rsa
    password passwd secret token key admin
"""
#: Words kept inside literals because a verdict can depend on them (lower case).
SECURITY_WORDS: frozenset[str] = frozenset(_VOCABULARY.split())

_TOKEN = re.compile(
    r"""
    (?P<esc>\\(?:x[0-9A-Fa-f]{1,8}|u\{?[0-9A-Fa-f]{1,6}\}?|U[0-9A-Fa-f]{8}|[0-7]{1,3}|.))
  | (?P<fmt>%(?:\d+\$)?[-+ #0']*(?:\*|\d+)?(?:\.(?:\*|\d+))?
        (?:hh|h|ll|l|j|z|t|L|q|I64|I32)?[diouxXeEfFgGaAcspn%@])
  | (?P<word>[^\W\d]\w*)
    """,
    re.VERBOSE | re.DOTALL,
)
_MARK = "\x00"
_RUN = re.compile(f"{_MARK}(?:[ \\t]+{_MARK})+")
#: Leaf nodes holding a literal's text, without its delimiters or interpolations.
_CONTENT = frozenset({"string_content", "string_fragment", "raw_string_content", "jsx_text"})
#: Whole literals whose grammar exposes no content node: their inside is rewritten.
_WHOLE = frozenset({"string", "string_literal", "unicode_string_literal"})
_NOT_DATA = frozenset({"preproc_include", "import_statement", "import_from_statement"})
#: Quoted spans as a plain lexer sees them; a C character literal (``'"'``) is
#: matched so that its quote does not open a string, and left alone.
_C_STRING = re.compile(rb"'(?:[^'\\\n]|\\.){1,8}'|" rb'"(?:[^"\\\n]|\\.)*"')
_LEXER_STRING = {
    "python": re.compile(rb'"(?:[^"\\\n]|\\.)*"|' rb"'(?:[^'\\\n]|\\.)*'"),
    "javascript": re.compile(
        rb'"(?:[^"\\\n]|\\.)*"|' rb"'(?:[^'\\\n]|\\.)*'|" rb"`(?:[^`\\]|\\.)*`"
    ),
}


def neutralise_text(content: str) -> str:
    """One literal's content with every word that is not security vocabulary replaced
    by the placeholder; format specifiers, escapes, digits, punctuation and whitespace
    kept."""

    def swap(match: re.Match[str]) -> str:
        word = match.group("word")
        if word is None or word.lower() in SECURITY_WORDS:
            return match.group(0)
        return _MARK

    marked = _TOKEN.sub(swap, content)
    return _RUN.sub(_MARK, marked).replace(_MARK, PLACEHOLDER)


def neutralise_literals(code: str, language: str, path: str = "") -> str:
    """`code` with the contents of its string literals neutralised (see the module
    docstring); same lines, same delimiters, same code outside literals.

    When the fragment does not parse cleanly, quoted spans a plain lexer finds are
    neutralised too: changing too much inside a string is safe, leaving a planted
    verdict in place is not.
    """
    if not code:
        return code
    data = code.encode("utf-8", "surrogatepass")
    tree, parsed = parse_text(code, grammar_name(language, path))
    spans = _literal_spans(tree.root_node, parsed)
    if count_errors(tree):
        broken = [
            (n.start_byte, n.end_byte)
            for n in iter_nodes(tree.root_node)
            if n.type == "ERROR" or n.is_missing
        ]
        spans.extend(
            span
            for span in _lexer_spans(data, language)
            if any(a <= span[0] and span[1] <= b for a, b in broken)
        )
    return _rewrite(data, spans)


def _literal_spans(root: Node, data: bytes) -> list[tuple[int, int]]:
    spans: list[tuple[int, int]] = []
    skip: list[tuple[int, int]] = []
    for node in iter_nodes(root):
        if node.type in _NOT_DATA:
            skip.append((node.start_byte, node.end_byte))
        elif node.type in _CONTENT:
            spans.append((node.start_byte, node.end_byte))
        elif node.type == "preproc_arg":  # macro text is not parsed: find its strings
            start = node.start_byte
            text = data[start : node.end_byte]
            spans.extend(
                (start + m.start() + 1, start + m.end() - 1)
                for m in _C_STRING.finditer(text)
                if m.group().startswith(b'"')
            )
        elif node.type in _WHOLE and not any(c.type in _CONTENT for c in node.children):
            inner = _inside_quotes(node)
            if inner is not None:
                spans.append(inner)
    return [s for s in spans if not any(a <= s[0] and s[1] <= b for a, b in skip)]


def _inside_quotes(node: Node) -> tuple[int, int] | None:
    """The bytes between a leaf-like literal's quotes (prefixes such as ``unicode``)."""
    text = node.text or b""
    for quote in (b'"', b"'"):
        first, last = text.find(quote), text.rfind(quote)
        if 0 <= first < last and text.endswith(quote):
            # Only a literal whose children are its own tokens: nothing to keep inside.
            if any(c.is_named and c.type != "escape_sequence" for c in node.children):
                return None
            return node.start_byte + first + 1, node.start_byte + last
    return None


def _lexer_spans(data: bytes, language: str) -> list[tuple[int, int]]:
    """Insides of quoted spans; C character literals are skipped, not rewritten."""
    key = "javascript" if language == "typescript" else language
    pattern = _LEXER_STRING.get(key, _C_STRING)
    skip_chars = pattern is _C_STRING
    return [
        (m.start() + 1, m.end() - 1)
        for m in pattern.finditer(data)
        if not (skip_chars and m.group().startswith(b"'"))
    ]


def _rewrite(data: bytes, spans: list[tuple[int, int]]) -> str:
    if not spans:
        return data.decode("utf-8", "replace")
    pieces: list[str] = []
    pos = 0
    for start, end in _merge(spans):
        if start < pos:
            start = pos
        pieces.append(data[pos:start].decode("utf-8", "replace"))
        pieces.append(neutralise_text(data[start:end].decode("utf-8", "replace")))
        pos = max(pos, end)
    pieces.append(data[pos:].decode("utf-8", "replace"))
    return "".join(pieces)


def _merge(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if end <= start:
            continue
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged
