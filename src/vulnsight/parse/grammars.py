"""Tree-sitter grammars, loaded on first use and cached.

Nothing is loaded at import time: a grammar package is imported the first time a file
of its language is parsed. `Language` objects are immutable and shared; a fresh
`Parser` is made per parse because parsers are not safe to share between threads.
"""

from __future__ import annotations

import importlib
import warnings
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


def parse_text(text: str, grammar: str) -> tuple[Tree, bytes]:
    """Parse `text` with a grammar; returns the tree and the UTF-8 bytes it indexes."""
    data = text.encode("utf-8", "surrogatepass")
    return parser_for(grammar).parse(data), data


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
