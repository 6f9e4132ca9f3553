"""Leave-one-source-out evaluation: the pure core (no files, no model, no printing).

For every source, whatever is trainable (the decision head over the base model's
logits, per-language thresholds, the per-language combiner) is fitted on the *other*
sources and tested on the held-out one, by language. Training records that share a
project with the held-out source are dropped (a project is never split). Thresholds
and the combiner are fitted on out-of-fold head scores of the training records (an
inner leave-one-source-out), never on the head's scores of its own training data.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vulnsight.bench.loso_features import RecordInputs
from vulnsight.bench.metrics import (
    confusion,
    f1,
    fpr,
    mcc,
    pair_metrics,
    pair_outcomes,
    recall,
    roc_auc,
    youden_j,
)
from vulnsight.bench.records import SEMGREP_FITTED_SOURCE, Record
from vulnsight.detectors.combiner import CombinerInput, LanguageCombiner, fit_combiner
from vulnsight.llm.head import DecisionHead, fit_head

#: Detector rows of the table, in order. `shipped-default` is added when given.
DETECTORS: tuple[str, ...] = (
    "rules",
    "flow",
    "rules+flow",
    "base-untuned",
    "head",
    "hybrid-fixed",
    "hybrid-combiner",
)
MODEL_DETECTORS = frozenset({"base-untuned", "head", "hybrid-fixed", "hybrid-combiner"})


@dataclass(frozen=True)
class LosoSettings:
    """What the folds fit, and how."""

    clean_flag_cap: float = 0.02
    l2_grid: tuple[float, ...] = (10.0, 100.0, 1000.0)
    #: how many of the cached logits feed the head (the true/false ones always do)
    head_tokens: int = 256
    seed: int = 0
    dev_only: frozenset[str] = frozenset({SEMGREP_FITTED_SOURCE})
    #: the J gain over rules+flow (pooled LOSO, per language) for the model to be on
    min_gain: float = 0.02


@dataclass(frozen=True)
class Fold:
    """One held-out source: the ids trained on and the ids tested on."""

    held_out: str
    train: tuple[str, ...]
    test: tuple[str, ...]
    #: training records dropped because their project also occurs in the held-out source
    shared_project_dropped: int = 0


def make_folds(records: Sequence[Record], dev_only: frozenset[str] = frozenset()) -> list[Fold]:
    """One fold per source that is not development-only; it trains on every other
    non-development source, minus records of projects present in the held-out one."""
    sources = sorted({r.source for r in records} - dev_only)
    folds = []
    for held in sources:
        test = [r for r in records if r.source == held]
        projects = {r.project for r in test}
        train = [r for r in records if r.source != held and r.source not in dev_only]
        kept = [r for r in train if r.project not in projects]
        folds.append(
            Fold(
                held,
                tuple(r.id for r in kept),
                tuple(r.id for r in test),
                len(train) - len(kept),
            )
        )
    return folds


@dataclass
class HeadFitter:
    """Fits decision heads on sets of sources (memoised: inner folds share fits)."""

    records: Mapping[str, Record]
    x: Mapping[str, Any]  # record id -> feature row (selected logits)
    ids: Any
    fits: dict[tuple[frozenset[str], float], DecisionHead | None] = field(default_factory=dict)

    def fit(self, train_ids: Sequence[str], l2: float) -> DecisionHead | None:
        """A head on these records (None when they hold a single label).

        Only sources holding both labels train it, and each (source, label) cell weighs
        the same: a source that is all vulnerable (or all clean) would otherwise teach
        the head to recognise the source's style, not the weakness."""
        key = (frozenset(train_ids), l2)
        if key not in self.fits:
            cells: dict[tuple[str, int], list[str]] = {}
            for i in train_ids:
                r = self.records[i]
                cells.setdefault((r.source, r.label), []).append(i)
            both = {s for s, _ in cells if (s, 0) in cells and (s, 1) in cells}
            used = [(c, ids) for c, ids in sorted(cells.items()) if c[0] in both]
            if not used:
                self.fits[key] = None
            else:
                ids = [i for _, members in used for i in members]
                total = len(ids)
                weight = [total / (len(used) * len(m)) for _, m in used for _ in m]
                rows = np.asarray([self.x[i] for i in ids])
                y = np.asarray([self.records[i].label for i in ids])
                self.fits[key] = fit_head(rows, y, self.ids, l2=l2, sample_weight=weight)
        return self.fits[key]

    def scores(self, head: DecisionHead | None, ids: Sequence[str]) -> dict[str, float]:
        """P(vulnerable) by record id (0.5 everywhere without a head)."""
        if not ids:
            return {}
        if head is None:
            return dict.fromkeys(ids, 0.5)
        p = head.predict(np.asarray([self.x[i] for i in ids]))
        return {i: float(v) for i, v in zip(ids, p, strict=True)}

    def out_of_fold(self, train_ids: Sequence[str], l2: float) -> dict[str, float]:
        """Scores of each training record from a head fitted without its source."""
        by_source: dict[str, list[str]] = {}
        for i in train_ids:
            by_source.setdefault(self.records[i].source, []).append(i)
        out: dict[str, float] = {}
        for source, held in by_source.items():
            rest = [i for s, ids in by_source.items() if s != source for i in ids]
            out.update(self.scores(self.fit(rest, l2) if rest else None, held))
        return out


