"""File extension -> language, the one place that knows it."""

from __future__ import annotations

import os
from pathlib import PurePath

EXTENSIONS: dict[str, str] = {
    ".c": "c",
    ".h": "c",
    ".cc": "cpp",
    ".cpp": "cpp",
    ".cxx": "cpp",
    ".hh": "cpp",
    ".hpp": "cpp",
    ".hxx": "cpp",
    ".py": "python",
    ".pyw": "python",
    ".js": "javascript",
    ".mjs": "javascript",
    ".cjs": "javascript",
    ".jsx": "javascript",
    ".ts": "typescript",
    ".mts": "typescript",
    ".cts": "typescript",
    ".tsx": "typescript",
    ".sol": "solidity",
}

# The extension used when a snippet of a language is written to a file (eval, API).
CANONICAL_EXTENSION: dict[str, str] = {
    "c": ".c",
    "cpp": ".cpp",
    "python": ".py",
    "javascript": ".js",
    "typescript": ".ts",
    "solidity": ".sol",
}


def language_of(path: str | PurePath) -> str | None:
    """The language of a file by its extension, or None when vulnsight does not scan it."""
    return EXTENSIONS.get(os.path.splitext(os.fspath(path))[1].lower())
