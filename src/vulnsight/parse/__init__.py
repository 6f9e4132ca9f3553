"""Tree-sitter parsing: functions, comments and the call graph of scanned code.

Nothing is parsed or loaded at import time; grammars load on first use.
"""

from vulnsight.parse.extract import ParseResult, extract, parse_errors, parse_source

__all__ = ["ParseResult", "extract", "parse_errors", "parse_source"]
