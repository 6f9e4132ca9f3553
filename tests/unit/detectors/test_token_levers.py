"""The token levers' decisions (issue 15): the `lean` gate, risky lines, windows over long
functions with exact line numbers, callers by policy, duplicates judged once."""

from __future__ import annotations

import re

import pytest

from vulnsight.config import ScanConfig
from vulnsight.context import build_context, callers_for, focus_windows
from vulnsight.dataflow.facts import FunctionFacts, TaintedParameter
from vulnsight.detectors.dedup import duplicate_key, find_duplicates
from vulnsight.detectors.gate import NO_RISK, SINK, TRIVIAL, WEAKNESS, Gate
from vulnsight.detectors.llm import LLMDetector, LLMOptions
from vulnsight.errors import ConfigError
from vulnsight.llm.fake import FakeBackend
from vulnsight.parse import extract
from vulnsight.parse.callgraph import CallGraph
from vulnsight.pipeline import scan
from vulnsight.types import Function, SourceFile

C_CODE = """\
#include <string.h>

int get_x(const struct point *p) {
    return p->x;
}

void save(char *dst, const char *src) {
    strcpy(dst, src);
}

int forward(struct ctx *c, int flags) {
    int status = lookup(c, flags);
    if (status != OK)
        return report(c, status);
    return finish(c);
}

int scale(int *values, int n, int k) {
    int i, total = 0;
    for (i = 0; i < n; i++)
        total += values[i] * k;
    return clamp(total);
}
"""

JS_CODE = """\
function label(opts) {
  const loose = opts.loose;
  const includePrerelease = opts.includePrerelease;
  const mode = loose ? 'loose' : 'strict';
  const all = includePrerelease ? 'all' : 'stable';
  return format(mode, all);
}

function setAt(obj, key, value) {
  const target = lookup(obj);
  const found = target[key];
  return found || value;
}

function run(code) {
  return eval(code);
}
"""


def functions(path: str, language: str, code: str) -> tuple[list[Function], CallGraph]:
    fns = extract(SourceFile(path, language, code))
    return fns, CallGraph.build(fns)


def by_name(fns: list[Function], name: str) -> Function:
    return next(f for f in fns if f.name == name)


def test_lean_gate_judges_sinks_and_weakness_constructs_and_skips_the_rest() -> None:
    fns, graph = functions("m.c", "c", C_CODE)
    lean, safe = Gate(graph, mode="lean"), Gate(graph, mode="safe")
    save = lean.decide(by_name(fns, "save"))
    assert (save.judge, save.reason, save.detail) == (True, SINK, "strcpy")
    scale = lean.decide(by_name(fns, "scale"))
    assert (scale.judge, scale.reason) == (True, WEAKNESS)  # a subscript: overflows need one
    trivial = lean.decide(by_name(fns, "get_x"))
    assert (trivial.judge, trivial.reason) == (False, TRIVIAL)
    # a wrapper with no subscript, dereference, arithmetic or division: no C weakness
    # class can occur in it, so `lean` skips it where `safe` judges every non-trivial C
    forward = by_name(fns, "forward")
    assert (lean.decide(forward).judge, lean.decide(forward).reason) == (False, NO_RISK)
    assert safe.decide(forward).judge


def test_lean_gate_in_javascript() -> None:
    fns, graph = functions("m.js", "javascript", JS_CODE)
    lean = Gate(graph, mode="lean")
    assert lean.decide(by_name(fns, "run")).reason == SINK
    computed = lean.decide(by_name(fns, "setAt"))
    assert (computed.judge, computed.reason) == (True, WEAKNESS)  # prototype pollution
    plain = lean.decide(by_name(fns, "label"))
    assert (plain.judge, plain.reason) == (False, NO_RISK)
    assert Gate(graph, mode="safe").decide(by_name(fns, "label")).judge


def test_lean_mode_reports_skips_in_the_scan_stats(tmp_path) -> None:
    (tmp_path / "m.c").write_text(C_CODE)
    backend = FakeBackend()
    det = LLMDetector(backend, LLMOptions(threshold=0.5, gate="lean"))
    report = scan([tmp_path], ScanConfig(detectors=("llm",)), [det])
    asked = sorted(p.body.split("| ", 1)[1].split("\n", 1)[0] for p in backend.seen)
    assert asked == [
        "int scale(int *values, int n, int k) {",
        "void save(char *dst, const char *src) {",
    ]
    assert report.stats["gate_skipped_trivial"] == 1
    assert report.stats["gate_skipped_no-risk"] == 1
    assert report.stats["model_functions_skipped"] == 2


