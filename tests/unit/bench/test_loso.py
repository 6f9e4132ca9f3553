"""Leave-one-source-out: folds, the fitted rows, the model decision, the feature cache."""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from vulnsight.bench.loso import (
    DETECTORS,
    HeadFitter,
    LosoSettings,
    evaluate,
    make_folds,
    model_decision,
    render_markdown,
)
from vulnsight.bench.loso_features import (
    FeatureCache,
    RecordInputs,
    cache_settings,
    extract_logits,
    interleaved,
)
from vulnsight.bench.records import Record
from vulnsight.llm.prompt import Prompt


def rec(
    i: str, source: str, project: str, label: int, lang: str = "python", pair: str | None = None
) -> Record:
    return Record(
        i, lang, f"def f{i}():\n    return {label}\n", label, source, project, pair_id=pair
    )


def corpus() -> list[Record]:
    out = []
    for s in ("alpha", "beta", "gamma"):
        for p in range(4):
            for k in range(4):
                out.append(rec(f"{s}-{p}-{k}", s, f"{s}/p{p}", k % 2, pair=f"{s}-{p}-{k // 2}"))
    # a project that occurs in two sources, and the development-only source
    out.append(rec("beta-shared", "beta", "shared/proj", 1))
    out.append(rec("gamma-shared", "gamma", "shared/proj", 0))
    out += [rec(f"dev-{k}", "semgrep_rules_tests", "rule.yaml", k % 2) for k in range(4)]
    return out


def test_folds_hold_out_each_source_and_never_split_a_project() -> None:
    records = corpus()
    by_id = {r.id: r for r in records}
    folds = make_folds(records, frozenset({"semgrep_rules_tests"}))
    assert [f.held_out for f in folds] == ["alpha", "beta", "gamma"]
    for f in folds:
        train = [by_id[i] for i in f.train]
        test = [by_id[i] for i in f.test]
        assert {r.source for r in test} == {f.held_out}
        assert f.held_out not in {r.source for r in train}
        assert "semgrep_rules_tests" not in {r.source for r in train + test}
        assert not {r.project for r in train} & {r.project for r in test}
        assert len(test) == sum(1 for r in records if r.source == f.held_out)
    beta = next(f for f in folds if f.held_out == "beta")
    assert beta.shared_project_dropped == 1 and "gamma-shared" not in beta.train
    alpha = next(f for f in folds if f.held_out == "alpha")
    assert alpha.shared_project_dropped == 0 and {"beta-shared", "gamma-shared"} <= set(alpha.train)


def synthetic_inputs(records: Sequence[Record], seed: int = 0) -> dict[str, RecordInputs]:
    """Logits whose first column follows the label in every source (a signal that
    generalises), the rest noise; a rule fires on a third of the vulnerable records."""
    rng = np.random.default_rng(seed)
    out = {}
    for n, r in enumerate(records):
        row = rng.normal(size=12)
        row[0] += 4.0 * (1 if r.label else -1)
        rule = r.label == 1 and n % 3 == 0
        out[r.id] = RecordInputs(
            rules=("py.os-system",) if rule else (),
            rule_cwes=("CWE-78",) if rule else (),
            logits=tuple(float(v) for v in row),
            base_p=0.5,
        )
    return out


def test_evaluate_scores_every_detector_on_held_out_records() -> None:
    records = [r for r in corpus() if r.source != "semgrep_rules_tests"]
    result = evaluate(records, synthetic_inputs(records), LosoSettings(l2_grid=(1.0, 10.0)))
    assert result["records"] == len(records)
    cells = {(row["held_out"], row["detector"]) for row in result["rows"]}
    assert cells == {(s, d) for s in ("alpha", "beta", "gamma") for d in DETECTORS}
    pooled = {row["detector"]: row for row in result["by_language"]}
    # The head learns the generalising column: far better than the rules alone.
    assert pooled["head"]["auc"] > 0.95 and pooled["head"]["youden_j"] > 0.6
    assert pooled["hybrid-combiner"]["youden_j"] > pooled["rules"]["youden_j"]
    assert pooled["rules"]["recall"] < 0.5
    assert pooled["head"]["pairs"] == 24
    for fold in result["folds"]:
        assert fold["held_out"] not in fold["train_sources"]
    decision = model_decision(result)
    assert decision["python"]["model"] == "on"
    md = render_markdown(result, decision)
    assert "| python | hybrid-combiner |" in md and "held out **beta**" in md


