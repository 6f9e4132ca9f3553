"""Scan speed on the committed sample project, with the embedded model and the rule pack.

Each repetition runs `vulnsight scan` in a fresh process (so peak memory is that scan's
own) and reads the timings it reports. Prints a Markdown table and writes the raw runs
to benchmarks/results/scan_speed.json.

    python benchmarks/scan_speed.py [--repeat 3] [--path examples/mixed]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def one_run(path: Path, detectors: str) -> dict[str, float]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.json"
        start = time.perf_counter()
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "vulnsight.cli",
                "scan",
                str(path),
                "--format",
                "json",
                "-o",
                str(out),
                "--detectors",
                detectors,
                "--no-progress",
                "--no-cache",
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        wall = time.perf_counter() - start
        if proc.returncode not in (0, 1):
            raise SystemExit(f"scan failed ({proc.returncode}): {proc.stderr[-2000:]}")
        stats = json.loads(out.read_text())["stats"]
    stats["wall_seconds"] = round(wall, 3)
    return stats


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--path", type=Path, default=ROOT / "examples" / "mixed")
    args = ap.parse_args()
    runs = {
        d: [one_run(args.path, d) for _ in range(args.repeat)]
        for d in ("rules,llm", "rules", "llm")
    }

    def med(d: str, key: str) -> float:
        return round(statistics.median(float(r[key]) for r in runs[d]), 1)

    h = runs["rules,llm"][0]
    cpu = platform.processor() or platform.machine()
    lines = [
        f"Sample: `{args.path.relative_to(ROOT)}` ({h['files_scanned']} files, "
        f"{h['functions']} functions); {args.repeat} runs each, medians; "
        f"{os.cpu_count()} CPUs, {cpu}, Python {platform.python_version()}.",
        "",
        "| detectors | end-to-end s (process) | scan s (in-process) | functions/s "
        "| model ms/function median | model ms/function p95 | peak RSS MB |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for d in runs:
        llm = "llm" in d
        lines.append(
            f"| {d} | {med(d, 'wall_seconds')} | {med(d, 'seconds')} "
            f"| {med(d, 'functions_per_second')} "
            f"| {med(d, 'llm_ms_median') if llm else '-'} | {med(d, 'llm_ms_p95') if llm else '-'} "
            f"| {med(d, 'peak_rss_mb')} |"
        )
    print("\n".join(lines))
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    (out / "scan_speed.json").write_text(
        json.dumps(
            {
                "args": {"repeat": args.repeat, "path": str(args.path.relative_to(ROOT))},
                "runs": runs,
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
