"""The model detector with its gate: skipped functions get no model call and are counted."""

from __future__ import annotations

from vulnsight.config import ScanConfig
from vulnsight.detectors.interface import DetectorResult, Progress, ScanBatch
from vulnsight.detectors.llm import LLMDetector, LLMOptions
from vulnsight.llm.fake import FakeBackend
from vulnsight.pipeline import scan
from vulnsight.types import Finding

C_FILE = """\
#include <string.h>

int get_len(const struct buf *b) {
    return b->len;
}

int twice(int n) {
    return n * 2;
}

void copy(char *dst, const char *src) {
    strcpy(dst, src);
}
"""

STAGE_KEYS = (
    "time_discovery_s",
    "time_parsing_s",
    "time_callgraph_s",
    "time_model_stage_s",
    "time_gate_s",
    "time_context_s",
    "time_model_s",
    "time_merge_s",
)


def flag_strcpy(prompt):
    hit = "strcpy" in prompt.body
    line = 12 if hit else 0
    return {"vulnerability": hit, "type": "CWE-120", "line_number": line, "confidence": 0.9}


def function_names(backend: FakeBackend) -> list[str]:
    """The first numbered line of each prompt's context: which function was asked."""
    names = []
    for prompt in backend.seen:
        first = next(line for line in prompt.body.splitlines() if "| " in line)
        names.append(first.split("| ", 1)[1])
    return names


def test_trivial_functions_get_no_model_call_and_are_counted_as_skipped(tmp_path):
    (tmp_path / "buf.c").write_text(C_FILE)
    backend = FakeBackend(responder=flag_strcpy)
    det = LLMDetector(backend, LLMOptions(threshold=0.5, gate="safe"))
    report = scan([tmp_path], ScanConfig(detectors=("llm",)), [det])

    assert function_names(backend) == ["void copy(char *dst, const char *src) {"]
    assert [(f.file, f.line_number, f.function) for f in report.findings] == [("buf.c", 12, "copy")]
    stats = report.stats
    assert stats["llm_functions"] == 3
    assert stats["model_functions_judged"] == 1
    assert stats["model_functions_skipped"] == 2
    assert stats["gate_skipped_trivial"] == 2
    assert stats["gate_judged_sink"] == 1
    assert isinstance(stats["model_tokens"], int) and stats["model_tokens"] > 0
    for key in STAGE_KEYS:
        assert isinstance(stats[key], float) and stats[key] >= 0.0, key


def test_without_the_gate_every_function_is_asked(tmp_path):
    (tmp_path / "buf.c").write_text(C_FILE)
    backend = FakeBackend(responder=flag_strcpy)
    det = LLMDetector(backend, LLMOptions(threshold=0.5, gate="off"))
    report = scan([tmp_path], ScanConfig(detectors=("llm",)), [det])
    assert len(backend.seen) == 3
    assert report.stats["model_functions_skipped"] == 0
    assert [(f.line_number, f.function) for f in report.findings] == [(12, "copy")]


class FakeRules:
    """A rules detector stand-in: one hit on a line of `twice`."""

    name = "rules"

    def units(self, batch: ScanBatch) -> int:
        return 1

    def detect_all(self, batch: ScanBatch, progress: Progress | None = None) -> DetectorResult:
        hit = Finding(
            file="buf.c",
            line_number=8,
            cwe="CWE-190",
            message="overflow",
            detector="rules",
            confidence=0.6,
            rule_id="test.overflow",
        )
        return DetectorResult(findings=(hit,), stats={"rules_run": 1})


def test_a_function_holding_a_rule_hit_is_judged_after_the_rules_finish(tmp_path):
    (tmp_path / "buf.c").write_text(C_FILE)
    backend = FakeBackend(responder=flag_strcpy)
    det = LLMDetector(backend, LLMOptions(threshold=0.5, gate="safe"))
    report = scan([tmp_path], ScanConfig(detectors=("rules", "llm")), [FakeRules(), det])

    assert function_names(backend) == [
        "void copy(char *dst, const char *src) {",
        "int twice(int n) {",
    ]
    assert report.stats["gate_judged_rule-hit"] == 1
    assert report.stats["model_functions_skipped"] == 1
    assert report.stats["time_semgrep_s"] >= 0.0
    rule = next(f for f in report.findings if f.rule_id == "test.overflow")
    assert "model does not flag this function" in rule.message


def test_diff_selected_functions_are_all_judged(tmp_path):
    (tmp_path / "buf.c").write_text(C_FILE)
    backend = FakeBackend(responder=flag_strcpy)
    det = LLMDetector(backend, LLMOptions(threshold=0.5, gate="safe"))
    report = scan(
        [tmp_path],
        ScanConfig(detectors=("llm",)),
        [det],
        only=lambda root, fn: fn.name in ("twice", "copy"),
    )
    assert sorted(function_names(backend)) == [
        "int twice(int n) {",
        "void copy(char *dst, const char *src) {",
    ]
    assert report.stats["gate_judged_changed"] == 2
    assert report.stats["model_functions_skipped"] == 0
