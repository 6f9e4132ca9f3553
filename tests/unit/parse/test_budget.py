"""The parser's per-file budget: dense input is skipped with the reason, not walked for
minutes; everything else parses as before."""

from __future__ import annotations

import pytest

from vulnsight.errors import ParseError
from vulnsight.parse.extract import parse_source
from vulnsight.parse.grammars import ParseBudget, check_lines
from vulnsight.pipeline import parse_files
from vulnsight.types import ScanError, SourceFile

DENSE_LINE = "x = [" + "1," * 499_990 + "1]\n"  # 1 MB on one line
DENSE_LINES = ("x = [" + "1," * 490 + "1]\n") * 1000  # 1 MB of short, node-dense lines


def test_a_dense_one_megabyte_line_is_skipped_with_the_reason() -> None:
    src = SourceFile("gen.py", "python", "def ok():\n    return 1\n" + DENSE_LINE)
    functions, errors = parse_files([src])
    assert functions == []
    assert errors == [
        ScanError(
            "gen.py",
            "cannot parse: over the parse budget: line 3 has 999,987 characters "
            "(limit 20,000); the rules still scan the file",
            "parser",
        )
    ]


def test_too_many_syntax_nodes_are_skipped_with_the_reason() -> None:
    functions, errors = parse_files([SourceFile("table.py", "python", DENSE_LINES)])
    assert functions == []
    assert len(errors) == 1
    assert errors[0].reason.startswith("cannot parse: over the parse budget: ")
    assert errors[0].reason.endswith("syntax nodes (limit 400,000)")


def test_the_time_budget_stops_parsing_and_extraction() -> None:
    src = SourceFile("a.py", "python", "def f():\n    return 1\n" * 3000)
    with pytest.raises(ParseError, match="over the parse budget: parsing took over 0 s"):
        parse_source(src, ParseBudget(seconds=0.0))


def test_files_within_budget_parse_as_before() -> None:
    src = SourceFile("a.py", "python", "def f(x):\n    return g(x)\n\n\ndef g(y):\n    return y\n")
    parsed = parse_source(src, ParseBudget(max_line_chars=40, max_nodes=200, seconds=30))
    assert [(f.name, f.start_line, f.end_line) for f in parsed.functions] == [
        ("f", 1, 2),
        ("g", 5, 6),
    ]
    check_lines("short\nlines\n", ParseBudget(max_line_chars=5))
    with pytest.raises(ParseError, match="line 2 has 6 characters"):
        check_lines("short\nlonger\n", ParseBudget(max_line_chars=5))
