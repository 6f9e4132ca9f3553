"""Prompt tokens the model would evaluate on a tree, counted with the model's tokenizer.

No prompt is evaluated: contexts are built as a scan builds them and tokenized, so the
figure does not depend on the machine's load. Run it with PYTHONPATH pointing at any
checkout (e.g. the main branch for "before"); with `--gate` the gate of this checkout
selects the functions first.

    python benchmarks/tree_tokens.py [TREE] [--gate safe|lean|sinks|flow|off] [--number-every N]
        [--facts-in-prompt]
    python benchmarks/tree_tokens.py [TREE] --table [--json OUT]

Where this checkout has data-flow facts, the gate reads them (a function they touch is
always judged) and `--facts-in-prompt` counts the prompts with the facts block.

`--table` (this checkout only) counts every configuration of the token levers at once
(`tree_levers.py`: gate mode, callers, in-scan duplicates judged once, windows over long
functions) and prints a Markdown table with the seconds projected at a given rate.
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
    ap.add_argument("--facts-in-prompt", action="store_true")
    ap.add_argument("--table", action="store_true", help="every lever configuration")
    ap.add_argument("--json", type=Path, help="with --table: write the rows here")
    ap.add_argument("--rate", type=float, default=280.0, help="tokens/s for projections")
    args = ap.parse_args()
    if args.table:
        from tree_levers import table

        table(args.tree, args.rate, args.json)
        return
    backend = load("default")
    found = discover([args.tree])
    functions, _ = parse_files(found.files)
    graph = CallGraph.build(functions)
    on = {k for k, v in backend.language_thresholds.items() if math.isfinite(v)}
    facts: dict[str, object] = {}
    if "facts" in inspect.signature(build_context).parameters:
        from vulnsight.dataflow import analyse

        facts = dict(analyse(found.files, functions, graph).facts)
        touched = [f for f in facts.values() if not getattr(f, "empty", True)]
        print(f"functions data-flow facts touch: {len(touched)} of {len(functions)}")
    gate = None
    if args.gate:
        from vulnsight.detectors.gate import Gate

        kwargs = {"facts": facts} if "facts" in inspect.signature(Gate).parameters else {}
        gate = Gate(graph, mode=args.gate, **kwargs)  # type: ignore[arg-type]
    extra: dict[str, object] = {}
    if "number_every" in inspect.signature(build_context).parameters:
        extra["number_every"] = args.number_every
    tokens: list[int] = []
    by_language: dict[str, int] = {}
    for fn in functions:
        if fn.language not in on or (gate is not None and not gate.decide(fn).judge):
            continue
        if facts:
            extra["facts"] = facts.get(fn.qualified_id)
            extra["show_facts"] = args.facts_in_prompt
        context = build_context(fn, graph, count_tokens=backend.count_tokens, **extra)  # type: ignore[arg-type]
        shown = {"facts": context.facts_text} if getattr(context, "facts_text", "") else {}
        n = backend.count_tokens(render(context.text, fn.language, **shown).body)
        tokens.append(n)
        by_language[fn.language] = by_language.get(fn.language, 0) + n
    tokens.sort()
    if not tokens:
        print("functions 0, prompt tokens 0")
        backend.close()
        return
    print(
        f"functions {len(tokens)}, prompt tokens {sum(tokens)} "
        f"(median {statistics.median(tokens)}, "
        f"p90 {tokens[int(0.9 * len(tokens))]}, max {tokens[-1]}), by language "
        + ", ".join(f"{k} {v}" for k, v in sorted(by_language.items()))
    )
    backend.close()


if __name__ == "__main__":
    main()
