"""From per-sample predictions to the results JSON and the Markdown leaderboard.

Every figure here is computed from the saved predictions and chunk usage; formatters
return strings and write nothing (the command writes the files).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from vulnsight.bench import metrics as M
from vulnsight.bench.adapters.interface import Prediction
from vulnsight.bench.cost import Prices, compute_cost_per_1k, token_cost_per_1k
from vulnsight.bench.records import Record
from vulnsight.bench.runner import ORIGINAL, ChunkUsage, RunOutcome

#: Smallest slice reported in per-language/source/CWE tables.
MIN_SLICE = 1


def summarize(records: Sequence[Record], preds: Mapping[str, Prediction]) -> dict[str, Any]:
    """Quality metrics of one detector over `records` (all of which have a prediction)."""
    labels = [r.label for r in records]
    verdicts = [preds[r.id].predicted for r in records]
    c = M.confusion(labels, verdicts)
    out: dict[str, Any] = M.binary_metrics(c)
    out.update(
        M.pair_metrics(
            M.pair_outcomes((r.pair_id, r.label, v) for r, v in zip(records, verdicts, strict=True))
        )
    )
    tps = [r for r in records if r.label == 1 and preds[r.id].predicted]
    rate, n_lines = M.line_hit_rate((r.lines, preds[r.id].lines) for r in tps)
    out["line_hit"] = rate
    out["line_n"] = n_lines
    out.update(M.cwe_accuracy((r.cwe, (preds[r.id].cwes or (None,))[0]) for r in tps))
    out["errors"] = sum(1 for r in records if preds[r.id].error)
    return out


def _slices(
    records: Sequence[Record], key: Callable[[Record], str | None]
) -> dict[str, list[Record]]:
    groups: dict[str, list[Record]] = defaultdict(list)
    for r in records:
        k = key(r)
        if k:
            groups[k].append(r)
    return {k: v for k, v in sorted(groups.items()) if len(v) >= MIN_SLICE}


def _usage_totals(usage: Sequence[ChunkUsage]) -> dict[str, float]:
    return {
        "wall_s": sum(u.wall_s for u in usage),
        "cpu_s": sum(u.cpu_s for u in usage),
        "peak_rss_mb": max((u.peak_rss_mb for u in usage), default=0.0),
        "tokens_in": sum(u.tokens_in for u in usage),
        "tokens_out": sum(u.tokens_out for u in usage),
        "chunks": len(usage),
        "chunk_errors": sum(1 for u in usage if u.error),
    }


def robustness(
    records: Sequence[Record],
    original: Mapping[str, Prediction],
    perturbed: Mapping[str, Prediction],
) -> dict[str, Any]:
    """How often the verdict flips under a perturbation, how often a flagged
    vulnerable record is no longer flagged (evasion), and how far the score of
    vulnerable records moves on average (`mean_score_shift`, perturbed - original)."""
    both = [r for r in records if r.id in original and r.id in perturbed]
    flips = sum(1 for r in both if original[r.id].predicted != perturbed[r.id].predicted)
    caught = [r for r in both if r.label == 1 and original[r.id].predicted]
    evaded = sum(1 for r in caught if not perturbed[r.id].predicted)
    shifts = [perturbed[r.id].score - original[r.id].score for r in both if r.label == 1]
    return {
        "mean_score_shift": round(sum(shifts) / len(shifts), 4) if shifts else 0.0,
        "n": len(both),
        "flip_rate": flips / len(both) if both else 0.0,
        "flips": flips,
        "evasion_rate": evaded / len(caught) if caught else 0.0,
        "evaded": evaded,
        "caught": len(caught),
    }


def detector_results(
    name: str,
    kind: str,
    compute: str,
    records: Sequence[Record],
    outcome: RunOutcome,
    prices: Prices,
    model: str | None = None,
) -> dict[str, Any]:
    """Everything reported about one detector."""
    preds = outcome.predictions.get((name, ORIGINAL), {})
    scored = [r for r in records if r.id in preds]
    res: dict[str, Any] = {"detector": name, "kind": kind, "compute": compute}
    res["n"] = len(scored)
    res["coverage"] = len(scored) / len(records) if records else 0.0
    res["not_scored"] = outcome.not_scored.get(name, {})
    res["settings"] = outcome.described.get(name, {})
    if not scored:
        return res
    res["overall"] = summarize(scored, preds)
    lo, hi = M.bootstrap_ci(
        [r.project for r in scored],
        [r.label for r in scored],
        [preds[r.id].predicted for r in scored],
    )
    res["overall"]["f1_ci95"] = [lo, hi]
    res["by_language"] = {
        k: summarize(v, preds) for k, v in _slices(scored, lambda r: r.language).items()
    }
    res["by_source"] = {
        k: summarize(v, preds) for k, v in _slices(scored, lambda r: r.source).items()
    }
    res["by_cwe"] = {
        k: summarize(v, preds) for k, v in _slices(scored, lambda r: M.normalise_cwe(r.cwe)).items()
    }
    labels = [r.label for r in scored]
    scores = [preds[r.id].score for r in scored]
    res["calibration"] = {
        "ece": M.expected_calibration_error(labels, scores),
        "roc_auc": M.roc_auc(labels, scores),
        "bins": [b.__dict__ for b in M.reliability_bins(labels, scores)],
    }
    res["sweep"] = M.threshold_sweep(labels, scores)
    usage = [u for u in outcome.usage if u.detector == name and u.perturbation == ORIGINAL]
    totals = _usage_totals(usage)
    latencies = [p.latency_ms or 0.0 for r in scored for p in (preds[r.id],)]
    perf: dict[str, Any] = dict(totals)
    perf.update(M.latency_stats(latencies, totals["wall_s"] or None))
    perf["latency_measured"] = all(preds[r.id].latency_measured for r in scored)
    perf["cost_per_1k_usd"] = compute_cost_per_1k(
        len(scored), totals["cpu_s"], totals["wall_s"], compute, prices
    )
    if kind == "endpoint":
        per_m = prices.token_prices(model)
        perf["token_prices_per_m"] = per_m
        perf["cost_per_1k_usd"] = (
            token_cost_per_1k(
                len(scored), int(totals["tokens_in"]), int(totals["tokens_out"]), per_m
            )
            if per_m
            else None
        )
    res["performance"] = perf
    res["latencies_ms"] = [round(x, 3) for x in latencies]
    res["robustness"] = {
        pert: robustness(scored, preds, p)
        for (det, pert), p in sorted(outcome.predictions.items())
        if det == name and pert != ORIGINAL
    }
    return res


def _f(x: Any, digits: int = 2) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        return f"{x:.{digits}f}"
    return str(x)


def _money(x: Any) -> str:
    if x is None:
        return "unpriced"
    return f"${x:.4f}" if x < 1 else f"${x:.2f}"


def render_markdown(results: Mapping[str, Any]) -> str:
    """The leaderboard: headline table, per-language/source F1, robustness, notes."""
    dets = [d for d in results["detectors"] if d.get("overall")]
    dets.sort(key=lambda d: (-d["overall"]["mcc"], d["detector"]))
    out = ["# vulnsight eval leaderboard", ""]
    cfg = results["config"]
    out.append(
        f"{results['records']} records from {', '.join(cfg['data'])}; sample "
        f"{cfg['sample'] or 'all'} per source, seed {cfg['seed']}; reserved projects "
        f"{'included' if cfg['include_reserved'] else 'excluded'}."
    )
    out += [
        "",
        "Sorted by MCC. F1 95% CI: bootstrap over projects. Latency per snippet;"
        " `*` = batch wall time shared evenly over its snippets (tool runs once per batch).",
        "",
    ]
    out.append(
        "| detector | kind | n | precision | recall | F1 [95% CI] | MCC | FPR | J | pairs ok "
        "| line ±2 | CWE exact/family | ECE | AUC | latency med / p95 ms | snippets/s | peak MB "
        "| $ per 1k |"
    )
    out.append("|" + "---|" * 2 + "---:|" * 16)
    for d in dets:
        o, p, c = d["overall"], d["performance"], d["calibration"]
        star = "" if p["latency_measured"] else "*"
        pairs = f"{_f(o['pair_correct'])} ({o['pairs']})" if o["pairs"] else "-"
        lines = f"{_f(o['line_hit'])} ({o['line_n']})" if o["line_n"] else "-"
        cwe = f"{_f(o['cwe_exact'])}/{_f(o['cwe_family'])}" if o["cwe_n"] else "-"
        lo, hi = o["f1_ci95"]
        out.append(
            f"| {d['detector']} | {d['kind']} | {d['n']} | {_f(o['precision'])} | "
            f"{_f(o['recall'])} | {_f(o['f1'])} [{_f(lo)}, {_f(hi)}] | {_f(o['mcc'])} | "
            f"{_f(o['fpr'])} | {_f(o['youden_j'])} | {pairs} | {lines} | {cwe} | "
            f"{_f(c['ece'])} | {_f(c['roc_auc'])} | {_f(p['latency_ms_median'], 1)}{star} / "
            f"{_f(p['latency_ms_p95'], 1)}{star} | {_f(p['throughput_per_s'], 1)} | "
            f"{_f(p['peak_rss_mb'], 0)} | {_money(p['cost_per_1k_usd'])} |"
        )
    for title, key in (("F1 by language", "by_language"), ("F1 by source", "by_source")):
        cols = sorted({k for d in dets for k in d.get(key, {})})
        out += ["", f"## {title} (n in brackets; `-` = not scored)", ""]
        out.append("| detector | " + " | ".join(cols) + " |")
        out.append("|---|" + "---:|" * len(cols))
        for d in dets:
            cells = []
            for col in cols:
                s = d.get(key, {}).get(col)
                cells.append(f"{_f(s['f1'])} ({s['n']})" if s else "-")
            out.append(f"| {d['detector']} | " + " | ".join(cells) + " |")
    perts = sorted({k for d in dets for k in d.get("robustness", {})})
    if perts:
        out += [
            "",
            "## Robustness: verdict flip rate (evasion rate of caught vulnerable records)",
            "",
        ]
        out.append("| detector | " + " | ".join(perts) + " |")
        out.append("|---|" + "---:|" * len(perts))
        for d in dets:
            cells = []
            for pert in perts:
                rb = d.get("robustness", {}).get(pert)
                cells.append(f"{_f(rb['flip_rate'])} ({_f(rb['evasion_rate'])})" if rb else "-")
            out.append(f"| {d['detector']} | " + " | ".join(cells) + " |")
        out += ["", "Mean score shift of vulnerable records (perturbed - original):", ""]
        out.append("| detector | " + " | ".join(perts) + " |")
        out.append("|---|" + "---:|" * len(perts))
        for d in dets:
            cells = []
            for pert in perts:
                rb = d.get("robustness", {}).get(pert)
                shift = rb.get("mean_score_shift") if rb else None
                cells.append(f"{shift:+.3f}" if shift is not None else "-")
            out.append(f"| {d['detector']} | " + " | ".join(cells) + " |")
    notes = []
    for name, reason in sorted(results.get("unavailable", {}).items()):
        notes.append(f"* **{name}** did not run: {reason}")
    for d in results["detectors"]:
        skipped = d.get("not_scored") or {}
        if skipped:
            parts = ", ".join(f"{n} ({why})" for why, n in sorted(skipped.items()))
            notes.append(f"* {d['detector']}: not scored on {parts}")
        if d.get("overall", {}).get("errors"):
            notes.append(
                f"* {d['detector']}: {d['overall']['errors']} records could not be "
                "judged (counted as not flagged)"
            )
    if notes:
        out += ["", "## Notes", ""] + notes
    prices = cfg["prices"]
    out += [
        "",
        f"Cost: CPU-seconds × ${prices['cpu_hour_usd']:.4f}/vCPU-hour, GPU wall-seconds "
        f"× ${prices['gpu_hour_usd']:.3f}/GPU-hour (sources in results.json); "
        "endpoints: tokens × price.",
        "",
    ]
    return "\n".join(out)
