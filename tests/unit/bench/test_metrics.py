"""Every metric against values computed by hand on tiny inputs."""

from __future__ import annotations

import math

import pytest

from vulnsight.bench import metrics as M


def test_confusion_and_ratios_by_hand():
    # labels 1 1 1 0 0 0 0 ; predicted 1 1 0 1 0 0 0 -> TP2 FN1 FP1 TN3
    c = M.confusion([1, 1, 1, 0, 0, 0, 0], [True, True, False, True, False, False, False])
    assert (c.tp, c.fn, c.fp, c.tn) == (2, 1, 1, 3)
    assert M.precision(c) == pytest.approx(2 / 3)
    assert M.recall(c) == pytest.approx(2 / 3)
    assert M.f1(c) == pytest.approx(2 / 3)  # 4 / (4 + 1 + 1)
    assert M.fpr(c) == pytest.approx(1 / 4)
    assert M.youden_j(c) == pytest.approx(2 / 3 - 1 / 4)
    # (2*3 - 1*1) / sqrt(3 * 3 * 4 * 4) = 5 / 12
    assert M.mcc(c) == pytest.approx(5 / 12)


def test_mcc_edge_cases():
    assert M.mcc(M.Confusion(tp=5, fp=5, tn=0, fn=0)) == 0.0  # flag everything
    assert M.mcc(M.Confusion(tp=0, fp=0, tn=5, fn=5)) == 0.0  # flag nothing
    assert M.mcc(M.Confusion(tp=3, fp=0, tn=4, fn=0)) == pytest.approx(1.0)
    assert M.mcc(M.Confusion(tp=0, fp=4, tn=0, fn=3)) == pytest.approx(-1.0)
    assert M.precision(M.Confusion(tn=3, fn=1)) == 0.0
    assert M.f1(M.Confusion()) == 0.0


def test_pairs_both_halves_must_be_right():
    items = [
        ("a", 1, True),
        ("a", 0, False),  # correct
        ("b", 1, True),
        ("b", 0, True),  # flags both halves
        ("c", 1, False),
        ("c", 0, False),  # misses the vulnerable half
        ("d", 1, True),  # incomplete: left out
        (None, 1, True),  # not a pair
    ]
    outcomes = M.pair_outcomes(items)
    assert [o.pair_id for o in outcomes] == ["a", "b", "c"]
    m = M.pair_metrics(outcomes)
    assert m["pairs"] == 3
    assert m["pair_correct"] == pytest.approx(1 / 3)
    assert m["pair_vuln_both"] == pytest.approx(1 / 3)


def test_line_hit_within_two_lines():
    assert M.line_hit([10], [12])
    assert M.line_hit([10], [8])
    assert not M.line_hit([10], [13])
    assert not M.line_hit([10], [])
    # Cases without labelled lines are not counted; a TP without lines is a miss.
    rate, n = M.line_hit_rate([([10], [11]), ([5], [9]), ([], [1]), ([3], [])])
    assert (rate, n) == (pytest.approx(1 / 3), 3)


def test_cwe_normalisation_and_families():
    assert M.normalise_cwe("cwe-089") == "CWE-89"
    assert M.normalise_cwe("CWE-79: XSS") == "CWE-79"
    assert M.normalise_cwe("120") == "CWE-120"
    assert M.normalise_cwe(None) is None
    assert M.cwe_family("CWE-121") == M.cwe_family("CWE-787") == "memory-bounds"
    assert M.cwe_family("CWE-89") == "sql-injection"
    assert M.cwe_family("CWE-4242") == "CWE-4242"
    acc = M.cwe_accuracy(
        [
            ("CWE-121", "CWE-121"),
            ("CWE-121", "CWE-120"),
            ("CWE-89", "CWE-78"),
            ("CWE-22", None),
            (None, "CWE-1"),
        ]
    )
    assert acc["cwe_n"] == 4
    assert acc["cwe_exact"] == pytest.approx(1 / 4)
    assert acc["cwe_family"] == pytest.approx(2 / 4)


def test_ece_and_reliability_bins_by_hand():
    labels = [0, 1, 1, 1]
    scores = [0.05, 0.15, 0.95, 1.0]
    bins = M.reliability_bins(labels, scores, bins=10)
    assert [b.count for b in bins] == [1, 1, 0, 0, 0, 0, 0, 0, 0, 2]  # 1.0 -> last bin
    assert bins[9].mean_score == pytest.approx(0.975)
    assert bins[9].positive_rate == 1.0
    # |0-0.05|*1/4 + |1-0.15|*1/4 + |1-0.975|*2/4
    expected = 0.05 / 4 + 0.85 / 4 + 0.025 / 2
    assert M.expected_calibration_error(labels, scores) == pytest.approx(expected)
    assert M.expected_calibration_error([], []) == 0.0
    # A perfectly calibrated constant: half positive at 0.5.
    assert M.expected_calibration_error([0, 1], [0.5, 0.5]) == pytest.approx(0.0)


def test_threshold_sweep_by_hand():
    sweep = M.threshold_sweep([1, 0, 1, 0], [0.9, 0.6, 0.4, 0.1], steps=2)
    assert [s["threshold"] for s in sweep] == [0.0, 0.5, 1.0]
    assert sweep[0]["recall"] == 1.0 and sweep[0]["fpr"] == 1.0
    assert sweep[1]["precision"] == 0.5 and sweep[1]["recall"] == 0.5  # 0.9, 0.6 flagged
    assert sweep[2]["recall"] == 0.0 and sweep[2]["f1"] == 0.0


def test_roc_auc_with_ties():
    # pairs (pos, neg): (0.9>0.6) (0.9>0.4) (0.4=0.4 half) (0.4<0.6) -> 2.5 / 4
    assert M.roc_auc([1, 1, 0, 0], [0.9, 0.4, 0.6, 0.4]) == pytest.approx(2.5 / 4)
    assert M.roc_auc([1, 1], [0.1, 0.2]) is None


def test_latency_percentiles_nearest_rank():
    values = [float(x) for x in range(1, 21)]  # 1..20
    stats = M.latency_stats(values, wall_s=2.0)
    assert stats["latency_ms_median"] == 10.0  # ceil(0.5*20) = 10th
    assert stats["latency_ms_p95"] == 19.0  # ceil(0.95*20) = 19th
    assert stats["throughput_per_s"] == 10.0
    assert M.percentile([], 50) == 0.0


def test_bootstrap_over_projects_is_seeded_and_bounded():
    groups = ["p1", "p1", "p2", "p3"]
    lo, hi = M.bootstrap_ci(groups, [1, 0, 1, 1], [True, False, False, True], rounds=200)
    assert 0.0 <= lo <= hi <= 1.0
    assert (lo, hi) == M.bootstrap_ci(groups, [1, 0, 1, 1], [True, False, False, True], rounds=200)
    assert not math.isnan(lo)
