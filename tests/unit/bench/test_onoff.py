"""The model's on/off decision from a held-out eval run: off where the shipped hybrid does
not beat rules+flow, never on without a threshold, too-small languages left alone."""

from __future__ import annotations

from typing import Any

from vulnsight.bench.onoff import MARGIN, apply, decide


def _row(tp: int, fn: int, fp: int, tn: int) -> dict[str, Any]:
    tpr = tp / (tp + fn)
    fpr = fp / (fp + tn)
    return {"tp": tp, "fn": fn, "fp": fp, "tn": tn, "youden_j": tpr - fpr}


def _results(hybrid: dict[str, Any], base: dict[str, Any]) -> dict[str, Any]:
    return {
        "detectors": [
            {"detector": "hybrid", "by_language": hybrid},
            {"detector": "rules+flow", "by_language": base},
        ]
    }


RESULTS = _results(
    hybrid={
        "c": _row(12, 8, 5, 15),  # J 0.35: adds 0.10 over rules+flow
        "cpp": _row(10, 10, 6, 14),  # J 0.20: loses 0.05
        "javascript": _row(10, 10, 2, 18),  # J 0.40 vs 0.40: no gain
        "python": _row(3, 2, 1, 4),  # too few records
    },
    base={
        "c": _row(10, 10, 5, 15),
        "cpp": _row(10, 10, 5, 15),
        "javascript": _row(10, 10, 2, 18),
        "python": _row(1, 4, 1, 4),
    },
)
MANIFEST = {
    "name": "m",
    "thresholds": {"c": 0.5, "cpp": 0.45, "javascript": 0.38, "typescript": 0.38, "python": None},
}


def test_decide_by_gain() -> None:
    got = {d.language: d for d in decide(RESULTS)}
    assert got["c"].on is True and got["c"].hybrid_j is not None
    assert round(got["c"].hybrid_j - (got["c"].base_j or 0), 2) == 0.10
    assert got["cpp"].on is False
    assert got["javascript"].on is False  # a tie is not a gain of MARGIN
    assert got["python"].on is None and "too few" in got["python"].reason
    assert got["typescript"].on is False and got["typescript"].reason.startswith(
        "follows javascript"
    )


def test_margin_is_the_boundary() -> None:
    # c's hybrid: J exactly MARGIN above the base (tpr 0.5 + MARGIN, same fpr)
    tp = round((0.5 + MARGIN) * 100)
    res = _results({"c": _row(tp, 100 - tp, 10, 90)}, {"c": _row(50, 50, 10, 90)})
    assert decide(res)[0].on is True
    res = _results({"c": _row(tp - 1, 101 - tp, 10, 90)}, {"c": _row(50, 50, 10, 90)})
    assert decide(res)[0].on is False


def test_apply_turns_off_and_never_on() -> None:
    updated = apply(MANIFEST, decide(RESULTS), "fix-pairs")
    assert updated["thresholds"] == {
        "c": 0.5,
        "cpp": None,
        "javascript": None,
        "typescript": None,
        "python": None,  # too few records, and off already
    }
    langs = updated["held_out_decision"]["languages"]
    assert langs["cpp"]["model"] == "off" and langs["cpp"]["was"] == "on"
    assert "turned off" in langs["cpp"]["reason"]
    assert updated["held_out_decision"]["source"] == "fix-pairs"
    assert MANIFEST["thresholds"]["cpp"] == 0.45  # the input is not changed


def test_apply_does_not_turn_a_language_on() -> None:
    manifest = {"thresholds": {"c": None}}
    updated = apply(manifest, decide(RESULTS), "fix-pairs")
    assert updated["thresholds"]["c"] is None
    assert "never turned on" in updated["held_out_decision"]["languages"]["c"]["reason"]
