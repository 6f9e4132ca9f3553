"""Call graph: name resolution, same-file preference and ambiguity cap."""

from __future__ import annotations

from vulnsight.parse.callgraph import CallGraph, short_name
from vulnsight.types import Function


def fn(
    name: str, file: str = "a.c", calls: tuple[str, ...] = (), language: str = "c", line: int = 1
) -> Function:
    return Function(file, language, name, line, line, "", f"void {name}()", calls)


def names(functions: list[Function]) -> list[str]:
    return [f"{f.file}:{f.name}" for f in functions]


def test_callers_and_callees() -> None:
    sink = fn("Ns::Db::query", line=1)
    handler = fn("handle", calls=("query", "printf"), line=5)
    main = fn("main", file="b.cpp", calls=("handle",), language="cpp", line=1)
    graph = CallGraph.build([sink, handler, main])
    assert names(graph.callees(handler)) == ["a.c:Ns::Db::query"]
    assert names(graph.callers(sink)) == ["a.c:handle"]
    assert names(graph.callers(handler)) == ["b.cpp:main"]  # c and cpp are one family
    assert graph.callees(sink) == []


def test_language_families_do_not_mix() -> None:
    target = fn("run", language="python", file="x.py")
    js_caller = fn("go", file="y.js", language="javascript", calls=("run",))
    ts_caller = fn("go2", file="z.ts", language="typescript", calls=("run",))
    js_target = fn("run", file="w.js", language="javascript", line=3)
    graph = CallGraph.build([target, js_caller, ts_caller, js_target])
    assert graph.callers(target) == []
    assert names(graph.callers(js_target)) == ["y.js:go", "z.ts:go2"]


def test_same_file_definition_preferred() -> None:
    local = fn("helper", file="a.c", line=1)
    remote = fn("helper", file="b.c", line=1)
    caller = fn("main", file="a.c", calls=("helper",), line=9)
    graph = CallGraph.build([local, remote, caller])
    assert names(graph.callees(caller)) == ["a.c:helper"]
    assert graph.callers(remote) == []


def test_ambiguous_name_resolves_same_file_only() -> None:
    defs = [fn("get", file=f"f{i}.c") for i in range(6)]
    caller = fn("main", file="m.c", calls=("get",))
    graph = CallGraph.build([*defs, caller])
    assert graph.callees(caller) == []
    few = CallGraph.build([*defs[:2], caller])
    assert names(few.callees(caller)) == ["f0.c:get", "f1.c:get"]


def test_recursion_is_not_its_own_caller() -> None:
    rec = fn("walk", calls=("walk",))
    graph = CallGraph.build([rec])
    assert graph.callers(rec) == [] and graph.callees(rec) == []


def test_short_names() -> None:
    assert short_name(fn("A::b::c")) == "c"
    assert short_name(fn("C.method", language="javascript")) == "method"
    assert short_name(fn("app.get('/x') handler", language="javascript")) is None
    assert short_name(Function("a", "c", "<toplevel>", 1, 1, "", "", kind="toplevel")) is None


def test_ten_thousand_functions() -> None:
    functions = [
        fn(f"f{i}", file=f"m{i % 50}.c", calls=(f"f{i - 1}", "common"), line=i)
        for i in range(10_000)
    ]
    graph = CallGraph.build(functions)
    assert names(graph.callers(functions[10])) == ["m11.c:f11"]
    assert sum(len(graph.callees(f)) for f in functions) == 9_999


def test_a_name_defined_too_often_in_one_file_resolves_to_none() -> None:
    """A hostile file of 5,000 `def f` that call `f`: each call landed on all of them
    (data-flow summaries quadratic). Up to 16 same-file definitions still resolve."""
    many = [fn("f", calls=("f",), line=i) for i in range(1, 18)]
    graph = CallGraph.build(many)
    assert all(graph.callees(f) == [] for f in many)
    assert graph.callers(many[0]) == []
    some = CallGraph.build(many[:16])
    assert len(some.callees(some.functions[0])) == 15
