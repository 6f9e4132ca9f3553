"""The model gate's decisions: sink-bearing functions are judged, trivial ones skipped."""

from __future__ import annotations

import pytest

from vulnsight.detectors.gate import (
    CHANGED,
    CONSTRUCT,
    NO_RISK,
    NON_TRIVIAL,
    REACHES,
    RULE_HIT,
    SINK,
    TRIVIAL,
    Gate,
    default_spec,
    parse_spec,
    rule_pack_calls,
)
from vulnsight.parse import extract
from vulnsight.parse.callgraph import CallGraph
from vulnsight.types import Function, SourceFile

C_CODE = """\
#include <string.h>
#include <stdlib.h>

struct point { int x; int y; };

int get_x(const struct point *p) {
    return p->x;
}

int area(int w, int h) {
    return w * h;
}

void save(char *dst, const char *src) {
    strcpy(dst, src);
}

void run(const char *cmd) {
    system(cmd);
}

void wrapper(char *d, const char *s) {
    save(d, s);
}

int sum_to(int n) {
    int total = 0;
    int i;
    for (i = 0; i < n; i++) {
        total += i;
    }
    total = total * 2;
    return clamp(total);
}
"""

JS_CODE = """\
function calc(a, b) {
  return a + b;
}

class User {
  name() {
    return this._name;
  }
}

function run(input) {
  return eval(input);
}

function query(db, id) {
  return db.execute("SELECT * FROM t WHERE id = " + id);
}

function render(el, html) {
  el.innerHTML = html;
}
"""

PY_CODE = """\
import os

def area(w, h):
    return w * h

def run(cmd):
    os.system(cmd)

def fetch(cur, q):
    cur.execute(q)

def total(items):
    out = 0
    for item in items:
        out += item.price * item.count
    print(out)
    return out
"""


def functions(path: str, language: str, code: str) -> tuple[list[Function], Gate]:
    fns = extract(SourceFile(path, language, code))
    return fns, Gate(CallGraph.build(fns))


def by_name(fns: list[Function], name: str) -> Function:
    return next(f for f in fns if f.name.endswith(name))


@pytest.mark.parametrize(
    ("path", "language", "code", "name", "api"),
    [
        ("m.c", "c", C_CODE, "save", "strcpy"),
        ("m.c", "c", C_CODE, "run", "system"),
        ("m.js", "javascript", JS_CODE, "run", "eval"),
        ("m.js", "javascript", JS_CODE, "query", "execute"),
        ("m.py", "python", PY_CODE, "run", "system"),
        ("m.py", "python", PY_CODE, "fetch", "execute"),
    ],
)
def test_a_function_calling_a_sink_is_always_judged(path, language, code, name, api) -> None:
    fns, gate = functions(path, language, code)
    decision = gate.decide(by_name(fns, name))
    assert (decision.judge, decision.reason, decision.detail) == (True, SINK, api)


@pytest.mark.parametrize(
    ("path", "language", "code", "name"),
    [
        ("m.c", "c", C_CODE, "get_x"),
        ("m.c", "c", C_CODE, "area"),
        ("m.js", "javascript", JS_CODE, "calc"),
        ("m.js", "javascript", JS_CODE, "User.name"),
        ("m.py", "python", PY_CODE, "area"),
    ],
)
def test_accessors_and_pure_arithmetic_are_skipped_as_trivial(path, language, code, name) -> None:
    fns, gate = functions(path, language, code)
    decision = gate.decide(by_name(fns, name))
    assert (decision.judge, decision.reason) == (False, TRIVIAL)


def test_a_caller_of_a_risky_function_in_the_tree_is_judged() -> None:
    fns, gate = functions("m.c", "c", C_CODE)
    decision = gate.decide(by_name(fns, "wrapper"))
    assert (decision.judge, decision.reason, decision.detail) == (True, REACHES, "save -> strcpy")


def test_non_trivial_c_is_judged_but_non_risky_python_is_not() -> None:
    # In C an overflow or a NULL dereference needs no dangerous call, so every function
    # with a body worth reading is judged; Python's spec judges only risky code.
    fns, gate = functions("m.c", "c", C_CODE)
    assert gate.decide(by_name(fns, "sum_to")).reason == NON_TRIVIAL
    assert gate.decide(by_name(fns, "sum_to")).judge
    py, py_gate = functions("m.py", "python", PY_CODE)
    decision = py_gate.decide(by_name(py, "total"))
    assert (decision.judge, decision.reason) == (False, NO_RISK)


def test_rule_hits_and_changed_code_are_always_judged() -> None:
    fns, gate = functions("m.c", "c", C_CODE)
    area = by_name(fns, "area")
    assert gate.decide(area, rule_lines={area.start_line + 1}).reason == RULE_HIT
    assert gate.decide(area, rule_lines={area.end_line + 5}).reason == TRIVIAL
    assert gate.decide(area, changed=True).reason == CHANGED


def test_risky_constructs_without_calls_are_judged() -> None:
    fns, gate = functions("m.js", "javascript", JS_CODE)
    decision = gate.decide(by_name(fns, "render"))
    assert (decision.judge, decision.reason, decision.detail) == (True, CONSTRUCT, "innerHTML")


def test_the_rule_pack_feeds_the_sink_lists() -> None:
    pack = """
rules:
  - id: x
    languages: [javascript, typescript]
    pattern-either:
      - pattern: $DB.frobnicate($Q, ...)
      - pattern-not: harmless(...)
"""
    assert rule_pack_calls([pack]) == {"javascript": {"frobnicate"}, "typescript": {"frobnicate"}}
    spec = parse_spec('[javascript]\ncalls = ["eval"]\n', rule_pack_calls([pack]))
    lang = spec.for_language("javascript")
    assert lang is not None and lang.calls == {"eval", "frobnicate"}
    assert spec.for_language("typescript") is None  # no entry of its own: always judged
    shipped = default_spec()
    for language in ("c", "cpp", "javascript", "typescript", "python", "solidity"):
        assert shipped.for_language(language) is not None
    assert "strcpy" in shipped.languages["c"].calls
    assert "eval" in shipped.languages["typescript"].calls  # typescript extends javascript


def test_sinks_mode_skips_non_risky_c_and_off_mode_judges_all() -> None:
    fns = extract(SourceFile("m.c", "c", C_CODE))
    graph = CallGraph.build(fns)
    sinks = Gate(graph, mode="sinks")
    decision = sinks.decide(by_name(fns, "sum_to"))
    assert (decision.judge, decision.reason) == (False, NO_RISK)
    assert sinks.decide(by_name(fns, "save")).judge
    off = Gate(graph, mode="off")
    assert all(off.decide(fn).judge for fn in fns)
    with pytest.raises(ValueError, match="unknown gate mode"):
        Gate(graph, mode="fast")
