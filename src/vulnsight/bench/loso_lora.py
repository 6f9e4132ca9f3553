"""Leave-one-source-out rows for LoRA folds trained elsewhere (a GPU run of
`scripts/gpu_retrain.py`): the pure core that joins their scores with the rule and
data-flow verdicts of `vulnsight eval --loso` and fits the same thresholds and combiner.

Each fold's adapter never saw its held-out source; it scored that source's test records
and the *dev* records (projects no fold trained on) of the sources it trained on. Per
fold and language, the LoRA threshold (best J) and the combiner (`detectors.combiner`,
same clean-flag cap) are fitted on those dev records, never on the held-out source.
Rows: ``lora`` (the fold's adapter at its threshold), ``hybrid-lora`` (rule or flow hit,
or the adapter's flag) and ``hybrid-lora-combiner``; ``rules``, ``flow`` and
``rules+flow`` beside them, on the same records, so `loso.render_markdown` and
`loso.model_decision(result, detector="hybrid-lora-combiner")` apply unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from vulnsight.bench.loso import (
    LosoSettings,
    Verdict,
    _finite,
    combiner_input,
    combiner_summary,
    language_thresholds,
    scores_of,
)
from vulnsight.bench.loso_features import RecordInputs
from vulnsight.bench.records import Record
from vulnsight.detectors.combiner import fit_combiner

#: Rows of the LoRA table, in order.
LORA_DETECTORS: tuple[str, ...] = (
    "rules",
    "flow",
    "rules+flow",
    "lora",
    "hybrid-lora",
    "hybrid-lora-combiner",
)


@dataclass(frozen=True)
class FoldScores:
    """One fold's P(vulnerable) on its held-out test records and on dev records."""

    held_out: str
    test: Mapping[str, float]
    dev: Mapping[str, float]


def evaluate_lora(
    records: Mapping[str, Record],
    inputs: Mapping[str, RecordInputs],
    folds: Sequence[FoldScores],
    settings: LosoSettings,
) -> dict[str, Any]:
    """The LOSO table of LoRA folds as plain data (the shape `loso.evaluate` returns)."""
    verdicts: dict[str, dict[str, Verdict]] = {d: {} for d in LORA_DETECTORS}
    fitted = []
    for fold in folds:
        dev = [records[i] for i in sorted(fold.dev) if records[i].source != fold.held_out]
        t_lang, t_fb = language_thresholds(dev, fold.dev)
        combiners = {}
        for lang in sorted({records[i].language for i in fold.test}):
            sel = [r for r in dev if r.language == lang]
            combiners[lang] = fit_combiner(
                lang,
                [combiner_input(inputs[r.id], fold.dev[r.id]) for r in sel],
                [r.label for r in sel],
                settings.clean_flag_cap,
            )
        for i, p in fold.test.items():
            inp, lang = inputs[i], records[i].language
            hit = inp.rule_hit or inp.flow
            flagged = p >= t_lang.get(lang, t_fb)
            verdicts["rules"][i] = Verdict(inp.rule_hit, float(inp.rule_hit))
            verdicts["flow"][i] = Verdict(inp.flow, float(inp.flow))
            verdicts["rules+flow"][i] = Verdict(hit, float(hit))
            verdicts["lora"][i] = Verdict(flagged, p)
            verdicts["hybrid-lora"][i] = Verdict(hit or flagged, max(float(hit), p))
            d = combiners[lang].decide(combiner_input(inp, p))
            verdicts["hybrid-lora-combiner"][i] = Verdict(d.flagged, d.confidence)
        fitted.append(
            {
                "held_out": fold.held_out,
                "n_train": 0,
                "n_test": len(fold.test),
                "n_dev": len(dev),
                "train_sources": sorted({r.source for r in dev}),
                "shared_project_dropped": 0,
                "lora_thresholds": {k: _finite(v) for k, v in t_lang.items()},
                "combiners": combiner_summary(combiners, dev),
            }
        )
    tested = sorted({i for f in folds for i in f.test})
    rows, pooled = [], []
    cells = sorted({(records[i].source, records[i].language) for i in tested})
    for source, lang in cells:
        sel = [
            records[i] for i in tested if (records[i].source, records[i].language) == (source, lang)
        ]
        for det, got in verdicts.items():
            rows.append(
                {
                    "held_out": source,
                    "language": lang,
                    "detector": det,
                    **scores_of([(r, got[r.id]) for r in sel]),
                }
            )
    for lang in sorted({lang for _, lang in cells}):
        sel = [records[i] for i in tested if records[i].language == lang]
        for det, got in verdicts.items():
            pooled.append(
                {"language": lang, "detector": det, **scores_of([(r, got[r.id]) for r in sel])}
            )
    return {
        "records": len(tested),
        "records_without_model_features": 0,
        "by_source": {
            s: sum(1 for i in tested if records[i].source == s)
            for s in sorted({records[i].source for i in tested})
        },
        "settings": {
            "clean_flag_cap": settings.clean_flag_cap,
            "seed": settings.seed,
            "min_gain": settings.min_gain,
            "thresholds_from": "dev records of the fold's training sources",
        },
        "folds": fitted,
        "record_ids": tested,
        "rows": rows,
        "by_language": pooled,
    }