def test_risky_lines_are_the_file_lines_of_risky_calls_and_constructs() -> None:
    code = (
        "void f(char *d, const char *s, int n) {\n"  # line 10
        "    int a = n + 1;\n"
        "    strcpy(d, s);\n"  # 12
        "    if (a > 3) {\n"
        "        d[a] = 0;\n"  # 14: a write through a computed index
        "    }\n"
        "}\n"
    )
    fns, graph = functions("m.c", "c", "\n" * 9 + code)
    gate = Gate(graph)
    assert gate.risky_lines(by_name(fns, "f")) == {12, 14}
    assert gate.risky_lines(by_name(fns, "f"), rule_lines={11, 40}) == {11, 12, 14}
    cpp = "int g(void *p) {\n    int x = 1;\n    return *reinterpret_cast<int *>(p) + x;\n}\n"
    cfns, cgraph = functions("m.cpp", "cpp", cpp)
    assert Gate(cgraph).risky_lines(by_name(cfns, "g")) == {3}


LONG_C = (
    "int long_one(char *dst, const char *src, int n) {\n"
    + "".join(f"    total_{i} = compute_{i}(n);\n" for i in range(40))
    + "    strcpy(dst, src);\n"
    + "".join(f"    other_{i} = compute_{i}(n);\n" for i in range(40))
    + "    return n;\n}\n"
)


def test_windows_keep_exact_file_line_numbers() -> None:
    fns, graph = functions("m.c", "c", "\n\n" + LONG_C)  # the function starts on line 3
    fn = by_name(fns, "long_one")
    strcpy_line = fn.start_line + 41
    assert fn.code.splitlines()[41].strip() == "strcpy(dst, src);"
    focus = Gate(graph).risky_lines(fn)
    assert focus == {strcpy_line}
    whole = build_context(fn, graph, max_callers=0)
    windowed = build_context(fn, graph, max_callers=0, focus=focus, window_over=50)
    assert not whole.windowed and windowed.windowed
    assert windowed.tokens < whole.tokens / 3
    numbered = {
        int(m.group(1)): m.group(2)
        for line in windowed.text.splitlines()
        if (m := re.match(r"(\d+)\| (.*)", line))
    }
    # every shown line carries its own file number, and the file says the same there
    file_lines = ("\n\n" + LONG_C).splitlines()
    for number, text in numbered.items():
        assert file_lines[number - 1].strip() == text.strip()
    assert numbered[strcpy_line].strip() == "strcpy(dst, src);"
    assert set(numbered) == {fn.start_line, *range(strcpy_line - 8, strcpy_line + 9)}
    assert windowed.text.splitlines()[1] == "// ..."
    assert windowed.line_map[1] == 0
    # under the threshold, or with nothing to focus on, the function is shown whole
    assert build_context(fn, graph, max_callers=0, focus=focus, window_over=10**6).text == (
        whole.text
    )
    assert build_context(fn, graph, max_callers=0, focus=(), window_over=50).text == whole.text
    assert focus_windows([3, 4, 5, 30], {5}, width=1) == [True, True, True, False]


def test_a_windowed_verdict_lands_on_the_exact_file_line(tmp_path) -> None:
    (tmp_path / "long.c").write_text("\n\n" + LONG_C)
    strcpy_line = 3 + 41

    def flag_the_strcpy_line(prompt):
        line = next(
            int(m.group(1))
            for m in re.finditer(r"(\d+)\| (.*)", prompt.body)
            if "strcpy" in m.group(2)
        )
        return {"vulnerability": True, "type": "CWE-120", "line_number": line, "confidence": 0.9}

    backend = FakeBackend(responder=flag_the_strcpy_line)
    det = LLMDetector(backend, LLMOptions(threshold=0.5, gate="safe", window_over=50))
    report = scan([tmp_path], ScanConfig(detectors=("llm",)), [det])
    assert "total_20" not in backend.seen[0].body  # far from the strcpy: not shown
    assert [(f.file, f.line_number, f.cwe) for f in report.findings] == [
        ("long.c", strcpy_line, "CWE-120")
    ]


