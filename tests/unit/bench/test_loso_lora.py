"""LOSO rows of LoRA folds trained elsewhere (`bench.loso_lora`): thresholds from dev
records of the training sources only, rule hits always kept."""

from __future__ import annotations

from vulnsight.bench.loso import LosoSettings, model_decision
from vulnsight.bench.loso_features import RecordInputs
from vulnsight.bench.loso_lora import FoldScores, evaluate_lora
from vulnsight.bench.records import Record


def _r(i: str, source: str, label: int, pair: str | None = None) -> Record:
    return Record(i, "c", "int f(void) { return 0; }", label, source, f"{source}-p", pair_id=pair)


def test_lora_rows_use_dev_thresholds_and_keep_rule_hits():
    records = {
        r.id: r
        for r in [
            _r("a1", "a", 1, "pa"),
            _r("a0", "a", 0, "pa"),
            _r("a2", "a", 1),
            _r("a3", "a", 0),
            *[_r(f"b{k}", "b", k % 2) for k in range(8)],
        ]
    }
    # dev (source b): vulnerable at 0.8, clean at 0.2 -> J-optimal threshold 0.8
    dev = {f"b{k}": 0.8 if k % 2 else 0.2 for k in range(8)}
    test = {"a1": 0.9, "a0": 0.3, "a2": 0.5, "a3": 0.85}
    inputs = {i: RecordInputs() for i in records}
    inputs["a2"] = RecordInputs(rules=("c.strcpy",), rule_cwes=("CWE-120",))
    result = evaluate_lora(records, inputs, [FoldScores("a", test, dev)], LosoSettings())
    rows = {(r["language"], r["detector"]): r for r in result["by_language"]}
    assert result["folds"][0]["lora_thresholds"] == {"c": 0.8}
    lora = rows[("c", "lora")]  # flags a1 (0.9) and a3 (0.85): tp 1, fp 1
    assert (lora["recall"], lora["clean_flag_rate"], lora["pair_correct"]) == (0.5, 0.5, 1.0)
    rules = rows[("c", "rules")]
    assert (rules["recall"], rules["clean_flag_rate"]) == (0.5, 0.0)
    hybrid = rows[("c", "hybrid-lora")]  # a1, a3 by the adapter, a2 by its rule hit
    assert (hybrid["recall"], hybrid["clean_flag_rate"]) == (1.0, 0.5)
    combined = rows[("c", "hybrid-lora-combiner")]
    assert combined["recall"] >= 0.5  # the rule hit on a2 is never dropped
    decision = model_decision(result, detector="hybrid-lora-combiner")
    assert (
        decision["c"]["model"] in ("on", "off")
        and "hybrid-lora-combiner" in decision["c"]["reason"]
    )
