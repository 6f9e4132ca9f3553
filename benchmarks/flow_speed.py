"""Scan speed with and without the data-flow detector on the 10,000-line speed tree.

The tree is `rescan.py`'s deterministic repository (Python, JavaScript and C modules of
small realistic functions). Each run is `vulnsight scan TREE --detectors D` in a fresh
process; prints medians as a Markdown table and writes the raw runs to
benchmarks/results/flow_speed.json.

    PYTHONPATH=src python benchmarks/flow_speed.py [--lines 10000] [--repeat 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from rescan import generate, scan  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
DETECTORS = ("rules", "rules,flow", "flow")


def main() -> None:
    """Generate the tree, time each detector set, report medians."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--lines", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    runs: dict[str, list[dict[str, object]]] = {d: [] for d in DETECTORS}
    with tempfile.TemporaryDirectory() as tmp:
        repo = Path(tmp) / "repo"
        lines = generate(repo, args.lines)
        for _ in range(args.repeat):
            for d in DETECTORS:  # interleaved, so load changes hit every set alike
                wall, stats = scan(repo, "--detectors", d, "--no-cache")
                runs[d].append({"wall_seconds": wall, **stats})
    load = os.getloadavg()
    print(
        f"Tree: {lines} lines, {runs['rules'][0]['files_scanned']} files, "
        f"{runs['rules'][0]['functions']} functions; {args.repeat} runs each, medians; "
        f"{os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"load average at the end {load[0]:.1f}.\n"
    )
    print("| detectors | end-to-end s (process) | scan s (in-process) | findings |")
    print("|---|---:|---:|---:|")
    for d, rs in runs.items():
        wall = statistics.median(float(str(r["wall_seconds"])) for r in rs)
        inproc = statistics.median(float(str(r["seconds"])) for r in rs)
        print(f"| {d} | {wall:.2f} | {inproc:.2f} | {rs[0]['findings']} |")
    out = ROOT / "benchmarks" / "results" / "flow_speed.json"
    out.parent.mkdir(exist_ok=True)
    config = {"lines": lines, "repeat": args.repeat, "cpus": os.cpu_count(), "load": load}
    out.write_text(json.dumps({"config": config, "runs": runs}, indent=1) + "\n")


if __name__ == "__main__":
    main()