def best_j_threshold(labels: Sequence[int], scores: Sequence[float]) -> float | None:
    """The threshold (an observed score) with the highest J; None without both labels."""
    if len(set(labels)) < 2:
        return None
    order = sorted(zip(scores, labels, strict=True), reverse=True)
    pos = sum(labels)
    neg = len(labels) - pos
    best_t, best_j, tp, fp = math.inf, 0.0, 0, 0
    for k, (s, y) in enumerate(order):
        tp += y
        fp += 1 - y
        if k + 1 < len(order) and order[k + 1][0] == s:
            continue
        j = tp / pos - fp / neg
        if j > best_j:
            best_t, best_j = s, j
    return best_t


def language_thresholds(
    records: Sequence[Record], scores: Mapping[str, float]
) -> tuple[dict[str, float], float]:
    """Per-language J-optimal thresholds, and the all-language one for languages the
    training data cannot calibrate (one label only)."""
    overall = best_j_threshold([r.label for r in records], [scores[r.id] for r in records])
    fallback = 0.5 if overall is None else overall
    out: dict[str, float] = {}
    for lang in sorted({r.language for r in records}):
        sel = [r for r in records if r.language == lang]
        t = best_j_threshold([r.label for r in sel], [scores[r.id] for r in sel])
        out[lang] = fallback if t is None else t
    return out, fallback


def combiner_input(inp: RecordInputs, model_p: float | None) -> CombinerInput:
    """A record's inputs as the combiner sees them."""
    return CombinerInput(
        rule_cwes=inp.rule_cwes,
        rule_count=len(inp.rules),
        flow_hit=inp.flow,
        model_p=model_p,
    )


@dataclass(frozen=True)
class Verdict:
    """One detector's verdict on one test record."""

    predicted: bool
    score: float