def test_model_is_off_where_it_adds_nothing() -> None:
    records = [r for r in corpus() if r.source != "semgrep_rules_tests"]
    inputs = synthetic_inputs(records)
    noise = np.random.default_rng(1)
    # Logits carry no signal, while a rule finds every vulnerable record.
    inputs = {
        i: RecordInputs(
            rules=("r",) if records_by[i].label else (),
            logits=tuple(float(v) for v in noise.normal(size=12)),
            base_p=0.5,
        )
        for records_by in [{r.id: r for r in records}]
        for i in inputs
    }
    result = evaluate(records, inputs, LosoSettings(l2_grid=(10.0,)))
    decision = model_decision(result)
    assert decision["python"]["model"] == "off"
    assert "gain +0.00" in decision["python"]["reason"]


def test_head_fitter_never_trains_on_the_records_it_scores() -> None:
    records = [r for r in corpus() if r.source != "semgrep_rules_tests"]
    inputs = synthetic_inputs(records)
    fitter = HeadFitter(
        {r.id: r for r in records},
        {r.id: np.asarray(inputs[r.id].logits) for r in records},
        np.arange(12),
    )
    train = [r.id for r in records if r.source != "alpha"]
    fitter.out_of_fold(train, 1.0)
    for ids, _ in fitter.fits:
        sources = {r.source for r in records if r.id in ids}
        assert len(sources) == 1 and "alpha" not in sources


class CountingLogits:
    """A fake backend with the logits interface: deterministic rows, calls counted."""

    true_false_ids = (5, 6)

    def __init__(self) -> None:
        self.calls = 0

    def count_tokens(self, text: str) -> int:
        return len(text.split())

    def decision_logits(self, prompts: Sequence[Prompt], token_ids: Any) -> list[Any]:
        self.calls += len(prompts)
        return [np.full(len(token_ids), float(len(p.body) % 7)) for p in prompts]


def test_feature_cache_resumes_and_discards_other_settings(tmp_path: Path) -> None:
    records = [r for r in corpus() if r.source == "alpha"]
    path = tmp_path / "head_features.jsonl"
    ids = [3, 5, 6]
    backend = CountingLogits()
    first = FeatureCache(path, cache_settings("base", ids, 256))
    assert extract_logits(records[:5], backend, first, ids, 256) == 5
    # an interrupted write leaves a cut line: it is skipped on resume
    with path.open("a") as fh:
        fh.write('{"id": "cut", "x": [1.0,')
    resumed = FeatureCache(path, cache_settings("base", ids, 256))
    assert len(resumed.rows) == 5
    assert extract_logits(records, backend, resumed, ids, 256) == len(records) - 5
    assert backend.calls == len(records)
    again = FeatureCache(path, cache_settings("base", ids, 256))
    assert extract_logits(records, backend, again, ids, 256) == 0
    assert backend.calls == len(records)
    stale = FeatureCache(path, cache_settings("base", ids, 512))
    assert stale.rows == {}
    assert json.loads(path.with_suffix(".meta.json").read_text())["budget_tokens"] == 512


def test_interleaved_covers_every_source_early_and_keeps_pairs_together() -> None:
    records = [r for r in corpus() if r.source != "semgrep_rules_tests"]
    random.Random(3).shuffle(records)
    order = interleaved(records)
    assert sorted(r.id for r in order) == sorted(r.id for r in records)
    assert {r.source for r in order[:6]} == {"alpha", "beta", "gamma"}
    for a, b in zip(order, order[1:], strict=False):
        if a.pair_id and a.pair_id == b.pair_id:
            break
    else:
        raise AssertionError("no pair kept adjacent")
    assert interleaved(list(reversed(records))) == order


def test_single_label_sources_do_not_train_the_head() -> None:
    """A source that is all vulnerable would teach the head its style: it is left out."""
    records = [r for r in corpus() if r.source in ("alpha", "beta")]
    records += [rec(f"vuln-{k}", "allvuln", f"v/p{k}", 1) for k in range(6)]
    inputs = synthetic_inputs(records)
    fitter = HeadFitter(
        {r.id: r for r in records},
        {r.id: np.asarray(inputs[r.id].logits) for r in records},
        np.arange(12),
    )
    with_vuln = fitter.fit([r.id for r in records], 1.0)
    without = fitter.fit([r.id for r in records if r.source != "allvuln"], 1.0)
    assert with_vuln is not None and without is not None
    assert np.allclose(with_vuln.weights, without.weights)
    assert fitter.fit([r.id for r in records if r.source == "allvuln"], 1.0) is None


