"""vulnsight's eval adapter runs the scan's own detectors and merge: "hybrid" is the
shipped scan (rules, model and data flow), so eval measures what users run."""

from __future__ import annotations

from pathlib import Path

import pytest

from vulnsight.bench.adapters import ADAPTERS
from vulnsight.bench.adapters import vulnsight_detectors as vd
from vulnsight.bench.adapters.interface import AdapterOptions, Batch
from vulnsight.bench.records import Record, write_batch
from vulnsight.config import DETECTORS, ScanConfig
from vulnsight.detectors import build_detectors
from vulnsight.llm.fake import FakeBackend
from vulnsight.pipeline import scan

#: data flow finds this (input read, then +1 without a bound); no rule does
FLOW_ONLY = Record(
    id="flow-only",
    language="c",
    code=(
        "int next_reading(FILE *in) {\n"
        "    int reading = 0;\n"
        '    fscanf(in, "%d", &reading);\n'
        "    int result = reading + 1;\n"
        "    return result;\n"
        "}\n"
    ),
    label=1,
    source="t",
    project="p1",
    cwe="CWE-190",
    lines=(4,),
)
#: a rule hit (strcpy of a parameter into a fixed buffer)
RULE_HIT = Record(
    id="rule-hit",
    language="c",
    code=(
        "void copy_name(const char *name) {\n"
        "    char buf[16];\n"
        "    strcpy(buf, name);\n"
        '    printf("%s", buf);\n'
        "}\n"
    ),
    label=1,
    source="t",
    project="p2",
    cwe="CWE-120",
    lines=(3,),
)
CLEAN = Record(
    id="clean",
    language="c",
    code=(
        "int clamp(int value, int low, int high) {\n"
        "    if (value < low) {\n"
        "        return low;\n"
        "    }\n"
        "    if (value > high) {\n"
        "        return high;\n"
        "    }\n"
        "    return value;\n"
        "}\n"
    ),
    label=0,
    source="t",
    project="p3",
)
RECORDS = [FLOW_ONLY, RULE_HIT, CLEAN]


@pytest.fixture
def batch(tmp_path: Path) -> Batch:
    return Batch(root=tmp_path, paths=write_batch(RECORDS, tmp_path))


def _run(mode: str, batch: Batch, threshold: float | None = None) -> dict[str, bool]:
    options = AdapterOptions(threshold=threshold, model="fake")
    adapter = ADAPTERS.get(mode)(options)
    return {p.record_id: p.predicted for p in adapter.run(batch, RECORDS)}


def test_modes_are_the_scan_detectors() -> None:
    assert vd.MODES["hybrid"] == DETECTORS == ("rules", "llm", "flow")
    assert vd.MODES["rules+llm"] == ("rules", "llm")
    assert vd.VulnsightAdapter("hybrid").describe()["detectors"] == list(DETECTORS)
    with pytest.raises(ValueError, match="unknown vulnsight mode"):
        vd.VulnsightAdapter("everything")


def test_hybrid_with_a_silent_model_is_rules_plus_flow(batch: Batch) -> None:
    # the fake model's P(vulnerable) is 0.9 for every function: at 0.95 it flags nothing
    hybrid = _run("hybrid", batch, threshold=0.95)
    assert hybrid == _run("rules+flow", batch)
    assert hybrid == {"flow-only": True, "rule-hit": True, "clean": False}


def test_rules_llm_has_no_data_flow(batch: Batch) -> None:
    assert _run("rules+llm", batch, threshold=0.95) == {
        "flow-only": False,
        "rule-hit": True,
        "clean": False,
    }


def test_model_flags_reach_the_hybrid(batch: Batch) -> None:
    assert _run("hybrid", batch, threshold=0.5)["clean"] is True


def test_model_off_threshold_keeps_rules_and_flow(batch: Batch) -> None:
    # calibration's "off" is an infinite threshold, beyond a scan config's [0, 1]
    assert _run("hybrid", batch, threshold=float("inf")) == _run("rules+flow", batch)


def test_hybrid_predictions_are_the_scans_findings(batch: Batch) -> None:
    config = ScanConfig(llm_threshold=0.5, model="fake")
    report = scan([batch.root], config, build_detectors(config, FakeBackend()))
    flagged_files = {f.file for f in report.findings}
    predicted = _run("hybrid", batch, threshold=0.5)
    assert {r.id for r in RECORDS if batch.paths[r.id] in flagged_files} == {
        rid for rid, hit in predicted.items() if hit
    }


def test_counting_backend_passes_calibration_through() -> None:
    inner = FakeBackend()
    inner.language_thresholds = {"c": 0.7}  # type: ignore[attr-defined]
    counted = vd.CountingBackend(inner)
    assert counted.language_thresholds == {"c": 0.7}
    with pytest.raises(AttributeError):
        _ = counted.no_such_attribute
