"""Which labelled functions the caller policy changes, and what the model says both ways.

The shipped model's held-out test split (`default-v1/predictions-test.jsonl.gz`) is
re-parsed as a scan sees it (each record one file, data-flow facts); for every function
in a language where the model is on, the context is built with callers `all` (today's
default) and with each other policy (`facts`, `none`, `alone`: `context.callers_for`),
and the functions whose prompt text differs are counted. With `--model`, the shipped
model scores each such function under `all` and under `--policy` (one process; set
`VULNSIGHT_THREADS` to share the machine), and the flags at its per-language threshold
are compared.

    python benchmarks/callers_effect.py [--model] [--policy alone] [--out FILE.json]
"""

from __future__ import annotations

import argparse
import gzip
import json
import math
from collections import Counter
from pathlib import Path
from typing import Any

from gate_recall import DATASETS, RESULTS, ROOT, load_codes

from vulnsight.bench.records import snippet_path, snippet_text
from vulnsight.context import CALLER_POLICIES, build_context, callers_for
from vulnsight.dataflow import analyse, has_spec
from vulnsight.llm.models import load
from vulnsight.llm.prompt import render
from vulnsight.parse import extract
from vulnsight.parse.callgraph import CallGraph
from vulnsight.types import SourceFile


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--predictions", type=Path, default=RESULTS / "predictions-test.jsonl.gz")
    ap.add_argument("--datasets", type=Path, default=DATASETS)
    ap.add_argument("--model", action="store_true", help="score the changed functions")
    ap.add_argument("--policy", default="alone", choices=CALLER_POLICIES[1:])
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/callers_effect.json")
    args = ap.parse_args()
    ids: set[str] = set()
    with gzip.open(args.predictions, "rt", encoding="utf-8") as fh:
        for line in fh:
            p = json.loads(line)
            if p["perturbation"] == "none":
                ids.add(p["record_id"])
    records = load_codes(ids, args.datasets)
    backend = load("default")
    on = {k for k, v in backend.language_thresholds.items() if math.isfinite(v)}
    counts: Counter[str] = Counter()
    scored: list[dict[str, Any]] = []
    try:
        for rec in sorted(records.values(), key=lambda r: r.id):
            if rec.language not in on:
                continue
            source = SourceFile(snippet_path(rec), rec.language, snippet_text(rec))
            functions = extract(source)
            graph = CallGraph.build(functions)
            facts = analyse([source], functions, graph).facts if has_spec(rec.language) else {}
            counts["records"] += 1
            for fn in functions:
                counts["functions"] += 1

                texts = {
                    policy: build_context(
                        fn,
                        graph,
                        count_tokens=backend.count_tokens,
                        max_callers=callers_for(policy, 3, facts.get(fn.qualified_id)),
                        callees=policy != "alone",
                    ).text
                    for policy in CALLER_POLICIES
                }
                full = texts["all"]
                for policy in CALLER_POLICIES[1:]:
                    counts[f"changed_{policy}"] += texts[policy] != full
                other = texts[args.policy]
                if not args.model or other == full:
                    continue
                t = backend.language_thresholds[rec.language]
                p_full, p_other = (
                    d.p_vulnerable
                    for d in backend.decide(
                        [render(full, rec.language), render(other, rec.language)]
                    )
                )
                scored.append(
                    {
                        "record": rec.id,
                        "label": rec.label,
                        "function": fn.name,
                        "threshold": t,
                        "p_all": round(p_full, 4),
                        f"p_{args.policy}": round(p_other, 4),
                        "tokens_all": backend.count_tokens(full),
                        f"tokens_{args.policy}": backend.count_tokens(other),
                    }
                )
                print(scored[-1])
    finally:
        backend.close()
    print(dict(counts))
    args.out.write_text(
        json.dumps({"counts": dict(counts), "policy": args.policy, "scored": scored}, indent=2)
        + "\n"
    )


if __name__ == "__main__":
    main()
