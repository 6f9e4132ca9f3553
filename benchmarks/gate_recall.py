"""What the model gate costs: recall of the model's true positives, from saved scores.

Reads a `vulnsight eval` run's per-record predictions (the shipped model's scores on its
held-out test split, benchmarks/results/default-v1/predictions-test.jsonl.gz), finds each
record's code in the shared datasets, and runs the gate (vulnsight.detectors.gate) over
the record's functions exactly as a scan would see them (the record written as its own
file, rule hits from the saved rules predictions). No model is run: a record's model
score is the highest P(vulnerable) of its functions, so

* a record whose every function the gate skips loses the model's flag (exact);
* a record where the gate skips some functions but not all keeps its flag unless the
  skipped one carried the highest score: counted separately ("partial"), and as lost
  in the worst case.

A second, model-free check covers every vulnerable record of the shared datasets in
the languages where the model is on (semgrep_rules_tests excluded, the test split's
records excluded so it is independent of the lists' tuning): the share of them the
gate skips entirely is the most recall it can cost there, whatever the model says.

Records whose code is not in the shared datasets (the harvested mature-clean ones, all
label 0) are left out: the gate can only remove flags, so on clean records it can only
lower the false-positive rate. Prints Markdown tables and writes a JSON beside them.

    python benchmarks/gate_recall.py [--mode safe|sinks|flow] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

from vulnsight.bench.records import parse_record, snippet_path, snippet_text
from vulnsight.dataflow import analyse, has_spec
from vulnsight.detectors.gate import Gate
from vulnsight.llm.models import language_thresholds
from vulnsight.parse import extract
from vulnsight.parse.callgraph import CallGraph
from vulnsight.types import SourceFile

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results" / "default-v1"
MANIFEST = ROOT / "src" / "vulnsight" / "models" / "default" / "vulnsight-model.json"
DATASETS = Path("/work/shared/datasets")


def load_codes(ids: set[str] | None, datasets: Path) -> dict[str, Any]:
    """The shared-dataset records with these ids, or all (semgrep_rules_tests never)."""
    found: dict[str, Any] = {}
    for path in sorted(datasets.glob("*.jsonl")):
        if path.stem == "semgrep_rules_tests":
            continue
        for line in path.read_text("utf-8").splitlines():
            if line.strip():
                obj = json.loads(line)
                if ids is None or obj["id"] in ids:
                    found[obj["id"]] = parse_record(obj)
    return found


MODE = "safe"


def gated_functions(rec: Any, rule_lines: set[int] | None = None) -> list[tuple[Any, Any]]:
    """(function, the gate's decision) for a record's functions, the record as one file."""
    source = SourceFile(snippet_path(rec), rec.language, snippet_text(rec))
    functions = extract(source)
    graph = CallGraph.build(functions)
    # the data-flow facts the scan's gate reads (functions they touch are always judged)
    facts = analyse([source], functions, graph).facts if has_spec(rec.language) else {}
    gate = Gate(graph, mode=MODE, facts=facts)
    return [(fn, gate.decide(fn, rule_lines or set())) for fn in functions]


def gate_record(rec: Any, rule_lines: set[int] | None = None) -> list[Any]:
    """The gate's decisions on a record's functions, the record written as one file."""
    return [d for _, d in gated_functions(rec, rule_lines)]


def flaw_in_skipped(rec: Any, gated: list[tuple[Any, Any]]) -> bool:
    """Whether a labelled vulnerable line of `rec` lies inside a function the gate
    skipped (False when no line is labelled or every labelled line lies outside every
    extracted function: cut fragments, where the model never sees the flaw anyway)."""
    lines = set(rec.lines)  # snippet_text never moves a line
    return any(
        not d.judge and any(fn.start_line <= n <= fn.end_line for n in lines) for fn, d in gated
    )


def model_sample(
    datasets: Path, languages: set[str], exclude: set[str], n: int, seed: int = 0
) -> dict[str, Any]:
    """Run the shipped model (no gate) on `n` random vulnerable records outside the test
    split: of those it flags, how many the gate would skip entirely (lost TPs)."""
    import random
    import tempfile

    from vulnsight.bench.records import write_batch
    from vulnsight.detectors import effective_thresholds
    from vulnsight.detectors.interface import ScanBatch
    from vulnsight.detectors.llm import LLMDetector, LLMOptions
    from vulnsight.discover import discover
    from vulnsight.llm.models import load
    from vulnsight.pipeline import parse_files

    pool = sorted(
        (
            r
            for r in load_codes(None, datasets).values()
            if r.label == 1 and r.language in languages and r.id not in exclude
        ),
        key=lambda r: r.id,
    )
    sample = random.Random(seed).sample(pool, min(n, len(pool)))
    backend = load("default")
    threshold, by_language = effective_thresholds(None, backend)
    det = LLMDetector(backend, LLMOptions(threshold=threshold, by_language=by_language))
    out: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    try:
        for i in range(0, len(sample), 16):
            chunk = sample[i : i + 16]
            with tempfile.TemporaryDirectory() as tmp:
                paths = write_batch(chunk, Path(tmp))
                found = discover([Path(tmp)])
                functions, _ = parse_files(found.files)
                graph = CallGraph.build(functions)
                batch = ScanBatch(found.root, found.files, tuple(functions), graph)
                result = det.detect_all(batch)
            facts = analyse(found.files, functions, graph).facts
            gate = Gate(graph, mode=MODE, facts=facts)
            for rec in chunk:
                fns = [f for f in functions if f.file == paths[rec.id]]
                t = by_language.get(rec.language, threshold)
                p = max((result.scores.get(f.qualified_id, 0.0) for f in fns), default=0.0)
                row = out[rec.language]
                row["sampled"] += 1
                if fns and p >= t:
                    row["model_tp"] += 1
                    judged = [gate.decide(f).judge for f in fns]
                    row["tp_lost"] += not any(judged)
                    row["tp_partial"] += any(judged) and not all(judged)
    finally:
        backend.close()
    return {k: dict(v) for k, v in sorted(out.items())}


def broad_check(datasets: Path, languages: set[str], exclude: set[str]) -> dict[str, Any]:
    """Per source and language: vulnerable records, and those the gate skips entirely."""
    out: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for rec in load_codes(None, datasets).values():
        if rec.label != 1 or rec.language not in languages or rec.id in exclude:
            continue
        key = f"{rec.source}/{rec.language}"
        try:
            gated = gated_functions(rec)
        except Exception:  # noqa: BLE001  a parser failure: the scan reports it, no gate
            out[key]["parse_errors"] += 1
            continue
        if not gated:
            continue  # no function: the model is never asked, with or without the gate
        out[key]["vulnerable"] += 1
        entirely = not any(d.judge for _, d in gated)
        out[key]["skipped_entirely"] += entirely
        out[key]["skipped_entirely_flaw_inside"] += entirely and flaw_in_skipped(rec, gated)
    return {k: dict(v) for k, v in sorted(out.items())}


def youden(pairs: list[tuple[int, int]]) -> float:
    """Youden's J of (label, flag) pairs."""
    pos = [f for y, f in pairs if y == 1]
    neg = [f for y, f in pairs if y == 0]
    if not pos or not neg:
        return float("nan")
    return sum(pos) / len(pos) - sum(neg) / len(neg)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--predictions", type=Path, default=RESULTS / "predictions-test.jsonl.gz")
    ap.add_argument("--llm", default="llm[default]")
    ap.add_argument("--manifest", type=Path, default=MANIFEST)
    ap.add_argument("--datasets", type=Path, default=DATASETS)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/gate_recall.json")
    ap.add_argument("--mode", default="safe", help="the gate's mode: safe, sinks or flow")
    ap.add_argument(
        "--model-sample", type=int, default=0, help="also run the model on N vulnerable records"
    )
    args = ap.parse_args()
    global MODE
    MODE = args.mode
    meta = json.loads(args.manifest.read_text("utf-8"))
    default = float(meta.get("threshold", 0.5))
    by_lang = language_thresholds(meta.get("thresholds") or {}, args.manifest)
    preds: dict[str, dict[str, Any]] = defaultdict(dict)
    with gzip.open(args.predictions, "rt", encoding="utf-8") as fh:
        for line in fh:
            p = json.loads(line)
            if p["perturbation"] == "none":
                preds[p["detector"]][p["record_id"]] = p
    records = load_codes(set(preds[args.llm]), args.datasets)
    rows: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    pairs: dict[str, dict[str, list[tuple[int, int]]]] = defaultdict(lambda: defaultdict(list))
    reasons: dict[str, int] = defaultdict(int)
    lost_ids: list[str] = []
    for rid, model in sorted(preds[args.llm].items()):
        rec = records.get(rid)
        if rec is None or model.get("error"):
            continue
        lang = rec.language
        t = by_lang.get(lang, default)
        if not math.isfinite(t):
            continue  # the model is off there: nothing to gate
        rule = preds["rules"].get(rid, {})
        decisions = gate_record(rec, set(rule.get("lines") or []))
        for d in decisions:
            reasons[f"{'judged' if d.judge else 'skipped'}:{d.reason}"] += 1
        judged = sum(d.judge for d in decisions)
        row = rows[lang]
        row["records"] += 1
        row["functions"] += len(decisions)
        row["functions_skipped"] += len(decisions) - judged
        flag = int(model["score"] >= t)
        all_skipped = judged == 0
        partial = 0 < judged < len(decisions)
        worst = 0 if (all_skipped or partial) else flag
        best = 0 if all_skipped else flag
        rf = int(bool(rule.get("predicted")))
        for key, f in (("model", flag), ("model_gated_worst", worst), ("model_gated_best", best)):
            pairs[key][lang].append((rec.label, f))
            pairs[key]["all"].append((rec.label, f))
        for key, f in (("hybrid", flag | rf), ("hybrid_gated_worst", worst | rf)):
            pairs[key][lang].append((rec.label, f))
            pairs[key]["all"].append((rec.label, f))
        if rec.label == 1 and flag:
            row["model_tp"] += 1
            row["tp_lost"] += all_skipped
            row["tp_partial"] += partial
            if all_skipped or partial:
                lost_ids.append(rid)
        if rec.label == 0 and flag:
            row["model_fp"] += 1
            row["fp_removed"] += all_skipped
    langs = sorted(rows)
    total = {k: sum(rows[lang][k] for lang in langs) for k in rows[langs[0]]} if langs else {}
    print(
        "| language | records | functions | skipped by gate | model TPs | TPs lost "
        "| TPs partly gated | model FPs | FPs removed |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|")
    for lang, row in [*((lang, rows[lang]) for lang in langs), ("all", total)]:
        print(
            f"| {lang} | {row['records']} | {row['functions']} | {row['functions_skipped']} "
            f"| {row['model_tp']} | {row['tp_lost']} | {row['tp_partial']} | {row['model_fp']} "
            f"| {row['fp_removed']} |"
        )
    print("\n| Youden's J | " + " | ".join([*langs, "all"]) + " |")
    print("|---|" + "---:|" * (len(langs) + 1))
    js: dict[str, dict[str, float]] = {}
    for key in ("model", "model_gated_worst", "model_gated_best", "hybrid", "hybrid_gated_worst"):
        js[key] = {lang: round(youden(pairs[key][lang]), 4) for lang in [*langs, "all"]}
        print(f"| {key} | " + " | ".join(f"{js[key][lang]:.3f}" for lang in [*langs, "all"]) + " |")
    print("\ndecisions:", dict(sorted(reasons.items())))
    on = {
        lang
        for lang in ("c", "cpp", "javascript", "typescript")
        if math.isfinite(by_lang.get(lang, default))
    }
    broad = broad_check(args.datasets, on, set(preds[args.llm]))
    print(
        "\n| source/language (not in the test split) | vulnerable | skipped entirely | share "
        "| flaw line inside a skipped function | share |"
    )
    print("|---|---:|---:|---:|---:|---:|")
    for key, row in [
        *broad.items(),
        (
            "all",
            {
                "vulnerable": sum(r["vulnerable"] for r in broad.values()),
                "skipped_entirely": sum(r["skipped_entirely"] for r in broad.values()),
                "skipped_entirely_flaw_inside": sum(
                    r.get("skipped_entirely_flaw_inside", 0) for r in broad.values()
                ),
            },
        ),
    ]:
        n = max(1, row["vulnerable"])
        inside = row.get("skipped_entirely_flaw_inside", 0)
        print(
            f"| {key} | {row['vulnerable']} | {row['skipped_entirely']} "
            f"| {row['skipped_entirely'] / n:.1%} | {inside} | {inside / n:.1%} |"
        )
    sampled: dict[str, Any] = {}
    if args.model_sample:
        sampled = model_sample(args.datasets, on, set(preds[args.llm]), args.model_sample)
        print(
            "\n| language (model run, sample outside the test split) | sampled | model TPs "
            "| TPs lost | TPs partly gated |"
        )
        print("|---|---:|---:|---:|---:|")
        for lang, row in sampled.items():
            print(
                f"| {lang} | {row.get('sampled', 0)} | {row.get('model_tp', 0)} "
                f"| {row.get('tp_lost', 0)} | {row.get('tp_partial', 0)} |"
            )
    args.out.write_text(
        json.dumps(
            {
                "predictions": str(args.predictions.relative_to(ROOT)),
                "mode": args.mode,
                "detector": args.llm,
                "by_language": {lang: dict(rows[lang]) for lang in langs},
                "total": total,
                "youden_j": js,
                "decisions": dict(sorted(reasons.items())),
                "tp_lost_or_partial": lost_ids,
                "vulnerable_skipped_entirely_outside_test": broad,
                "model_sample": sampled,
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
