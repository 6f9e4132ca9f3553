"""Findings as diagnostics and quick fixes: ranges in UTF-16 units, the suppression
comment in each language's syntax, and that review.suppress reads it back."""

import pytest

pytest.importorskip("lsprotocol")

from lsprotocol import types  # noqa: E402

from vulnsight.lsp.diagnostics import (  # noqa: E402
    explain_action,
    suppression_action,
    suppression_line,
    to_diagnostic,
)
from vulnsight.review.suppress import file_marks, inline_mark  # noqa: E402
from vulnsight.types import Finding, Severity  # noqa: E402


def _finding(file: str, line: int, rule: str | None = "vulnsight.c.strcpy", **kw) -> Finding:
    base = dict(
        file=file,
        line_number=line,
        cwe="CWE-120",
        message="strcpy into a fixed buffer",
        detector="rules",
        confidence=0.8,
        severity=Severity.HIGH,
        rule_id=rule,
        detectors=("rules", "llm"),
        function="copy",
    )
    base.update(kw)
    return Finding(**base)


def test_diagnostic_spans_the_line_text_in_utf16_units():
    lines = ["int f(char *s) {", "  /* é😀 */ strcpy(buf, s);  ", "}"]
    d = to_diagnostic(_finding("a.c", 2), lines)
    # 26 code points, 27 UTF-16 units: the emoji takes two.
    assert (d.range.start.line, d.range.start.character) == (1, 2)
    assert (d.range.end.line, d.range.end.character) == (1, 27)
    assert d.severity == types.DiagnosticSeverity.Error
    assert d.code == "vulnsight.c.strcpy" and d.source == "vulnsight"
    assert d.message == (
        "strcpy into a fixed buffer (CWE-120 Classic Buffer Overflow; confidence 0.80; rules+llm)"
    )
    assert d.data["detectors"] == ["rules", "llm"]


def test_model_finding_is_coded_by_its_cwe():
    f = _finding("a.py", 1, rule=None, cwe="CWE-95", detector="llm", detectors=("llm",))
    d = to_diagnostic(f, ["eval(x)"])
    assert d.code == "CWE-95"
    action = explain_action(d)
    assert action is not None and action.command is not None
    assert action.command.command == "vulnsight.explain"
    assert "CWE-95" in action.command.arguments[0]


@pytest.mark.parametrize(
    ("language", "file", "line", "expected"),
    [
        (
            "python",
            "a.py",
            "    eval(x)",
            "    # vulnsight: ignore[R] reviewed: explain here why this is safe\n",
        ),
        (
            "c",
            "a.c",
            "\tstrcpy(b, s);",
            "\t// vulnsight: ignore[R] reviewed: explain here why this is safe\n",
        ),
        (
            "solidity",
            "a.sol",
            "  x.call(d);",
            "  // vulnsight: ignore[R] reviewed: explain here why this is safe\n",
        ),
    ],
)
def test_suppression_comment_uses_the_language_syntax(language, file, line, expected):
    lines = ["first()", line]
    d = to_diagnostic(_finding(file, 2, rule="R"), lines)
    action = suppression_action("file:///x", d, lines, language)
    (edit,) = action.edit.changes["file:///x"]
    assert edit.new_text == expected
    assert (edit.range.start.line, edit.range.start.character) == (1, 0)
    assert edit.range.start == edit.range.end
    # The suppression module reads the inserted comment back as covering the finding.
    edited = ["first()", expected.rstrip("\n"), line]
    mark = inline_mark(_finding(file, 3, rule="R"), file_marks("\n".join(edited), file))
    assert mark is not None and mark.reason == "reviewed: explain here why this is safe"


def test_suppression_line_names_the_ids():
    assert suppression_line("javascript", "CWE-79", "") == (
        "// vulnsight: ignore[CWE-79] reviewed: explain here why this is safe\n"
    )