def test_shipped_hybrid_rows_copy_rules_flow_where_the_model_is_off() -> None:
    from vulnsight.bench.loso import SHIPPED_HYBRID, render_markdown, shipped_hybrid_rows

    def row(lang: str, det: str, j: float | None) -> dict[str, object]:
        return {
            "language": lang, "detector": det, "n": 20, "vulnerable": 10, "clean": 10,
            "youden_j": j, "mcc": j, "pairs": 0, "pair_correct": None, "f1": 0.5,
            "clean_flag_rate": 0.1, "recall": 0.6, "auc": None,
        }  # fmt: skip

    pooled = [
        row("c", "rules", 0.2),
        row("c", "rules+flow", 0.4),
        row("python", "rules", 0.5),
        row("python", "rules+flow", 0.5),
        row("cpp", "rules", 0.1),
        row("cpp", "rules+flow", 0.3),
    ]
    shipped = shipped_hybrid_rows(pooled, {"c": None, "python": float("inf")}, 0.38)
    by_lang = {r["language"]: r for r in shipped}
    assert {r["detector"] for r in shipped} == {SHIPPED_HYBRID}
    assert by_lang["c"]["youden_j"] == 0.4 and by_lang["c"]["model"] == "off"
    assert by_lang["python"]["youden_j"] == 0.5
    # cpp falls back to the default threshold: the model is on, so no LOSO score
    assert by_lang["cpp"]["model"] == "on" and by_lang["cpp"]["youden_j"] is None
    result = {
        "records": 60, "by_source": {"s": 60}, "records_without_model_features": 0,
        "settings": {"clean_flag_cap": 0.02}, "by_language": pooled + shipped,
        "rows": [], "folds": [],
    }  # fmt: skip
    md = render_markdown(result, {})
    assert "| c | off | 0.20 | 0.40 | beats the rules |" in md
    assert "| python | off | 0.50 | 0.50 | ties the rules |" in md
    assert "| cpp | on | 0.10 | - | model on: trained on these sources" in md


def test_gzipped_fix_pairs_are_their_own_source_and_pairs_stay_whole(tmp_path: Path) -> None:
    """`--data pairs.jsonl.gz` beside plain corpora: the mined pairs (source `fixes`) get
    their own fold, and no fold or sample ever splits a vulnerable/fixed pair."""
    import gzip

    from vulnsight.bench.loso_command import loso_records

    def row(i: str, source: str, project: str, label: int, pair: str | None) -> dict[str, Any]:
        return {
            "id": i,
            "language": "python",
            "code": f"def f():\n    return {i!r}\n",
            "label": label,
            "source": source,
            "project": project,
            "meta": {"pair_id": pair} if pair else {},
        }

    fixes = [
        row(f"fixes:{p}:{side}", "fixes", f"acme/lib{p % 2}", int(side == "before"), f"fx{p}")
        for p in range(12)
        for side in ("before", "after")
    ]
    (tmp_path / "pairs.jsonl.gz").write_bytes(
        gzip.compress("".join(json.dumps(r) + "\n" for r in fixes).encode())
    )
    sven = [
        row(f"sven:{p}:{k}", "sven", "acme/lib0" if p == 0 else f"o/s{p}", k, f"sv{p}")
        for p in range(6)
        for k in (0, 1)
    ]
    other = [row(f"jl:{k}", "juliet", f"J{k}", k % 2, None) for k in range(8)]
    (tmp_path / "plain.jsonl").write_text("".join(json.dumps(r) + "\n" for r in sven + other))
    args = {
        "data": [tmp_path / "plain.jsonl", tmp_path / "pairs.jsonl.gz"],
        "include_reserved": False,
        "sample": 16,
        "seed": 0,
    }
    records, _ = loso_records(args)
    fx = [r for r in records if r.source == "fixes"]
    assert len(fx) == 16 and sum(r.label for r in fx) == 8
    assert all(sum(1 for r in fx if r.pair_id == p) == 2 for p in {r.pair_id for r in fx})
    folds = make_folds(records)
    assert [f.held_out for f in folds] == ["fixes", "juliet", "sven"]
    by_id = {r.id: r for r in records}
    for f in folds:
        for side in (f.train, f.test):
            pairs = [by_id[i].pair_id for i in side if by_id[i].pair_id]
            assert all(pairs.count(p) == 2 for p in pairs), f.held_out
    held = next(f for f in folds if f.held_out == "fixes")
    assert {by_id[i].source for i in held.test} == {"fixes"}
    # sven's pair from a mined repository is dropped whole from the fixes fold's training
    assert held.shared_project_dropped == 2
    assert not {"sven:0:0", "sven:0:1"} & set(held.train)


def test_loso_refuses_records_a_detector_failed_on() -> None:
    from vulnsight.bench.adapters.interface import Prediction
    from vulnsight.bench.loso_command import require_verdicts
    from vulnsight.errors import ConfigError

    ok = Prediction("a", False, 0.0, (), ())
    timed_out = Prediction("b", False, 0.0, (), (), error="semgrep did not finish within 600 s")
    require_verdicts({"rules": {"a": ok}, "flow": {"a": ok}})
    with pytest.raises(ConfigError, match="rules gave no verdict on 1 of 2 records"):
        require_verdicts({"rules": {"a": ok, "b": timed_out}, "flow": {"a": ok}})
