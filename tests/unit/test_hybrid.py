from vulnsight.detectors.hybrid import MAX_DEMOTION, FunctionIndex, merge
from vulnsight.types import Finding, Function


def fn(name, start, end, kind="function"):
    return Function(
        file="a.c",
        language="c",
        name=name,
        start_line=start,
        end_line=end,
        code="\n" * (end - start),
        signature=name,
        kind=kind,
    )


FUNCS = [
    fn("<toplevel>", 1, 40, "toplevel"),
    fn("outer", 5, 20),
    fn("inner", 8, 12),
    fn("g", 25, 30),
]


def rule_hit(line, conf=0.8):
    return Finding(
        file="a.c",
        line_number=line,
        cwe="CWE-120",
        message="strcpy",
        detector="rules",
        confidence=conf,
        rule_id="vulnsight.c.strcpy",
        detectors=("rules",),
    )


def model_hit(line, function, conf=0.9):
    return Finding(
        file="a.c",
        line_number=line,
        cwe="CWE-787",
        message="model",
        detector="llm",
        confidence=conf,
        function=function,
        model="m",
        detectors=("llm",),
    )


def test_enclosing_prefers_innermost_then_toplevel():
    idx = FunctionIndex(FUNCS)
    assert idx.enclosing("a.c", 10).name == "inner"
    assert idx.enclosing("a.c", 15).name == "outer"
    assert idx.enclosing("a.c", 22).name == "<toplevel>"
    assert idx.enclosing("b.c", 1) is None


def test_agreement_merges_into_one_finding_and_raises_confidence():
    scores = {FUNCS[3].qualified_id: 0.95}
    out = merge([rule_hit(27)], [model_hit(28, "g")], scores, FUNCS)
    assert len(out) == 1
    assert out[0].detectors == ("rules", "llm")
    assert out[0].function == "g"
    assert out[0].confidence > 0.8


def test_model_disagreement_never_removes_a_rule_hit():
    scores = {FUNCS[3].qualified_id: 0.0}
    out = merge([rule_hit(27, 0.8)], [], scores, FUNCS)
    assert len(out) == 1
    assert out[0].detectors == ("rules",)
    assert out[0].confidence >= 0.8 - MAX_DEMOTION - 1e-9
    assert "does not flag" in out[0].message


def test_model_only_findings_are_added():
    out = merge([rule_hit(27)], [model_hit(10, "inner")], {}, FUNCS)
    assert sorted((f.line_number, f.detectors) for f in out) == [(10, ("llm",)), (27, ("rules",))]