def _fold_verdicts(
    fold: Fold,
    records: Mapping[str, Record],
    inputs: Mapping[str, RecordInputs],
    fitter: HeadFitter | None,
    settings: LosoSettings,
) -> tuple[dict[str, dict[str, Verdict]], dict[str, Any]]:
    """Every detector's verdicts on the fold's test records, and what was fitted."""
    train = [records[i] for i in fold.train]
    test_ids = list(fold.test)
    out: dict[str, dict[str, Verdict]] = {d: {} for d in DETECTORS}
    fitted: dict[str, Any] = {
        "held_out": fold.held_out,
        "n_train": len(train),
        "n_test": len(test_ids),
        "train_sources": sorted({r.source for r in train}),
        "shared_project_dropped": fold.shared_project_dropped,
    }
    for i in test_ids:
        inp = inputs[i]
        out["rules"][i] = Verdict(inp.rule_hit, float(inp.rule_hit))
        out["flow"][i] = Verdict(inp.flow, float(inp.flow))
        hit = inp.rule_hit or inp.flow
        out["rules+flow"][i] = Verdict(hit, float(hit))
    if fitter is None:
        return {d: v for d, v in out.items() if d not in MODEL_DETECTORS}, fitted
    # The untuned base model's own P, thresholded per language on the training sources.
    base = {i: inputs[i].base_p or 0.0 for i in (*fold.train, *fold.test)}
    base_t, base_fb = language_thresholds(train, base)
    for i in test_ids:
        t = base_t.get(records[i].language, base_fb)
        out["base-untuned"][i] = Verdict(base[i] >= t, base[i])
    # The head: L2 chosen on out-of-fold J of the training sources.
    train_ids = [r.id for r in train]
    best: tuple[float, float, dict[str, float]] | None = None
    for l2 in settings.l2_grid:
        oof = fitter.out_of_fold(train_ids, l2)
        cut = best_j_threshold([r.label for r in train], [oof[r.id] for r in train])
        labels = [r.label for r in train]
        flagged = [oof[r.id] >= (cut if cut is not None else math.inf) for r in train]
        j = youden_j(confusion(labels, flagged))
        if best is None or j > best[0]:
            best = (j, l2, oof)
    assert best is not None
    _, l2, oof = best
    head = fitter.fit(train_ids, l2)
    test_p = fitter.scores(head, test_ids)
    head_t, head_fb = language_thresholds(train, oof)
    fitted.update(
        {
            "l2": l2,
            "head_thresholds": {k: _finite(v) for k, v in head_t.items()},
            "base_thresholds": {k: _finite(v) for k, v in base_t.items()},
        }
    )
    combiners: dict[str, LanguageCombiner] = {}
    for lang in sorted({records[i].language for i in test_ids}):
        sel = [r for r in train if r.language == lang]
        combiners[lang] = fit_combiner(
            lang,
            [combiner_input(inputs[r.id], oof[r.id]) for r in sel],
            [r.label for r in sel],
            settings.clean_flag_cap,
        )
    fitted["combiners"] = combiner_summary(combiners, train)
    for i in test_ids:
        inp, lang = inputs[i], records[i].language
        p = test_p[i]
        t = head_t.get(lang, head_fb)
        out["head"][i] = Verdict(p >= t, p)
        hit = inp.rule_hit or inp.flow
        out["hybrid-fixed"][i] = Verdict(hit or p >= t, max(float(hit), p))
        d = combiners[lang].decide(combiner_input(inp, p))
        out["hybrid-combiner"][i] = Verdict(d.flagged, d.confidence)
    return out, fitted


def combiner_summary(
    combiners: Mapping[str, LanguageCombiner], fitted_on: Sequence[Record]
) -> dict[str, dict[str, Any]]:
    """What a fold's per-language combiners decided, for `loso.json`: how many records
    each was fitted on, its threshold, whether the model adds to the rules, and why."""
    return {
        lang: {
            "n_train": sum(1 for r in fitted_on if r.language == lang),
            "threshold": _finite(c.threshold),
            "model_adds": c.model_adds,
            "note": c.note,
        }
        for lang, c in combiners.items()
    }


def _finite(value: float) -> float | None:
    """A threshold for JSON: None for inf (flags nothing)."""
    return round(value, 4) if math.isfinite(value) else None


def scores_of(rows: Sequence[tuple[Record, Verdict]]) -> dict[str, Any]:
    """J, MCC, pair-correct, F1, flag rate on clean, recall and AUC of some verdicts."""
    labels = [r.label for r, _ in rows]
    predicted = [v.predicted for _, v in rows]
    c = confusion(labels, predicted)
    both = 0 < sum(labels) < len(labels)
    pairs = pair_metrics(pair_outcomes((r.pair_id, r.label, v.predicted) for r, v in rows))
    auc = roc_auc(labels, [v.score for _, v in rows]) if both else None
    return {
        "n": len(rows),
        "vulnerable": sum(labels),
        "clean": len(labels) - sum(labels),
        "youden_j": round(youden_j(c), 4) if both else None,
        "mcc": round(mcc(c), 4) if both else None,
        "pairs": int(pairs["pairs"]),
        "pair_correct": round(float(pairs["pair_correct"]), 4) if pairs["pairs"] else None,
        "f1": round(f1(c), 4) if sum(labels) else None,
        "clean_flag_rate": round(fpr(c), 4) if len(labels) > sum(labels) else None,
        "recall": round(recall(c), 4) if sum(labels) else None,
        "auc": None if auc is None else round(auc, 4),
    }