def test_caller_policies() -> None:
    tainted = FunctionFacts(tainted=(TaintedParameter("s", "user input", ()),))
    assert callers_for("all", 3, None) == 3
    assert callers_for("none", 3, tainted) == 0
    assert callers_for("alone", 3, tainted) == 0
    assert callers_for("facts", 3, None) == 0
    assert callers_for("facts", 3, FunctionFacts()) == 0
    assert callers_for("facts", 3, tainted) == 3
    with pytest.raises(ValueError, match="unknown caller policy"):
        callers_for("some", 3, None)
    with pytest.raises(ConfigError, match="unknown callers"):
        ScanConfig(callers="some")


def test_callers_none_shows_no_caller(tmp_path) -> None:
    code = "void save(char *d, const char *s) {\n    strcpy(d, s);\n}\n\n" + (
        'void outer(char *d) {\n    save(d, getenv("X"));\n}\n'
    )
    (tmp_path / "m.c").write_text(code)
    for policy, callers, callees in (
        ("all", True, True),
        ("none", False, True),
        ("alone", False, False),
    ):
        backend = FakeBackend()
        det = LLMDetector(backend, LLMOptions(threshold=0.5, gate="off", callers=policy))
        scan([tmp_path], ScanConfig(detectors=("llm",)), [det])
        save_prompt = next(p.body for p in backend.seen if "1| void save" in p.body)
        outer_prompt = next(p.body for p in backend.seen if "| void outer" in p.body)
        assert ("// caller: outer" in save_prompt) is callers, policy
        assert ("// callees:\nvoid save(char *d, const char *s)" in outer_prompt) is callees


DUP = "int pick(int *a, int i) {\n    int x = a[i];\n    return x * 2;\n}\n"


def test_duplicates_are_judged_once_with_identical_findings(tmp_path) -> None:
    (tmp_path / "a.c").write_text(DUP)
    (tmp_path / "vendor").mkdir()
    # the same function lower in another file, reformatted and commented
    (tmp_path / "vendor" / "b.c").write_text(
        "\n\n\n/* copy */\nint pick(int *a,  int i) {\n    int x = a[i];   // read\n"
        "    return x * 2;\n}\n"
    )

    def flag_the_read(prompt):
        line = next(int(m.group(1)) for m in re.finditer(r"(\d+)\|\s+int x", prompt.body))
        return {"vulnerability": True, "type": "CWE-125", "line_number": line, "confidence": 0.8}

    results = {}
    for dedup in (True, False):
        backend = FakeBackend(responder=flag_the_read)
        det = LLMDetector(backend, LLMOptions(threshold=0.5, gate="off", dedup=dedup))
        report = scan([tmp_path], ScanConfig(detectors=("llm",)), [det])
        results[dedup] = (len(backend.seen), report)
    calls, report = results[True]
    assert calls == 1
    assert report.stats["model_duplicates_reused"] == 1
    assert report.stats["model_functions_judged"] == 1
    got = sorted((f.file, f.line_number, f.cwe, f.function, f.snippet) for f in report.findings)
    assert got == [
        ("a.c", 2, "CWE-125", "pick", "int x = a[i];"),
        ("vendor/b.c", 6, "CWE-125", "pick", "int x = a[i];   // read"),
    ]
    calls_without, without = results[False]
    assert calls_without == 2
    assert sorted(
        (f.file, f.line_number, f.cwe, f.confidence, f.fingerprint) for f in without.findings
    ) == sorted(
        (f.file, f.line_number, f.cwe, f.confidence, f.fingerprint) for f in report.findings
    )


def test_duplicate_keys_follow_code_and_facts() -> None:
    fns, _ = functions("a.c", "c", DUP + "\n" + DUP.replace("x * 2", "x * 3"))
    first, other = fns
    same = extract(SourceFile("b.c", "c", "\n" + DUP))[0]
    assert duplicate_key(first) == duplicate_key(same)
    assert duplicate_key(first) != duplicate_key(other)
    assert duplicate_key(first, "facts-digest") != duplicate_key(same)
    found = find_duplicates([first, other, same])
    assert [f.qualified_id for f in found.unique] == [first.qualified_id, other.qualified_id]
    assert found.judged_as == {same.qualified_id: first}
    assert found.count == 1
