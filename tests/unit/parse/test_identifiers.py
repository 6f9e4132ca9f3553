"""Neutral local names for the model: parameters and locals become `v_<n>`; calls,
fields, types and function names stay; lines never move."""

from __future__ import annotations

from vulnsight.parse.grammars import count_errors, parse_text
from vulnsight.parse.identifiers import neutralise_identifiers

C = """int safe_copy(char *validated_input, struct req *r)
{
    char safe_sanitized_query[16];
    int len = r->len;
    strcpy(safe_sanitized_query, validated_input);
    return len;
}
"""
JS = """function handler(req, escapeHtmlOk) {
  const name = req.query.name;
  const obj = {name};
  res.send("<b>" + escapeHtmlOk(name) + "</b>" + obj);
}
"""


def test_c_locals_and_parameters_become_neutral_and_calls_fields_stay():
    out = neutralise_identifiers(C, "c")
    assert out.splitlines() == [
        "int safe_copy(char *v_0, struct req *v_1)",
        "{",
        "    char v_2[16];",
        "    int v_3 = v_1->len;",
        "    strcpy(v_2, v_0);",
        "    return v_3;",
        "}",
    ]
    assert count_errors(parse_text(out, "c")[0]) == 0


def test_called_and_shorthand_names_are_kept():
    out = neutralise_identifiers(JS, "javascript")
    # `escapeHtmlOk` is called: kept; `name` feeds a shorthand property: kept
    assert "escapeHtmlOk(name)" in out and "{name}" in out
    assert out.splitlines()[0] == "function handler(v_0, escapeHtmlOk) {"
    assert ".query.name" in out and out.count("\n") == JS.count("\n")


def test_broken_functions_and_dynamic_python_are_left_alone():
    broken = "int f(int a) { int b = a +; return b; }\n"
    assert neutralise_identifiers(broken, "c") == broken
    dynamic = "def f(a):\n    return eval('a')\n"
    assert neutralise_identifiers(dynamic, "python") == dynamic
    py = "class A:\n    def go(self, user_is_admin):\n        return self.go(user_is_admin)\n"
    assert neutralise_identifiers(py, "python").splitlines()[1:] == [
        "    def go(self, v_0):",
        "        return self.go(v_0)",
    ]
