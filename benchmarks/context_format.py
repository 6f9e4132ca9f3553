"""Does a cheaper context format change the shipped model's verdicts? J, line hits, tokens.

Runs the shipped default model (LLMDetector, as a scan runs it) over the labelled
records of its held-out test split that are in the shared datasets (ids from the saved
predictions, benchmarks/results/default-v1/predictions-test.jsonl.gz), in the languages
where the model is on, once per context format:

* `every`: every target line carries its file line number (what the model was trained on);
* `every-N`: only every N-th line does (saves the 3-5 tokens of the others).

Records are written as files in chunks of 16 as `vulnsight eval` does, so callers across
records are resolved the same way. A record's score is the highest P(vulnerable) of its
functions; it is flagged at the model's calibrated threshold of its language. Prints
Youden's J per language, the share of flagged vulnerable records whose reported line is
a labelled line, context tokens and model seconds, and writes the JSON beside.

    python benchmarks/context_format.py [--formats 1 5] [--per-language 0] [--gate off]
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from gate_recall import DATASETS, RESULTS, load_codes  # type: ignore[import-not-found]

from vulnsight.bench.records import write_batch
from vulnsight.detectors import effective_thresholds
from vulnsight.detectors.interface import ScanBatch
from vulnsight.detectors.llm import LLMDetector, LLMOptions
from vulnsight.discover import discover
from vulnsight.llm.models import load
from vulnsight.parse.callgraph import CallGraph
from vulnsight.pipeline import parse_files

ROOT = Path(__file__).resolve().parents[1]
CHUNK = 16


def test_ids(predictions: Path) -> set[str]:
    import gzip

    with gzip.open(predictions, "rt", encoding="utf-8") as fh:
        return {json.loads(line)["record_id"] for line in fh}


def run_format(records: list[Any], backend: Any, every: int, gate: str) -> dict[str, Any]:
    threshold, by_language = effective_thresholds(None, backend)
    options = LLMOptions(
        threshold=threshold, by_language=by_language, gate=gate, number_every=every
    )
    det = LLMDetector(backend, options)
    scores: dict[str, float] = {}
    lines: dict[str, set[int]] = defaultdict(set)
    tokens = 0
    started = time.perf_counter()
    for i in range(0, len(records), CHUNK):
        chunk = records[i : i + CHUNK]
        with tempfile.TemporaryDirectory() as tmp:
            paths = write_batch(chunk, Path(tmp))
            found = discover([Path(tmp)])
            functions, _ = parse_files(found.files)
            batch = ScanBatch(found.root, found.files, tuple(functions), CallGraph.build(functions))
            result = det.detect_all(batch)
        tokens += int(result.stats.get("model_tokens", 0))
        by_path = {path: rid for rid, path in paths.items()}
        for fn in functions:
            p = result.scores.get(fn.qualified_id)
            rid = by_path.get(fn.file)
            if p is not None and rid is not None:
                scores[rid] = max(p, scores.get(rid, 0.0))
        for f in result.findings:
            rid = by_path.get(f.file)
            if rid is not None:
                lines[rid].add(f.line_number)
    seconds = time.perf_counter() - started
    pairs: dict[str, list[tuple[int, int]]] = defaultdict(list)
    hits = flagged_vuln = 0
    for r in records:
        t = by_language.get(r.language, threshold)
        flag = int(scores.get(r.id, 0.0) >= t)
        pairs[r.language].append((r.label, flag))
        pairs["all"].append((r.label, flag))
        if flag and r.label == 1 and r.lines:
            flagged_vuln += 1
            hits += bool(lines[r.id] & set(r.lines))
    js = {}
    for lang, ps in sorted(pairs.items()):
        pos = [f for y, f in ps if y == 1]
        neg = [f for y, f in ps if y == 0]
        j = sum(pos) / len(pos) - sum(neg) / len(neg) if pos and neg else math.nan
        js[lang] = {"n": len(ps), "tp": sum(pos), "fp": sum(neg), "youden_j": round(j, 4)}
    return {
        "number_every": every,
        "gate": gate,
        "seconds": round(seconds, 1),
        "tokens": tokens,
        "line_hit": round(hits / flagged_vuln, 4) if flagged_vuln else None,
        "line_n": flagged_vuln,
        "by_language": js,
        "scores": scores,
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--formats", type=int, nargs="+", default=[1, 5])
    ap.add_argument("--per-language", type=int, default=0, help="N records per language (0: all)")
    ap.add_argument("--gate", default="off")
    ap.add_argument("--model", default="default")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/context_format.json")
    args = ap.parse_args()
    backend = load(args.model)
    on = {
        lang
        for lang, t in (getattr(backend, "language_thresholds", None) or {}).items()
        if math.isfinite(t)
    }
    ids = test_ids(RESULTS / "predictions-test.jsonl.gz")
    records = sorted(
        (r for r in load_codes(ids, DATASETS).values() if r.language in on), key=lambda r: r.id
    )
    if args.per_language:  # a stable mix of sources and labels: records in hash order
        import hashlib

        def key(r: Any) -> str:
            return hashlib.sha256(r.id.encode()).hexdigest()

        by_lang: dict[str, list[Any]] = defaultdict(list)
        for r in sorted(records, key=key):
            by_lang[r.language].append(r)
        records = [r for rs in by_lang.values() for r in rs[: args.per_language]]
    runs = [run_format(records, backend, every, args.gate) for every in args.formats]
    print(f"{len(records)} records ({', '.join(sorted(on))}), model {backend.name}\n")
    langs = sorted(runs[0]["by_language"])
    print("| format | " + " | ".join(f"J {lang}" for lang in langs) + " | line hit | tokens | s |")
    print("|---|" + "---:|" * (len(langs) + 3))
    for run in runs:
        cells = [f"{run['by_language'][lang]['youden_j']:.3f}" for lang in langs]
        print(
            f"| every {run['number_every']} | "
            + " | ".join(cells)
            + f" | {run['line_hit']} ({run['line_n']}) | {run['tokens']} | {run['seconds']} |"
        )
    base = runs[0]["scores"]
    for run in runs[1:]:
        diffs = [abs(run["scores"].get(k, 0.0) - v) for k, v in base.items()]
        if diffs:
            print(
                f"every {run['number_every']}: mean |dP| {sum(diffs) / len(diffs):.4f}, "
                f"max {max(diffs):.4f}"
            )
    args.out.write_text(
        json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "runs": runs}, indent=1)
        + "\n"
    )
    backend.close()


if __name__ == "__main__":
    main()
