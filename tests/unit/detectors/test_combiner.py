"""The learned combiner: a rule hit is never dropped; the clean flag cap holds."""

from __future__ import annotations

import math

import numpy as np

from vulnsight.detectors.combiner import (
    CombinerInput,
    added_clean_rate,
    capped_threshold,
    family_of,
    feature_row,
    fit_combiner,
    rescore,
)
from vulnsight.types import Finding


def rule_heavy_training() -> tuple[list[CombinerInput], list[int]]:
    """Rules fire mostly on clean code (so the combiner learns to distrust them) and the
    model's score follows the label."""
    rng = np.random.default_rng(0)
    inputs, labels = [], []
    for n in range(200):
        label = n % 2
        rule = (label == 0 and n % 4 == 0) or (label == 1 and n % 20 == 1)
        p = float(np.clip(0.75 * label + 0.12 + rng.normal(0, 0.1), 0.01, 0.99))
        inputs.append(
            CombinerInput(rule_cwes=("CWE-78",) if rule else (), rule_count=int(rule), model_p=p)
        )
        labels.append(label)
    return inputs, labels


def test_combiner_never_drops_a_rule_or_flow_hit() -> None:
    inputs, labels = rule_heavy_training()
    comb = fit_combiner("python", inputs, labels, clean_flag_cap=0.02)
    assert comb.model is not None
    hits = [
        CombinerInput(rule_cwes=("CWE-78",), rule_count=1, model_p=0.01),
        CombinerInput(rule_cwes=("CWE-89", "CWE-120"), rule_count=3, model_p=0.001),
        CombinerInput(flow_hit=True, model_p=0.0),
        CombinerInput(rule_count=1, model_p=None),
    ]
    for inp in hits:
        d = comb.decide(inp)
        assert d.flagged and d.reason == "rule or data-flow hit"
    # its confidence may be lowered (the model disagrees), which is all it may do
    assert comb.decide(hits[0]).confidence < 0.5
    unfitted = fit_combiner("solidity", inputs[:3], [0, 0, 0])
    assert unfitted.model is None and not unfitted.model_adds
    assert all(unfitted.decide(i).flagged for i in hits)
    assert not unfitted.decide(CombinerInput(model_p=0.99)).flagged


def test_rescore_keeps_every_finding_and_the_users_floor() -> None:
    findings = [
        Finding(
            file="a.py",
            line_number=3 + i,
            cwe="CWE-78",
            message="m",
            detector="rules",
            confidence=0.9,
            rule_id=f"r{i}",
        )
        for i in range(3)
    ]
    inputs, labels = rule_heavy_training()
    comb = fit_combiner("python", inputs, labels)
    d = comb.decide(CombinerInput(rule_count=3, model_p=0.01))
    out = rescore(findings, d, min_confidence=0.6)
    assert [f.rule_id for f in out] == ["r0", "r1", "r2"]
    assert all(f.confidence == 0.6 for f in out)
    assert [f.confidence for f in rescore(findings, d)] == [round(d.confidence, 4)] * 3


def test_threshold_respects_the_clean_flag_cap_on_training_data() -> None:
    rng = np.random.default_rng(7)
    for cap in (0.0, 0.02, 0.1, 0.3):
        labels = [int(v) for v in rng.integers(0, 2, 400)]
        scores = [float(np.clip(0.3 * y + rng.normal(0.4, 0.2), 0, 1)) for y in labels]
        hits = [bool(v) for v in rng.random(400) < 0.1]
        t = capped_threshold(scores, labels, hits, cap)
        assert added_clean_rate(scores, labels, hits, t) <= cap
    inputs, labels = rule_heavy_training()
    comb = fit_combiner("python", inputs, labels, clean_flag_cap=0.02)
    assert comb.model_adds
    p = [comb.probability(i) for i in inputs]
    assert added_clean_rate(p, labels, [i.hit for i in inputs], comb.threshold) <= 0.02


def test_model_adds_nothing_when_nothing_beats_the_hits_under_the_cap() -> None:
    labels = [0, 0, 0, 0, 1, 1]
    scores = [0.9, 0.8, 0.1, 0.1, 0.2, 0.3]  # the model ranks clean records highest
    hits = [False, False, False, False, True, False]
    assert capped_threshold(scores, labels, hits, 0.02) == math.inf
    # a separating score is used once the cap allows it
    assert capped_threshold([0.1, 0.1, 0.2, 0.9], [0, 0, 1, 1], [False] * 4, 0.0) == 0.2


def test_features_name_rule_families() -> None:
    assert family_of("CWE-89") == "injection"
    assert family_of("CWE-787") == "memory"
    assert family_of("CWE-338") == "crypto"
    assert family_of("CWE-400") == "other" and family_of(None) == "other"
    row = feature_row(CombinerInput(rule_cwes=("CWE-89", "CWE-400"), rule_count=2, model_p=0.5))
    assert row[:7] == [1.0, math.log1p(2), 1.0, 0.0, 0.0, 1.0, 0.0] and row[7] == 0.0
