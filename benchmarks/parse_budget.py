"""Cost of parsing hostile, dense files: seconds and peak memory per file, before/after
the parse budget (issue 11, point 7).

Each case is one generated 1 MB file, parsed by `vulnsight.pipeline.parse_files` in a
fresh subprocess (so peak RSS is that file's alone), once per source tree given:

    python benchmarks/parse_budget.py --tree after=src --tree before=/tmp/main-src \\
        --out benchmarks/results/parse_budget.json

`before` is a checkout of main's `src/` (e.g. `git archive a3c15fd src | tar -x -C DIR`).
Timings on a shared machine are noisy: each case runs `--repeat` times; medians are kept.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

CASES: dict[str, tuple[str, str]] = {
    "python: 1 MB list on one line": ("gen.py", "x = [" + "1," * 499_990 + "1]\n"),
    "javascript: 1 MB of calls on one line": ("gen.js", "var a = " + "f(a)+" * 199_990 + "1;\n"),
    "c: 1 MB initialiser on one line": ("gen.c", "int a[] = {" + "1," * 499_990 + "1};\n"),
    "python: 1 MB nested brackets": ("nest.py", "x = " + "[" * 250_000 + "]" * 250_000 + "\n"),
    "python: 1 MB of short dense lines": ("table.py", ("x = [" + "1," * 490 + "1]\n") * 1000),
}

CHILD = """
import json, resource, sys, time
from vulnsight.pipeline import parse_files
from vulnsight.types import SourceFile
path, language = sys.argv[1], sys.argv[2]
src = SourceFile(path.rsplit('/', 1)[-1], language, open(path, encoding='utf-8').read())
t = time.perf_counter()
functions, errors = parse_files([src])
print(json.dumps({
    "seconds": round(time.perf_counter() - t, 2),
    "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024,
    "functions": len(functions),
    "errors": [e.reason for e in errors],
}))
"""
LANGUAGE = {".py": "python", ".js": "javascript", ".c": "c"}


def run_case(src_dir: str, path: Path, timeout: float) -> dict[str, object]:
    env = {**os.environ, "PYTHONPATH": src_dir}
    try:
        proc = subprocess.run(
            [sys.executable, "-c", CHILD, str(path), LANGUAGE[path.suffix]],
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
        )
    except subprocess.TimeoutExpired:
        return {"seconds": None, "timed_out_after_s": timeout}
    result: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tree", action="append", required=True, help="NAME=SRC_DIR")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--timeout", type=float, default=300.0)
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    trees = dict(t.split("=", 1) for t in args.tree)
    results: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for case, (name, text) in CASES.items():
            path = Path(tmp) / name
            path.write_text(text, encoding="utf-8")
            results[case] = {"bytes": len(text.encode())}
            for tree, src_dir in trees.items():
                runs = [run_case(src_dir, path, args.timeout) for _ in range(args.repeat)]
                seconds = [r["seconds"] for r in runs if isinstance(r.get("seconds"), float)]
                rss = [r["peak_rss_mb"] for r in runs if isinstance(r.get("peak_rss_mb"), int)]
                results[case][tree] = {
                    "median_seconds": statistics.median(seconds) if seconds else None,
                    "median_peak_rss_mb": statistics.median(rss) if rss else None,
                    "functions": runs[-1].get("functions"),
                    "errors": runs[-1].get("errors"),
                    "runs": len(runs),
                }
                print(case, tree, results[case][tree], flush=True)
    doc = {
        "config": {"repeat": args.repeat, "trees": trees, "python": sys.version.split()[0]},
        "note": "2-core machine shared with other jobs: timings are noisy (medians)",
        "results": results,
    }
    text = json.dumps(doc, indent=2) + "\n"
    if args.out:
        args.out.write_text(text)
    else:
        print(text)


if __name__ == "__main__":
    main()
