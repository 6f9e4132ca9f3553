"""Showing untrusted text (file names, snippets, messages) on a terminal safely.

A scanned repository chooses its file names and its code, so both may hold newlines,
ANSI escape sequences or bidirectional-override characters that would forge or hide
lines of the text report. Names that are not UTF-8 arrive as surrogate escapes.
"""

from __future__ import annotations

import re

# C0 and C1 controls, DEL, bidirectional overrides/isolates, line/paragraph separators,
# zero-width and BOM characters, and lone surrogates (undecodable bytes of a file name).
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff\ud800-\udfff]"
)


def _escape(match: re.Match[str]) -> str:
    char = match.group(0)
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape)
        return f"\\x{code - 0xDC00:02x}"
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}"


def safe_text(text: str, keep_tabs: bool = False) -> str:
    """`text` with every control, bidi and undecodable character shown as an escape
    (`\\n`, `\\x1b`, `\\u202e`, `\\xff`), so it prints as one honest line."""
    if keep_tabs:
        return "\t".join(_UNSAFE.sub(_escape, part) for part in text.split("\t"))
    return _UNSAFE.sub(_escape, text)


def is_safe(text: str) -> bool:
    """Whether `safe_text` would leave `text` unchanged."""
    return _UNSAFE.search(text) is None
