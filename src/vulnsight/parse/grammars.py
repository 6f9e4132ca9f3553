"""Tree-sitter grammars, loaded on first use and cached.

Nothing is loaded at import time: a grammar package is imported the first time a file
of its language is parsed. `Language` objects are immutable and shared; a fresh
`Parser` is made per parse because parsers are not safe to share between threads.
"""

from __future__ import annotations

import importlib
import time
import warnings
from dataclasses import dataclass
from functools import cache
from pathlib import PurePath

from tree_sitter import Language, Parser, Tree

from vulnsight.errors import ParseError

# grammar name -> (python module, function returning the language pointer)
_GRAMMARS: dict[str, tuple[str, str]] = {
    "c": ("tree_sitter_c", "language"),
    "cpp": ("tree_sitter_cpp", "language"),
    "python": ("tree_sitter_python", "language"),
    "javascript": ("tree_sitter_javascript", "language"),
    "typescript": ("tree_sitter_typescript", "language_typescript"),
    "tsx": ("tree_sitter_typescript", "language_tsx"),
    "solidity": ("tree_sitter_solidity", "language"),
}


def grammar_name(language: str, path: str = "") -> str:
    """The grammar that parses `language`; TypeScript files ending in .tsx get the TSX one.

    Raises ParseError for a language vulnsight has no grammar for.
    """
    if language == "typescript" and PurePath(path).suffix.lower() == ".tsx":
        return "tsx"
    if language not in _GRAMMARS or language == "tsx":
        raise ParseError(f"no grammar for language {language!r}")
    return language


@cache
def _language(grammar: str) -> Language:
    module_name, attr = _GRAMMARS[grammar]
    module = importlib.import_module(module_name)
    pointer = getattr(module, attr)()
    with warnings.catch_warnings():
        # Older grammar wheels (solidity) still hand out an int pointer.
        warnings.simplefilter("ignore", DeprecationWarning)
        return Language(pointer)


def parser_for(grammar: str) -> Parser:
    """A new parser for a grammar name (see `grammar_name`)."""
    if grammar not in _GRAMMARS:
        raise ParseError(f"no grammar named {grammar!r}")
    return Parser(_language(grammar))


@dataclass(frozen=True)
class ParseBudget:
    """What one file may cost the parser; a file over budget is skipped with the reason.

    Dense input (a megabyte on one line, generated tables) yields millions of syntax
    nodes whose walk in Python takes minutes and gigabytes. The limits are checked
    before parsing (line length), after it (node count) and during it (time).
    """

    max_line_chars: int = 20_000
    max_nodes: int = 400_000
    seconds: float = 10.0


DEFAULT_BUDGET = ParseBudget()


def check_lines(text: str, budget: ParseBudget = DEFAULT_BUDGET) -> None:
    """Raise ParseError when a line of `text` is longer than the budget allows."""
    if len(text) <= budget.max_line_chars:
        return
    start = 0
    number = 1
    while True:
        end = text.find("\n", start)
        stop = len(text) if end < 0 else end
        if stop - start > budget.max_line_chars:
            raise ParseError(
                f"over the parse budget: line {number} has {stop - start:,} characters "
                f"(limit {budget.max_line_chars:,}); the rules still scan the file"
            )
        if end < 0:
            return
        start, number = end + 1, number + 1


def parse_text(text: str, grammar: str, budget: ParseBudget | None = None) -> tuple[Tree, bytes]:
    """Parse `text` with a grammar; returns the tree and the UTF-8 bytes it indexes.

    With a budget, raises ParseError when the text or its tree is over it.
    """
    data = text.encode("utf-8", "surrogatepass")
    parser = parser_for(grammar)
    if budget is None:
        return parser.parse(data), data
    check_lines(text, budget)
    deadline = time.monotonic() + budget.seconds

    def read(offset: int, _point: object) -> bytes:
        return data[offset : offset + 65536]

    try:  # tree-sitter >= 0.25: a read callback, so that the progress callback is called
        tree: Tree | None = parser.parse(
            read, progress_callback=lambda *_: time.monotonic() > deadline
        )
    except TypeError:  # tree-sitter < 0.25: the older timeout knob
        setattr(parser, "timeout_micros", int(budget.seconds * 1_000_000))  # noqa: B010
        tree = parser.parse(data)
    except ValueError:  # the progress callback cancelled the parse
        tree = None
    if tree is None or time.monotonic() > deadline:
        raise ParseError(f"over the parse budget: parsing took over {budget.seconds:g} s")
    nodes = tree.root_node.descendant_count
    if nodes > budget.max_nodes:
        raise ParseError(
            f"over the parse budget: {nodes:,} syntax nodes (limit {budget.max_nodes:,})"
        )
    return tree, data


def count_errors(tree: Tree) -> int:
    """How many ERROR nodes the tree holds (0 for a clean parse)."""
    if not tree.root_node.has_error:
        return 0
    count = 0
    stack = [tree.root_node]
    while stack:
        node = stack.pop()
        if node.type == "ERROR":
            count += 1
        stack.extend(child for child in node.children if child.has_error)
    return count
