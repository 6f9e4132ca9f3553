"""Prompt evaluation speed of llama.cpp builds, interleaved so they share the machine's load.

The model stage is prompt evaluation (issue 15), and its speed depends on how
llama-cpp-python was compiled: the portable build (`-DGGML_NATIVE=OFF`, AVX2) against a
build for this CPU (`-march=native`: AVX-512, VNNI; AMX where the CPU reports it). Each
build is a directory installed with `pip install --target DIR WHEEL` ("" = the
environment's own); every measurement runs in a fresh process with that directory first
on `sys.path`, round-robin over builds, so a load spike hits all of them alike.

    python benchmarks/llama_build.py --build portable= --build native=/tmp/llnative \\
        --extra-buffers 0 --threads 1 --rounds 3 --out benchmarks/results/llama_build.json

One measurement: the first 600 tokens of a source file evaluated 5 times from an empty KV
cache; the median of the 5 is its tokens per second, and tokens per CPU-second beside it
(the fairer figure when the machine is shared: a waiting thread spends no CPU time).
`--build-extra NAME=0|1` sets `VULNSIGHT_LLAMA_EXTRA_BUFFERS` for one build only.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

GGUF = Path.home() / ".cache/vulnsight/models/gemma-3-270m-q4_k_m.gguf"
TEXT = Path(__file__).resolve().parents[1] / "src/vulnsight/pipeline.py"

_CHILD = r"""
import json, os, resource, statistics, sys, time
from vulnsight.llm.llamacpp_build import installed_features, load_settings
from llama_cpp import Llama
path, threads, text = sys.argv[1], int(sys.argv[2]), open(sys.argv[3]).read()
with load_settings() as chosen:
    llm = Llama(model_path=path, n_ctx=4096, n_batch=512, n_threads=threads,
                n_threads_batch=threads, verbose=False, logits_all=False)
tokens = llm.tokenize(text.encode())[:600]
runs, cpu = [], []
def _cpu():
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime
for _ in range(5):
    llm.reset()
    c = _cpu(); t = time.perf_counter(); llm.eval(tokens)
    runs.append(time.perf_counter() - t); cpu.append(_cpu() - c)
print(json.dumps({"features": sorted(installed_features()),
                  "extra_buffers": chosen["extra_buffers"], "tokens": len(tokens),
                  "runs_s": [round(r, 3) for r in runs],
                  "tokens_per_s": round(len(tokens) / statistics.median(runs), 1),
                  "tokens_per_cpu_s": round(len(tokens) / statistics.median(cpu), 1)}))
"""


def measure(build: str, gguf: Path, threads: int, extra: str | None) -> dict[str, Any]:
    """One fresh-process measurement of `build` (a --target directory, "" = installed)."""
    src = str(Path(__file__).resolve().parents[1] / "src")
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (build, src) if p))
    if extra is not None:
        env["VULNSIGHT_LLAMA_EXTRA_BUFFERS"] = extra
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, str(gguf), str(threads), str(TEXT)],
        env=env, capture_output=True, text=True, timeout=900, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        return {"error": f"exit {proc.returncode}", "stderr": proc.stderr[-300:]}
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def load_average() -> float:
    """The 1-minute load average (the machine is shared)."""
    return os.getloadavg()[0]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", action="append", required=True, help="NAME=DIR ('' = installed)")
    ap.add_argument("--gguf", type=Path, default=GGUF)
    ap.add_argument("--threads", type=int, action="append")
    ap.add_argument("--extra-buffers", choices=["0", "1", "auto"], default="auto")
    ap.add_argument("--build-extra", action="append", default=[], help="NAME=0|1 for one build")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    builds = dict(b.split("=", 1) for b in args.build)
    extra = None if args.extra_buffers == "auto" else args.extra_buffers
    per_build = dict(b.split("=", 1) for b in args.build_extra)
    rows: list[dict[str, Any]] = []
    for rnd in range(args.rounds):
        for threads in args.threads or [1]:
            for name, directory in builds.items():
                row = {"round": rnd, "build": name, "threads": threads, "gguf": args.gguf.name}
                row["load_before"] = round(load_average(), 2)
                started = time.time()
                row.update(measure(directory, args.gguf, threads, per_build.get(name, extra)))
                row["wall_s"] = round(time.time() - started, 1)
                rows.append(row)
                print(json.dumps(row), flush=True)
    summary: dict[str, Any] = {}
    for name in builds:
        for threads in args.threads or [1]:
            speeds = [
                r["tokens_per_s"]
                for r in rows
                if r["build"] == name and r["threads"] == threads and "tokens_per_s" in r
            ]
            if speeds:
                summary[f"{name}/threads={threads}"] = statistics.median(speeds)
            per_cpu = [
                r["tokens_per_cpu_s"]
                for r in rows
                if r["build"] == name and r["threads"] == threads and "tokens_per_cpu_s" in r
            ]
            if per_cpu:
                summary[f"{name}/threads={threads}/per_cpu_s"] = statistics.median(per_cpu)
    args.out.write_text(json.dumps({"summary": summary, "rows": rows}, indent=1) + "\n")
    print(json.dumps(summary))


if __name__ == "__main__":
    main()
