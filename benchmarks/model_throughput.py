"""Prompt-evaluation throughput of the shipped model on this machine, now.

Times `decide` (one prompt evaluation per function, the scan's model cost) over the
contexts of the first functions of the speed tree until `--tokens` prompt tokens are
evaluated, and prints tokens per wall second and per CPU second. Scan times projected
from exact token counts (benchmarks/tree_tokens.py) use this rate.

    VULNSIGHT_THREADS=1 python benchmarks/model_throughput.py [TREE] [--tokens 4000]
"""

from __future__ import annotations

import argparse
import math
import os
import time
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
    ap.add_argument("--tokens", type=int, default=4000)
    args = ap.parse_args()
    backend = load("default")
    found = discover([args.tree])
    functions, _ = parse_files(found.files)
    graph = CallGraph.build(functions)
    on = {k for k, v in backend.language_thresholds.items() if math.isfinite(v)}
    backend.decide([render("int f(void) { return 0; }", "c")])  # the shared prefix, once
    done = 0
    wall = cpu = 0.0
    for fn in functions:
        if fn.language not in on:
            continue
        context = build_context(fn, graph, count_tokens=backend.count_tokens)
        prompt = render(context.text, fn.language)
        n = backend.count_tokens(prompt.body)
        t0, c0 = time.perf_counter(), time.process_time()
        backend.decide([prompt])
        wall += time.perf_counter() - t0
        cpu += time.process_time() - c0
        done += n
        if done >= args.tokens:
            break
    threads = os.environ.get("VULNSIGHT_THREADS") or str(os.cpu_count())
    print(
        f"threads {threads}: {done} prompt tokens in {wall:.1f} s wall ({done / wall:.0f} tok/s), "
        f"{cpu:.1f} s CPU ({done / cpu:.0f} tok/CPU-s); load average {os.getloadavg()[0]:.1f}"
    )
    backend.close()


if __name__ == "__main__":
    main()
