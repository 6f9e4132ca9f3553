"""Results and the Markdown leaderboard, from predictions written by hand."""

from __future__ import annotations

import pytest

from vulnsight.bench.adapters.interface import Prediction
from vulnsight.bench.cost import Prices, compute_cost_per_1k, token_cost_per_1k
from vulnsight.bench.records import Record
from vulnsight.bench.report import detector_results, render_markdown
from vulnsight.bench.runner import ChunkUsage, RunOutcome


def rec(i, label, pair=None, lines=(), language="c"):
    return Record(
        id=f"r{i}",
        language=language,
        code="",
        label=label,
        source="s",
        project=f"p{i}",
        cwe="CWE-121",
        lines=lines,
        pair_id=pair,
    )


def test_results_and_leaderboard():
    records = [
        rec(1, 1, "a", (5,)),
        rec(2, 0, "a"),
        rec(3, 1, None, (9,)),
        rec(4, 0, language="python"),
    ]
    preds = {
        "r1": Prediction("r1", True, 0.9, lines=(6,), cwes=("CWE-787",), latency_ms=10.0),
        "r2": Prediction("r2", False, 0.2, latency_ms=20.0),
        "r3": Prediction("r3", True, 0.8, lines=(1,), cwes=("CWE-121",), latency_ms=30.0),
        "r4": Prediction("r4", True, 0.7, latency_ms=40.0),
    }
    outcome = RunOutcome(
        predictions={
            ("t", "none"): preds,
            ("t", "rename"): {
                "r1": Prediction("r1", False, 0.1),
                "r2": Prediction("r2", False, 0.1),
            },
        },
        usage=[ChunkUsage("t", "none", "k", 4, wall_s=2.0, cpu_s=3600.0, peak_rss_mb=50.0)],
        unavailable={},
    )
    prices = Prices(cpu_hour_usd=1.0)
    res = detector_results("t", "peer", "cpu", records, outcome, prices)
    o = res["overall"]
    assert (o["tp"], o["fp"], o["tn"], o["fn"]) == (2, 1, 1, 0)
    assert o["pair_correct"] == 1.0 and o["pairs"] == 1
    assert o["line_hit"] == 0.5 and o["line_n"] == 2  # 6 is near 5, 1 is far from 9
    assert o["cwe_exact"] == 0.5 and o["cwe_family"] == 1.0
    perf = res["performance"]
    assert perf["latency_ms_median"] == 20.0 and perf["throughput_per_s"] == 2.0
    # 900 CPU-s per review = 0.25 h at $1/h = $0.25 -> $250 per 1k.
    assert perf["cost_per_1k_usd"] == pytest.approx(250.0)
    rb = res["robustness"]["rename"]
    assert rb["n"] == 2 and rb["flips"] == 1 and rb["evasion_rate"] == 1.0
    assert set(res["by_language"]) == {"c", "python"}
    results = {
        "config": {
            "data": ["d.jsonl"],
            "sample": 4,
            "seed": 0,
            "include_reserved": False,
            "prices": {"cpu_hour_usd": 1.0, "gpu_hour_usd": 2.0},
        },
        "records": 4,
        "unavailable": {"slither": "no solc"},
        "detectors": [res],
    }
    md = render_markdown(results)
    assert "| t | peer | 4 | 0.67 | 1.00 | 0.80 [" in md
    assert "**slither** did not run: no solc" in md
    assert "| rename |" in md


def test_costs_by_hand():
    # 2 CPU-s per review at $36/h = $0.02 per review = $20 per 1k.
    assert compute_cost_per_1k(10, 20.0, 5.0, "cpu", Prices(cpu_hour_usd=36)) == pytest.approx(20)
    # GPU: wall seconds. 0.5 s per review at $3.6/h = $0.0005 -> $0.5 per 1k.
    assert compute_cost_per_1k(10, 0.0, 5.0, "gpu", Prices(gpu_hour_usd=3.6)) == pytest.approx(0.5)
    # 1000 in + 100 out tokens per review at $1/$2 per M = $0.0012 -> $1.2 per 1k.
    assert token_cost_per_1k(2, 2000, 200, (1.0, 2.0)) == pytest.approx(1.2)
    assert Prices().token_prices("gpt-4o-mini") == (0.15, 0.60)
    assert Prices().token_prices("unknown-model") is None
