from vulnsight.detectors.hybrid import (
    MAX_DEMOTION,
    FunctionIndex,
    MergeStats,
    merge,
    merge_with_stats,
)
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


def test_a_model_never_lowers_a_rule_hit_below_min_confidence_silently():
    scores = {FUNCS[3].qualified_id: 0.01}  # the model was talked out of it
    out, stats = merge_with_stats([rule_hit(27, 0.8)], [], scores, FUNCS, min_confidence=0.75)
    assert [(f.line_number, f.rule_id, f.confidence) for f in out] == [
        (27, "vulnsight.c.strcpy", 0.75)
    ]
    assert "model does not flag this function: p=0.01" in out[0].message
    assert "would lower confidence to 0.65, held at --min-confidence 0.75" in out[0].message
    assert stats == MergeStats(demoted=1, held_at_floor=1)
    assert stats.as_stats() == {"model_demoted": 1, "model_held_at_min_confidence": 1}


def test_without_a_floor_the_demotion_is_unchanged_and_not_counted_as_held():
    scores = {FUNCS[3].qualified_id: 0.01}
    out, stats = merge_with_stats([rule_hit(27, 0.8)], [], scores, FUNCS)
    assert out[0].confidence == 0.65
    assert "held at" not in out[0].message
    assert stats == MergeStats(demoted=1, held_at_floor=0)
    # a demotion that stays above the floor is not held either
    out, stats = merge_with_stats([rule_hit(27, 0.8)], [], scores, FUNCS, min_confidence=0.6)
    assert out[0].confidence == 0.65 and stats.held_at_floor == 0


def test_a_rule_hit_already_below_the_floor_is_not_lifted_by_the_floor():
    scores = {FUNCS[3].qualified_id: 0.01}
    out, stats = merge_with_stats([rule_hit(27, 0.5)], [], scores, FUNCS, min_confidence=0.7)
    assert out[0].confidence == 0.35 and stats.held_at_floor == 0


def test_an_agreeing_model_is_not_counted_as_demoting():
    scores = {FUNCS[3].qualified_id: 0.9}
    out, stats = merge_with_stats([rule_hit(27, 0.8)], [], scores, FUNCS, min_confidence=0.8)
    assert out[0].confidence == 1.0 and stats == MergeStats()
