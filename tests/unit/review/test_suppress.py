"""Inline suppression comments per language, and configured ignores."""

from __future__ import annotations

from vulnsight.review.suppress import (
    IgnoreRule,
    apply_suppressions,
    file_marks,
    inline_mark,
    parse_mark,
)
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
    marks = file_marks(
        "# vulnsight: ignore[CWE-89] fixture\n"
        "cur.execute(q)\n"
        "a = 1  # vulnsight: ignore[CWE-89] only this line\n"
        "cur.execute(q)\n",
        "a.py",
    )
    assert inline_mark(at("a.py", 2), marks) is not None
    assert inline_mark(at("a.py", 3), marks) is not None
    assert inline_mark(at("a.py", 4), marks) is None
    assert inline_mark(at("a.py", 2, cwe="CWE-78"), marks) is None


def test_rule_ids_match_whole_or_last_part():
    marks = file_marks("eval(x)  # vulnsight: ignore[eval-injection]\n", "a.py")
    f = at("a.py", 1, "CWE-95", "vulnsight.python.eval-injection")
    assert inline_mark(f, marks) is not None


def test_marks_in_strings_and_docstrings_suppress_nothing():
    py = file_marks(
        "def f(q):\n"
        '    """vulnsight: ignore"""\n'
        '    cur.execute(q + "# vulnsight: ignore[CWE-89]")\n'
        '    s = """\n'
        "# vulnsight: ignore\n"
        '"""; cur.execute(s)\n',
        "a.py",
    )
    assert py.marks == {}
    for line in (2, 3, 6):
        assert inline_mark(at("a.py", line), py) is None
    js = file_marks('run(x + "// vulnsight: ignore");\nrun(`/* vulnsight: ignore */`);\n', "w.js")
    c = file_marks('char *s = "/* vulnsight: ignore */"; strcpy(d, s);\n', "b.c")
    assert js.marks == {} and c.marks == {}


def test_block_comments_and_continuation_lines():
    c = file_marks(
        "/* vulnsight: ignore[CWE-120] length checked above */\n"
        "strcpy(dst, src);\n"
        "/*\n"
        " * vulnsight: ignore[CWE-120] sized\n"
        " */\n"
        "strcpy(dst, src);\n"
        "x(); /* vulnsight: ignore[CWE-120] */ y();\n"
        "strcpy(dst, src);\n",
        "b.c",
    )
    assert inline_mark(at("b.c", 2, "CWE-120"), c) is not None
    assert inline_mark(at("b.c", 6, "CWE-120"), c) is not None  # the comment ends above
    assert inline_mark(at("b.c", 4, "CWE-120"), c) is not None
    assert inline_mark(at("b.c", 8, "CWE-120"), c) is None  # line above holds code too


def test_apply_marks_suppressed_and_keeps_them():
    files = {
        "a.py": "cur.execute(q)  # vulnsight: ignore[CWE-89] constant query\n",
        "tests/t.py": "cur.execute(q)\n",
        "b.sol": "x.call();\n",
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
    assert (out.stats["suppressed_inline"], out.stats["suppressed_config"]) == (1, 1)
    assert [f.suppressed_by for f in out.findings] == ["inline", "config", None]


def test_ignore_rule_selectors_combine():
    rule = IgnoreRule(paths=("src/**",), cwes=("CWE-89",))
    assert rule.matches(at("src/x/a.py", 1))
    assert not rule.matches(at("src/a.py", 1, "CWE-78"))
    assert not rule.matches(at("lib/a.py", 1))
    assert IgnoreRule(paths=("**/*.py",)).matches(at("a.py", 1))
