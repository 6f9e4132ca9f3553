"""Integer overflow by addition and increment (`integer-overflow-add`, CWE-190): only an
integer variable of the function's own, from input, `rand()` or a type's largest value,
added to a literal or another such variable, with no upper bound checked first."""

from __future__ import annotations

from pathlib import Path

from .helpers import run_flow

RULE = "vulnsight.flow.c.integer-overflow-add"


def _hits(tmp_path: Path, code: str) -> list[tuple[int, str, str]]:
    (tmp_path / "a.c").write_text(code)
    return [(f.line_number, f.cwe, f.rule_id) for f in run_flow(tmp_path).findings]


def test_compound_addition_and_increment_of_input_are_flagged(tmp_path: Path) -> None:
    code = (
        "int counter(FILE *in) {\n"
        "    int n;\n"
        "    int total = 0;\n"
        '    fscanf(in, "%d", &n);\n'
        "    total += n;\n"
        "    n++;\n"
        "    n--;\n"
        "    return total;\n"
        "}\n"
    )
    assert _hits(tmp_path, code) == [(5, "CWE-190", RULE), (6, "CWE-190", RULE)]


def test_data_plus_one_keeps_its_taint_after_a_compound_assignment(tmp_path: Path) -> None:
    # `data += 1` used to replace data's taint with the literal's (none)
    code = (
        "void f(FILE *in, char *buf) {\n"
        "    int data;\n"
        '    fscanf(in, "%d", &data);\n'
        "    data += 1;\n"
        "    buf[data] = 0;\n"
        "}\n"
    )
    assert [(line, cwe) for line, cwe, _ in _hits(tmp_path, code)] == [
        (4, "CWE-190"),
        (5, "CWE-129"),
    ]


def test_parameters_pointers_and_bounded_values_stay_silent(tmp_path: Path) -> None:
    code = (
        "#include <limits.h>\n"
        "int next(int n) { return n + 1; }\n"
        'int caller(void) { int v; fscanf(stdin, "%d", &v); return next(v); }\n'
        "char *skip(FILE *in) {\n"
        "    static char buf[64];\n"
        "    fgets(buf, sizeof buf, in);\n"
        "    return buf + 1;\n"
        "}\n"
        "int dice(void) { int r = rand() % 6; int face = r + 1; return face * 10; }\n"
        'int low(FILE *in) { int v; fscanf(in, "%d", &v); v = v & 0xff; return v + 1; }\n'
        "double half(FILE *in) {\n"
        '    double d; fscanf(in, "%lf", &d); return d + 0.5;\n'
        "}\n"
        "int smallest(const int *xs, int len) {\n"
        "    int best = INT_MAX;\n"
        "    for (int i = 0; i < len; i++) { if (xs[i] < best) { best = xs[i]; } }\n"
        "    return best;\n"
        "}\n"
    )
    assert _hits(tmp_path, code) == []


def test_a_bound_checked_first_cleans_the_sum(tmp_path: Path) -> None:
    code = (
        "#include <limits.h>\n"
        "void f(void) {\n"
        "    unsigned int data = (unsigned int)rand();\n"
        "    if (data < UINT_MAX) {\n"
        "        data++;\n"
        "    }\n"
        "    unsigned int other = UINT_MAX;\n"
        "    other++;\n"
        "}\n"
    )
    assert _hits(tmp_path, code) == [(8, "CWE-190", RULE)]


def test_a_sum_of_a_parameter_gives_its_function_no_facts(tmp_path: Path) -> None:
    # the model's gate judges a function data flow touches: `n + 1` alone must not count
    (tmp_path / "a.c").write_text("int next(int n) {\n    return n + 1;\n}\n")
    result = run_flow(tmp_path)
    assert result.findings == ()
    assert all(f.empty for f in result.facts.values())
