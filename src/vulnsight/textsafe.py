"""Showing untrusted text (file names, snippets, messages) on a terminal safely.

A scanned repository chooses its file names and its code, so both may hold newlines,
ANSI escape sequences or bidirectional-override characters that would forge or hide
lines of the text report. Names that are not UTF-8 arrive as surrogate escapes.
"""

from __future__ import annotations

import unicodedata

#: Unicode categories never printed as they are: controls, format characters (bidi
#: overrides and isolates, zero-width characters, BOM), line and paragraph separators,
#: private use, and lone surrogates (undecodable bytes of a file name).
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp", "Co", "Cs"})


def _unsafe(char: str) -> bool:
    return unicodedata.category(char) in _UNSAFE_CATEGORIES


def _escape(char: str) -> str:
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    if code <= 0xFF:
        return f"\\x{code:02x}"
    if code <= 0xFFFF:
        return f"\\u{code:04x}"
    return f"\\U{code:08x}"


def _sub(text: str) -> str:
    return "".join(_escape(c) if _unsafe(c) else c for c in text)


def safe_text(text: str, keep_tabs: bool = False) -> str:
    """`text` with every control, format (bidi), separator, private-use and undecodable
    character shown as an escape (`\\x0a`, `\\x1b`, `\\u202e`, `\\xff`), so it prints as
    one honest line."""
    if keep_tabs:
        return "\t".join(_sub(part) for part in text.split("\t"))
    return _sub(text)


def is_safe(text: str) -> bool:
    """Whether `safe_text` would leave `text` unchanged."""
    return not any(_unsafe(c) for c in text)