def evaluate(
    records: Sequence[Record],
    inputs: Mapping[str, RecordInputs],
    settings: LosoSettings,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """The leave-one-source-out table as plain data.

    Records without model features are left out of every row when any record has them
    (so all rows score the same records); without any, only rules/flow rows are made."""
    with_model = [r for r in records if inputs[r.id].logits is not None]
    use_model = bool(with_model)
    kept = with_model if use_model else list(records)
    by_id = {r.id: r for r in kept}
    fitter: HeadFitter | None = None
    if use_model:
        width = len(next(iter(inputs[r.id].logits or () for r in kept)))
        cols = _head_columns(width, settings)
        fitter = HeadFitter(
            by_id,
            {r.id: _head_row(inputs[r.id], cols) for r in kept},
            np.asarray([*cols, -1]),
        )
    folds = make_folds(kept, settings.dev_only)
    verdicts: dict[str, dict[str, Verdict]] = {}
    fitted = []
    for n, fold in enumerate(folds, 1):
        v, f = _fold_verdicts(fold, by_id, inputs, fitter, settings)
        for det, got in v.items():
            verdicts.setdefault(det, {}).update(got)
        fitted.append(f)
        if progress is not None:
            progress("folds", n, len(folds))
    rows = []
    tested = {i for f in folds for i in f.test}
    cells = sorted({(by_id[i].source, by_id[i].language) for i in tested})
    for source, lang in cells:
        sel = [r for r in kept if r.source == source and r.language == lang]
        for det, got in verdicts.items():
            scored = [(r, got[r.id]) for r in sel if r.id in got]
            if scored:
                rows.append(
                    {"held_out": source, "language": lang, "detector": det, **scores_of(scored)}
                )
    pooled = []
    for lang in sorted({lang for _, lang in cells}):
        sel = [by_id[i] for i in sorted(tested) if by_id[i].language == lang]
        for det, got in verdicts.items():
            scored = [(r, got[r.id]) for r in sel if r.id in got]
            if scored:
                pooled.append({"language": lang, "detector": det, **scores_of(scored)})
    return {
        "records": len(kept),
        "records_without_model_features": len(records) - len(kept),
        "by_source": {
            s: sum(1 for r in kept if r.source == s) for s in sorted({r.source for r in kept})
        },
        "settings": {
            "clean_flag_cap": settings.clean_flag_cap,
            "l2_grid": list(settings.l2_grid),
            "head_tokens": settings.head_tokens,
            "seed": settings.seed,
            "dev_only": sorted(settings.dev_only),
            "min_gain": settings.min_gain,
        },
        "folds": fitted,
        "record_ids": sorted(by_id),
        "rows": rows,
        "by_language": pooled,
    }


def shipped_rows(
    records: Mapping[str, Record], verdicts: Mapping[str, Mapping[str, Verdict]]
) -> list[dict[str, Any]]:
    """Scores of a model *not* trained leave-one-source-out (the shipped default, on
    its own test split: other projects of the sources it was trained on), by source and
    language, for the records of ours it judged."""
    rows = []
    for det, got in verdicts.items():
        known = [records[i] for i in sorted(got) if i in records]
        for source, lang in sorted({(r.source, r.language) for r in known}):
            sel = [(r, got[r.id]) for r in known if r.source == source and r.language == lang]
            rows.append({"source": source, "language": lang, "detector": det, **scores_of(sel)})
    return rows


def _head_row(inp: RecordInputs, cols: Sequence[int]) -> Any:
    """The head's features: the chosen logits, plus the base model's own true-vs-false
    logit difference (its untuned verdict), which a random subset may miss."""
    p = min(max(inp.base_p if inp.base_p is not None else 0.5, 1e-9), 1 - 1e-9)
    return np.append(np.asarray(inp.logits)[list(cols)], math.log(p / (1 - p)))


def _head_columns(width: int, settings: LosoSettings) -> list[int]:
    """Which cached logits feed the head: a seeded subset of `head_tokens` columns (a
    linear probe of the final hidden state needs far fewer than the vocabulary)."""
    if width <= settings.head_tokens:
        return list(range(width))
    rng = np.random.default_rng(settings.seed)
    picked = rng.choice(np.arange(width), size=settings.head_tokens, replace=False)
    return sorted(int(c) for c in picked)


def _pooled(result: Mapping[str, Any], lang: str, det: str) -> Mapping[str, Any] | None:
    for row in result["by_language"]:
        if row["language"] == lang and row["detector"] == det:
            return dict(row)
    return None


def model_decision(
    result: Mapping[str, Any],
    min_gain: float | None = None,
    detector: str = "hybrid-combiner",
) -> dict[str, Any]:
    """Per language: is the model on (it adds to the rules on the pooled LOSO table)?

    On when hybrid-combiner's J exceeds rules+flow's by at least `min_gain` on the
    held-out records of that language; off, with the reason, otherwise (including when
    the held-out records of a language hold one label only, so J is undefined)."""
    gain_needed = result["settings"]["min_gain"] if min_gain is None else min_gain
    out: dict[str, Any] = {}
    for lang in sorted({row["language"] for row in result["by_language"]}):
        hyb = _pooled(result, lang, detector)
        base = _pooled(result, lang, "rules+flow")
        if hyb is None or base is None:
            out[lang] = {"model": "off", "reason": "no model features for this language"}
            continue
        if hyb["youden_j"] is None or base["youden_j"] is None:
            out[lang] = {
                "model": "off",
                "reason": "held-out records hold one label only: J undefined",
                "n": hyb["n"],
            }
            continue
        gain = hyb["youden_j"] - base["youden_j"]
        on = gain >= gain_needed
        out[lang] = {
            "model": "on" if on else "off",
            "reason": (
                f"LOSO J {hyb['youden_j']:.2f} ({detector}) vs {base['youden_j']:.2f} "
                f"(rules+flow): gain {gain:+.2f} " + (">=" if on else "<") + f" {gain_needed:.2f}"
            ),
            "n": hyb["n"],
            "j_hybrid_combiner": hyb["youden_j"],
            "j_rules_flow": base["youden_j"],
            "j_rules": (_pooled(result, lang, "rules") or {}).get("youden_j"),
            "j_head": (_pooled(result, lang, "head") or {}).get("youden_j"),
            "clean_flag_rate": hyb["clean_flag_rate"],
        }
    return out


#: The row of the scan users run by default, as it stands on the LOSO table.
SHIPPED_HYBRID = "shipped hybrid"
_SCORES = ("youden_j", "mcc", "pair_correct", "f1", "clean_flag_rate", "recall", "auc")


def shipped_hybrid_rows(
    by_language: Sequence[Mapping[str, Any]],
    model_thresholds: Mapping[str, float | None],
    default_threshold: float | None = 0.5,
) -> list[dict[str, Any]]:
    """The shipped scan's LOSO rows, per language, from the rules+flow rows.

    Where the shipped model is off (its manifest's threshold is null or infinite) the
    shipped scan *is* rules+flow, so the row is a copy. Where it is on, the model was
    trained on every corpus here, so no leave-one-source-out score exists for it: the
    row holds no scores and says so (its held-out figures come from sources it never
    saw, `bench.onoff`)."""
    rows = []
    for row in by_language:
        if row["detector"] != "rules+flow":
            continue
        lang = row["language"]
        t = model_thresholds.get(lang, default_threshold)
        off = t is None or not math.isfinite(t)
        out = {**row, "detector": SHIPPED_HYBRID, "model": "off" if off else "on"}
        if not off:
            out.update({k: None for k in _SCORES})
            out["note"] = "model on: trained on these sources, not measurable LOSO"
        rows.append(out)
    return rows


def shipped_vs_rules(by_language: Sequence[Mapping[str, Any]]) -> list[str]:
    """Markdown rows: J of the shipped scan against the rule pack alone, per language."""
    rules = {r["language"]: r for r in by_language if r["detector"] == "rules"}
    lines = []
    for row in by_language:
        if row["detector"] != SHIPPED_HYBRID:
            continue
        base = rules.get(row["language"], {})
        hj, rj = row.get("youden_j"), base.get("youden_j")
        if hj is None or rj is None:
            verdict = row.get("note") or "J undefined (one label held out)"
        else:
            verdict = "beats" if hj > rj else ("ties" if hj == rj else "loses to")
            verdict += " the rules"
        lines.append(
            f"| {row['language']} | {row.get('model', '-')} | {_fmt(rj)} | {_fmt(hj)} | {verdict} |"
        )
    return lines


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


_COLUMNS = ("youden_j", "mcc", "pair_correct", "f1", "clean_flag_rate", "recall", "auc")
_HEAD = "| J | MCC | pairs ok (n) | F1 | clean flag rate | recall | AUC |"


def _cells(row: Mapping[str, Any]) -> str:
    vals = []
    for c in _COLUMNS:
        v = _fmt(row[c])
        if c == "pair_correct" and row["pairs"]:
            v = f"{v} ({row['pairs']})"
        vals.append(v)
    return " | ".join(vals)


def render_markdown(result: Mapping[str, Any], decision: Mapping[str, Any]) -> str:
    """The LOSO table as Markdown: pooled by language, then per held-out source."""
    name = str
    sources = ", ".join(f"{k} {v}" for k, v in result["by_source"].items())
    lines = [
        "# Leave-one-source-out",
        "",
        f"{result['records']} records ({sources}); "
        f"{result['records_without_model_features']} without model features left out. "
        f"Clean flag cap for the combiner: {result['settings']['clean_flag_cap']:.0%} "
        "(added flags on clean training records).",
        "",
        "## Pooled by language (every record scored by a model that never saw its source)",
        "",
        "| language | detector | n (vuln/clean) " + _HEAD,
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in result["by_language"]:
        lines.append(
            f"| {row['language']} | {name(row['detector'])} | {row['n']} "
            f"({row['vulnerable']}/{row['clean']}) | {_cells(row)} |"
        )
    versus = shipped_vs_rules(result["by_language"])
    if versus:
        lines += [
            "",
            "## The shipped scan against the rules alone (J, leave-one-source-out)",
            "",
            "| language | shipped model | rules | shipped hybrid | |",
            "|---|---|---:|---:|---|",
            *versus,
        ]
    lines += [
        "",
        "## Model on or off, per language",
        "",
        "| language | model | reason |",
        "|---|---|---|",
    ]
    for lang, d in decision.items():
        lines.append(f"| {lang} | {d['model']} | {d['reason']} |")
    lines += [
        "",
        "## Per held-out source",
        "",
        "| held-out source | language | detector | n (vuln/clean) " + _HEAD,
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for row in result["rows"]:
        lines.append(
            f"| {row['held_out']} | {row['language']} | {name(row['detector'])} | {row['n']} "
            f"({row['vulnerable']}/{row['clean']}) | {_cells(row)} |"
        )
    if result.get("shipped"):
        lines += [
            "",
            "## Shipped default beside (NOT LOSO: trained on this source)",
            "",
            "Its saved predictions on its own test split (other projects of the same "
            "sources it was trained on), so this is fit, not generalisation.",
            "",
            "| source | language | detector | n (vuln/clean) " + _HEAD,
            "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for row in result["shipped"]:
            lines.append(
                f"| {row['source']} | {row['language']} | {row['detector']} (not LOSO) | "
                f"{row['n']} ({row['vulnerable']}/{row['clean']}) | {_cells(row)} |"
            )
    lines += ["", "## What each fold fitted", ""]
    for f in result["folds"]:
        combs = ", ".join(
            f"{lang}: {'adds at p>=' + format(c['threshold'], '.2f') if c['model_adds'] else 'off'}"
            for lang, c in f.get("combiners", {}).items()
        )
        lines.append(
            f"- held out **{f['held_out']}**: trained on {', '.join(f['train_sources'])} "
            f"({f['n_train']} records, {f['shared_project_dropped']} dropped for a shared "
            f"project); L2 {f.get('l2', '-')}; combiner {combs or '-'}"
        )
    return "\n".join(lines) + "\n"
