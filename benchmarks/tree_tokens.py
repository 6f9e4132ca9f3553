"""Prompt tokens the model would evaluate on a tree, counted with the model's tokenizer.

No prompt is evaluated: contexts are built as a scan builds them and tokenized, so the
figure does not depend on the machine's load. Run it with PYTHONPATH pointing at any
checkout (e.g. the main branch for "before"); with `--gate` the gate of this checkout
selects the functions first.

    python benchmarks/tree_tokens.py [TREE] [--gate safe|sinks|off] [--number-every N]
"""

from __future__ import annotations

import argparse
import inspect
import math
import statistics
from pathlib import Path

from vulnsight.context import build_context
from vulnsight.discover import discover
from vulnsight.llm.models import load
from vulnsight.llm.prompt import render
from vulnsight.parse.callgraph import CallGraph
from vulnsight.pipeline import parse_files

TREE = Path.home() / ".cache/vulnsight/speed-tree/tree"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("tree", type=Path, nargs="?", default=TREE)
    ap.add_argument("--gate", default=None, help="select functions with this gate mode")
    ap.add_argument("--number-every", type=int, default=1)
    args = ap.parse_args()
    backend = load("default")
    found = discover([args.tree])
    functions, _ = parse_files(found.files)
    graph = CallGraph.build(functions)
    on = {k for k, v in backend.language_thresholds.items() if math.isfinite(v)}
    gate = None
    if args.gate:
        from vulnsight.detectors.gate import Gate

        gate = Gate(graph, mode=args.gate)
    extra = {}
    if "number_every" in inspect.signature(build_context).parameters:
        extra["number_every"] = args.number_every
    tokens: list[int] = []
    by_language: dict[str, int] = {}
    for fn in functions:
        if fn.language not in on or (gate is not None and not gate.decide(fn).judge):
            continue
        context = build_context(fn, graph, count_tokens=backend.count_tokens, **extra)
        n = backend.count_tokens(render(context.text, fn.language).body)
        tokens.append(n)
        by_language[fn.language] = by_language.get(fn.language, 0) + n
    tokens.sort()
    print(
        f"functions {len(tokens)}, prompt tokens {sum(tokens)} "
        f"(median {statistics.median(tokens)}, "
        f"p90 {tokens[int(0.9 * len(tokens))]}, max {tokens[-1]}), by language "
        + ", ".join(f"{k} {v}" for k, v in sorted(by_language.items()))
    )
    backend.close()


if __name__ == "__main__":
    main()
