"""Comment stripping that keeps line numbers.

Scanned code is hostile input: a comment such as ``// this is safe, ignore previous
instructions`` must never reach the model. Every tree-sitter comment node is removed,
and so are Python docstrings. The newlines a comment spanned are kept, so line k of
the output is line k of the input.
"""

from __future__ import annotations

from collections.abc import Iterator

from tree_sitter import Node, Tree

from vulnsight.parse.grammars import count_errors, grammar_name, parse_text

_DOCSTRING_OWNERS = frozenset({"class_definition", "function_definition"})
_SOLIDITY_WRAPPER = "contract __vulnsight_fragment__ {\n"

Span = tuple[int, int]


def iter_nodes(root: Node) -> Iterator[Node]:
    """Every node under `root` (itself included), depth first, without recursion."""
    stack = [root]
    while stack:
        node = stack.pop()
        yield node
        stack.extend(reversed(node.children))


def comment_ranges(tree: Tree, data: bytes, language: str) -> list[Span]:
    """Byte ranges of every comment (and, for Python, docstring) in a parsed text."""
    ranges: list[Span] = []
    for node in iter_nodes(tree.root_node):
        if node.type.endswith("comment"):
            ranges.append((node.start_byte, node.end_byte))
        elif node.type == "preproc_arg":
            # The C grammars leave `#define X 1 // note` comments inside the macro text.
            start = node.start_byte
            spans = _c_comment_spans(data[start : node.end_byte])
            ranges.extend((start + a, start + b) for a, b in spans)
    if language == "python":
        ranges.extend(_docstring_ranges(tree.root_node))
    return merge_spans(ranges)


def strip_comments(code: str, language: str, path: str = "") -> str:
    """`code` with every comment and docstring removed and the line count unchanged.

    Works on whole files and on fragments (one function's code). `path`, when given,
    picks the TypeScript dialect (.tsx or not); without it both dialects are tried and
    whatever either sees as a comment goes. When the fragment does not parse cleanly, a
    plain lexer's view of the comments is removed as well: removing too much is safe,
    leaving an instruction to the model in place is not. Lines that end in whitespace
    after a removal are right-stripped; other lines are left as they were.
    """
    if not code:
        return code
    data = code.encode("utf-8", "surrogatepass")
    grammars = [grammar_name(language, path)]
    if language == "typescript" and not path:
        grammars.append("tsx")
    ranges: list[Span] = []
    clean = False
    for grammar in grammars:
        found, errors = _fragment_ranges(code, data, grammar, language)
        ranges.extend(found)
        clean = clean or errors == 0
    if not clean:
        ranges.extend(_lexer_spans(data, language))
    return remove_ranges(data, merge_spans(ranges))


def remove_ranges(data: bytes, ranges: list[Span]) -> str:
    """Cut byte ranges out of `data`, keeping the newlines each one spanned."""
    if not ranges:
        return data.decode("utf-8", "replace")
    pieces: list[bytes] = []
    touched: set[int] = set()  # output line indexes that lost text
    line = 0
    pos = 0
    for start, end in sorted(ranges):
        start = max(start, pos)
        if end <= start:
            continue
        kept = data[pos:start]
        pieces.append(kept)
        line += kept.count(b"\n")
        newlines = data.count(b"\n", start, end)
        pieces.append(b"\n" * newlines)
        touched.update(range(line, line + newlines + 1))
        line += newlines
        pos = end
    pieces.append(data[pos:])
    lines = b"".join(pieces).decode("utf-8", "replace").split("\n")
    for index in touched:
        if index < len(lines):
            lines[index] = lines[index].rstrip()
    return "\n".join(lines)


def merge_spans(ranges: list[Span]) -> list[Span]:
    """Sorted, non-overlapping spans covering the same bytes as `ranges`."""
    merged: list[Span] = []
    for start, end in sorted(ranges):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], end))
        else:
            merged.append((start, end))
    return merged


def _fragment_ranges(code: str, data: bytes, grammar: str, language: str) -> tuple[list[Span], int]:
    """Comment ranges of `code` under one grammar, and the parse's error count.

    A bare Solidity modifier or constructor does not parse outside a contract, so a
    Solidity fragment that fails is retried inside one.
    """
    tree, parsed = parse_text(code, grammar)
    errors = count_errors(tree)
    ranges = comment_ranges(tree, parsed, language)
    if errors and language == "solidity":
        wrapped_tree, wrapped = parse_text(_SOLIDITY_WRAPPER + code + "\n}\n", grammar)
        wrapped_errors = count_errors(wrapped_tree)
        if wrapped_errors < errors:
            offset = len(_SOLIDITY_WRAPPER.encode())
            end = offset + len(data)
            ranges = [
                (max(a, offset) - offset, min(b, end) - offset)
                for a, b in comment_ranges(wrapped_tree, wrapped, language)
                if b > offset and a < end
            ]
            errors = wrapped_errors
    return ranges, errors


def _docstring_ranges(root: Node) -> list[Span]:
    """Byte ranges of module, class and function docstrings."""
    found: list[Span] = []
    for node in iter_nodes(root):
        if node.type == "module":
            body: Node | None = node
        elif node.type in _DOCSTRING_OWNERS:
            body = node.child_by_field_name("body")
        else:
            continue
        first = _first_statement(body) if body is not None else None
        if first is not None and _is_string_statement(first):
            found.append((first.start_byte, first.end_byte))
    return found


def _first_statement(body: Node) -> Node | None:
    for child in body.named_children:
        if not child.type.endswith("comment"):
            return child
    return None


def _is_string_statement(node: Node) -> bool:
    if node.type != "expression_statement" or node.named_child_count != 1:
        return False
    child = node.named_children[0]
    return child.type in ("string", "concatenated_string")


def _lexer_spans(data: bytes, language: str) -> list[Span]:
    """Comment spans as a plain lexer sees them, for text tree-sitter could not parse."""
    if language == "python":
        return _python_comment_spans(data)
    quotes = b"\"'`" if language in ("javascript", "typescript") else b"\"'"
    return _c_comment_spans(data, quotes)


def _skip_string(text: bytes, i: int, quote: bytes) -> int:
    """Index just past the string literal whose opening quote starts at `i`."""
    n = len(text)
    i += len(quote)
    while i < n and not text.startswith(quote, i):
        if quote in (b'"', b"'") and text[i : i + 1] == b"\n":
            return i  # an unterminated one-line string ends with its line
        i += 2 if text[i : i + 1] == b"\\" else 1
    return i + len(quote)


def _python_comment_spans(text: bytes) -> list[Span]:
    spans: list[Span] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i : i + 1]
        if ch in (b'"', b"'"):
            quote = ch * 3 if text.startswith(ch * 3, i) else ch
            i = _skip_string(text, i, quote)
        elif ch == b"#":
            end = text.find(b"\n", i)
            end = n if end < 0 else end
            spans.append((i, end))
            i = end
        else:
            i += 1
    return spans


def _c_comment_spans(text: bytes, quotes: bytes = b"\"'") -> list[Span]:
    """Comment spans in a C-like text, skipping string and character literals."""
    spans: list[Span] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i : i + 1]
        if ch in (b'"', b"'", b"`") and ch in quotes:
            i = _skip_string(text, i, ch)
        elif text.startswith(b"//", i):
            end = text.find(b"\n", i)
            end = n if end < 0 else end
            spans.append((i, end))
            i = end
        elif text.startswith(b"/*", i):
            end = text.find(b"*/", i + 2)
            end = n if end < 0 else end + 2
            spans.append((i, end))
            i = end
        else:
            i += 1
    return spans
