"""CPU time the blind-class checks add to a scan, beside the taint engine, on the
10,000-line speed tree of `rescan.py` (process CPU time, so other jobs on a shared
machine do not inflate it; median of 5).

    PYTHONPATH=src python benchmarks/blind_cost.py [--lines 10000]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from rescan import generate  # noqa: E402

from vulnsight.dataflow import analyse  # noqa: E402
from vulnsight.dataflow.blind import run_checks  # noqa: E402
from vulnsight.discover import discover  # noqa: E402
from vulnsight.parse.callgraph import CallGraph  # noqa: E402
from vulnsight.pipeline import parse_files  # noqa: E402


def main() -> None:
    """Generate the tree, time taint and the checks, print one line."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=10_000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "repo"
        lines = generate(repo, args.lines)
        found = discover([repo])
        functions, _ = parse_files(found.files)
        graph = CallGraph.build(functions)
        taint, checks = [], []
        for _ in range(5):
            t = time.process_time()
            analyse(found.files, functions, graph)
            taint.append(time.process_time() - t)
            t = time.process_time()
            run_checks(found.files, functions)
            checks.append(time.process_time() - t)
    print(
        f"tree {lines} lines, {len(found.files)} files; CPU s (median of 5): taint "
        f"{statistics.median(taint):.3f}, blind checks {statistics.median(checks):.3f}"
    )


if __name__ == "__main__":
    main()
