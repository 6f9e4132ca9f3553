"""Windows over long functions: how often the labelled flaw line falls outside them.

For every vulnerable record of the shared datasets in the languages where the shipped
model is on (semgrep_rules_tests excluded), the record is re-parsed as a scan would
see it (`gate_recall.gated_functions`: one file, data-flow facts), and each function
holding a labelled line (`lines`) is windowed as `build_context(window_over=N)` would
window it, with the gate's risky lines (`Gate.risky_lines`) as focus. Rule hits are
left out of the focus (no rule run here), so the misses counted are an upper bound: in a
scan a rule hit inside the function adds a window around it. Token counts use the
shipped model's tokenizer.

    python benchmarks/window_recall.py [--over 256 512 1024] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import json
import math
from collections import defaultdict
from pathlib import Path
from typing import Any

import gate_recall
from gate_recall import DATASETS, ROOT, load_codes

from vulnsight.bench.records import snippet_path, snippet_text
from vulnsight.context import build_context
from vulnsight.dataflow import analyse, has_spec
from vulnsight.detectors.gate import Gate
from vulnsight.llm.models import load
from vulnsight.parse import extract
from vulnsight.parse.callgraph import CallGraph
from vulnsight.types import SourceFile


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--over", type=int, nargs="+", default=[256, 512, 1024])
    ap.add_argument("--datasets", type=Path, default=DATASETS)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/window_recall.json")
    args = ap.parse_args()
    backend = load("default")
    on = {k for k, v in backend.language_thresholds.items() if math.isfinite(v)}
    rows: dict[int, dict[str, dict[str, int]]] = {
        n: defaultdict(lambda: defaultdict(int)) for n in args.over
    }
    examples: dict[int, list[str]] = defaultdict(list)
    try:
        for rec in load_codes(None, args.datasets).values():
            if rec.label != 1 or rec.language not in on or not rec.lines:
                continue
            key = f"{rec.source}/{rec.language}"
            source = SourceFile(snippet_path(rec), rec.language, snippet_text(rec))
            try:
                functions = extract(source)
            except Exception:  # noqa: BLE001  a parser failure: no model call either way
                continue
            graph = CallGraph.build(functions)
            facts = analyse([source], functions, graph).facts if has_spec(rec.language) else {}
            gate = Gate(graph, mode="safe", facts=facts)
            flawed = [
                fn for fn in functions if any(fn.start_line <= n <= fn.end_line for n in rec.lines)
            ]
            for n in args.over:
                row = rows[n][key]
                row["records"] += 1
                windowed = outside_all = outside_some = 0
                for fn in flawed:
                    ctx = build_context(
                        fn,
                        graph,
                        count_tokens=backend.count_tokens,
                        max_callers=0,
                        focus=gate.risky_lines(fn),
                        window_over=n,
                    )
                    if not ctx.windowed:
                        continue
                    shown = set(ctx.line_map)
                    inside = [x for x in rec.lines if fn.start_line <= x <= fn.end_line]
                    kept = [x for x in inside if x in shown]
                    windowed += 1
                    outside_all += not kept
                    outside_some += len(kept) < len(inside)
                row["flawed_function_windowed"] += windowed > 0
                row["every_flaw_line_outside"] += outside_all > 0
                row["some_flaw_line_outside"] += outside_some > 0
                if outside_all and len(examples[n]) < 12:
                    examples[n].append(rec.id)
    finally:
        backend.close()
    out: dict[str, Any] = {"over": {}}
    for n in args.over:
        print(f"\nwindows over {n} tokens (focus: risky calls and constructs, data flow)")
        print(
            "| source/language | vulnerable records with lines | flawed function windowed "
            "| every flaw line outside the windows | share | some flaw line outside |"
        )
        print("|---|---:|---:|---:|---:|---:|")
        total: dict[str, int] = defaultdict(int)
        for row in rows[n].values():
            for k, v in row.items():
                total[k] += v
        for key, row in [*sorted(rows[n].items()), ("all", total)]:
            share = row["every_flaw_line_outside"] / max(1, row["records"])
            print(
                f"| {key} | {row['records']} | {row['flawed_function_windowed']} "
                f"| {row['every_flaw_line_outside']} | {share:.1%} "
                f"| {row['some_flaw_line_outside']} |"
            )
        out["over"][str(n)] = {
            "rows": {k: dict(v) for k, v in sorted(rows[n].items())},
            "total": dict(total),
            "examples_every_line_outside": examples[n],
        }
    args.out.write_text(json.dumps(out, indent=2) + "\n")
    _ = gate_recall  # the record loading and parsing follow gate_recall.py


if __name__ == "__main__":
    main()
