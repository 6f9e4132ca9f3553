"""Inline suppression comments per language, and configured ignores."""

from __future__ import annotations

from vulnsight.review.suppress import IgnoreRule, apply_suppressions, inline_mark, parse_mark
from vulnsight.types import Finding, Report


def at(file: str, line: int, cwe: str = "CWE-89", rule: str | None = None) -> Finding:
    return Finding(file, line, cwe, "m", "rules", 0.7, rule_id=rule, fingerprint=f"{file}{line}")


def test_marks_in_each_comment_syntax():
    assert parse_mark("x()  # vulnsight: ignore[CWE-89] trusted input", "python").ids == ("CWE-89",)
    assert parse_mark("x(); // vulnsight: ignore[CWE-78, CWE-89] why", "javascript").ids == (
        "CWE-78",
        "CWE-89",
    )
    mark = parse_mark("x(); /* vulnsight: ignore[CWE-120] sized above */", "c")
    assert mark is not None and mark.reason == "sized above"
    assert parse_mark("x()  // vulnsight: ignore[CWE-89]", "python") is None  # not a comment
    assert parse_mark("x()  # vulnsight: ignore", "python").ids == ()  # type: ignore[union-attr]


def test_same_line_or_comment_line_above_only():
    lines = [
        "# vulnsight: ignore[CWE-89] fixture",
        "cur.execute(q)",
        "a = 1  # vulnsight: ignore[CWE-89] only this line",
        "cur.execute(q)",
    ]
    assert inline_mark(at("a.py", 2), lines) is not None
    assert inline_mark(at("a.py", 3), lines) is not None
    assert inline_mark(at("a.py", 4), lines) is None
    assert inline_mark(at("a.py", 2, cwe="CWE-78"), lines) is None


def test_rule_ids_match_whole_or_last_part():
    lines = ["eval(x)  # vulnsight: ignore[eval-injection]"]
    f = at("a.py", 1, "CWE-95", "vulnsight.python.eval-injection")
    assert inline_mark(f, lines) is not None


def test_apply_marks_suppressed_and_keeps_them():
    files = {
        "a.py": ["cur.execute(q)  # vulnsight: ignore[CWE-89] constant query"],
        "tests/t.py": ["cur.execute(q)"],
        "b.sol": ["x.call();"],
    }
    report = Report((at("a.py", 1), at("tests/t.py", 1), at("b.sol", 1, "CWE-252")))
    rules = [IgnoreRule(paths=("tests/**",), reason="test code")]
    out = apply_suppressions(report, lambda f: files[f], rules)
    assert [(f.file, f.suppressed, f.suppression_reason) for f in out.findings] == [
        ("a.py", True, "inline: constant query"),
        ("tests/t.py", True, "configuration: test code"),
        ("b.sol", False, None),
    ]
    assert out.stats["suppressed"] == 2


def test_ignore_rule_selectors_combine():
    rule = IgnoreRule(paths=("src/**",), cwes=("CWE-89",))
    assert rule.matches(at("src/x/a.py", 1))
    assert not rule.matches(at("src/a.py", 1, "CWE-78"))
    assert not rule.matches(at("lib/a.py", 1))
    assert IgnoreRule(paths=("**/*.py",)).matches(at("a.py", 1))
