"""`vulnsight fleet` on generated repositories that share a vendored library.

Measures, on this machine: functions/s of a fleet run with 1 and 2 model workers, the
dedup hit rate (verdicts reused across repositories / verdict lookups), the time Ray
takes to start, and the fleet's wall time against sequential `vulnsight scan` runs of
the same repositories (each in a fresh process, with an empty verdict cache).

    python benchmarks/fleet_bench.py --model fake --repos 5 --repeat 3
    python benchmarks/fleet_bench.py --model default --repos 4 --own 6 --repeat 1

Each repository holds `--own` functions of its own (Python, C, JavaScript) plus a copy
of the same vendored C library (`--vendored` functions). Results (with the config that
produced them and the machine) go to benchmarks/results/fleet_bench-<model>.json.
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
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))


def _git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def vendored(n: int) -> str:
    parts = ["#include <string.h>\n#include <stdio.h>\n"]
    for i in range(n):
        parts.append(
            f"int vendor_fn_{i}(char *dst, const char *src, int n) {{\n"
            f"    char buf[{16 + i}];\n    if (n > {i}) {{ strcpy(buf, src); }}\n"
            f"    snprintf(dst, n, \"%s-{i}\", buf);\n    return (int)strlen(dst);\n}}\n"
        )
    return "\n".join(parts)


def own_files(repo: int, n: int) -> dict[str, str]:
    py, c, js = [], ["#include <stdlib.h>\n#include <string.h>\n"], []
    for i in range(n):
        kind = i % 3
        if kind == 0:
            py.append(
                f"def handler_{repo}_{i}(request, db):\n"
                f"    name = request.args.get('q{i}')\n"
                f"    return db.execute('SELECT * FROM t{repo} WHERE n = ' + name)\n"
            )
        elif kind == 1:
            c.append(
                f"char *dup_{repo}_{i}(const char *s) {{\n    char *p = malloc(strlen(s));\n"
                f"    strcpy(p, s);\n    return p;\n}}\n"
            )
        else:
            js.append(
                f"function route_{repo}_{i}(req, res) {{\n"
                f"  const v = req.query.v{i};\n  res.send(eval(v) + {repo});\n}}\n"
            )
    files = {"app.py": "import os\n\n\n" + "\n\n".join(py), "native.c": "\n".join(c)}
    files["routes.js"] = "\n".join(js)
    return files


def make_repos(base: Path, count: int, own: int, shared: int) -> list[Path]:
    repos = []
    lib = vendored(shared)
    for r in range(count):
        repo = base / f"repo{r:03d}"
        (repo / "third_party").mkdir(parents=True)
        (repo / "third_party" / "strlib.c").write_text(lib)
        for name, text in own_files(r, own).items():
            (repo / name).write_text(text)
        _git(repo, "init", "-q")
        _git(repo, "add", "-A")
        _git(repo, "-c", "user.email=b@example.org", "-c", "user.name=b", "commit", "-qm", "g")
        repos.append(repo)
    return repos


def _env(state: Path) -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), env.get("PYTHONPATH", "")])
    env.update({"VULNSIGHT_STATE_DIR": str(state), "VULNSIGHT_CONFIG": ""})
    env["RAY_USAGE_STATS_ENABLED"] = "0"
    return env


def sequential(
    repos: list[Path], model: str, state: Path, threads: int | None = None
) -> dict[str, Any]:
    """`vulnsight scan` per repository, one after another, empty cache each time
    (`threads`: llama.cpp threads, VULNSIGHT_THREADS; default: one per core)."""
    started = time.perf_counter()
    functions = 0
    for i, repo in enumerate(repos):
        env = _env(state / f"seq{i}")
        if threads:
            env["VULNSIGHT_THREADS"] = str(threads)
        proc = subprocess.run(
            [sys.executable, "-m", "vulnsight.cli", "scan", str(repo), "--model", model,
             "--format", "json", "--no-progress", "--no-cache"],
            capture_output=True, text=True, env=env, timeout=1800,
        )
        assert proc.returncode in (0, 1), proc.stderr
        functions += int(json.loads(proc.stdout)["stats"]["functions"])
    wall = time.perf_counter() - started
    return {"wall_s": round(wall, 2), "functions": functions,
            "functions_per_s": round(functions / wall, 2)}


def fleet(repos: list[Path], model: str, workers: int, out: Path) -> dict[str, Any]:
    """One fleet run in this process: Ray's start timed apart from the run."""
    import ray

    from vulnsight.fleet.plan import expand_repos
    from vulnsight.fleet.runner import FleetOptions, run_fleet

    started = time.perf_counter()
    ray.init(
        num_cpus=workers + 1,
        include_dashboard=False,
        object_store_memory=200 * 1024 * 1024,
        log_to_driver=False,
        runtime_env={"env_vars": {"VULNSIGHT_STATE_DIR": str(out / "state"),
                                  "VULNSIGHT_CONFIG": ""}},
    )
    ready = time.perf_counter()
    try:
        options = FleetOptions(out=out, flags={"model": model}, workers=workers)
        result = run_fleet(expand_repos(repos), options)
    finally:
        ray.shutdown()
    done = time.perf_counter()
    ledger = result.ledger
    reused = ledger.get("hits", 0) + ledger.get("waited_hits", 0)
    run_s = done - ready
    return {
        "workers": workers,
        "ray_start_s": round(ready - started, 2),
        "run_s": round(run_s, 2),
        "wall_s": round(done - started, 2),
        "functions": result.functions,
        "functions_per_s_run": round(result.functions / run_s, 2),
        "functions_per_s_wall": round(result.functions / (done - started), 2),
        "verdict_lookups": ledger.get("lookups", 0),
        "verdicts_reused": reused,
        "dedup_hit_rate": round(reused / ledger["lookups"], 4) if ledger.get("lookups") else 0.0,
        "judged_twice": ledger.get("judged_twice", 0),
        "failed": len(result.failed),
    }


def median_of(runs: list[dict[str, Any]], key: str) -> float:
    return round(statistics.median(float(r[key]) for r in runs), 2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="fake")
    ap.add_argument("--repos", type=int, default=5)
    ap.add_argument("--own", type=int, default=9, help="functions of each repository's own")
    ap.add_argument("--vendored", type=int, default=8, help="functions of the shared library")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--seq-threads", type=int, default=None,
                    help="llama.cpp threads of the sequential scans (default: one per core)")
    ap.add_argument("--only-sequential", action="store_true",
                    help="time the sequential scans only (results file gets -sequential)")
    args = ap.parse_args()
    runs: dict[str, list[dict[str, Any]]] = {"sequential": [], "fleet_1": [], "fleet_2": []}
    with tempfile.TemporaryDirectory(prefix="fleet-bench-") as tmp:
        base = Path(tmp)
        repos = make_repos(base / "org", args.repos, args.own, args.vendored)
        for rep in range(args.repeat):
            runs["sequential"].append(
                sequential(repos, args.model, base / f"s{rep}", args.seq_threads)
            )
            for workers in () if args.only_sequential else (1, 2):
                out = base / f"out-{workers}-{rep}"
                runs[f"fleet_{workers}"].append(fleet(repos, args.model, workers, out))
            print(json.dumps({k: v[-1] for k, v in runs.items() if v}), file=sys.stderr)
    seq = median_of(runs["sequential"], "wall_s")
    summary: dict[str, Any] = {"sequential_wall_s": seq,
                               "sequential_functions_per_s": median_of(runs["sequential"],
                                                                       "functions_per_s")}
    for workers in () if args.only_sequential else (1, 2):
        r = runs[f"fleet_{workers}"]
        summary[f"fleet_{workers}"] = {
            k: median_of(r, k)
            for k in ("ray_start_s", "run_s", "wall_s", "functions_per_s_run",
                      "functions_per_s_wall", "dedup_hit_rate")
        }
        summary[f"fleet_{workers}"]["wall_vs_sequential"] = round(
            median_of(r, "wall_s") / seq, 3)
    record = {
        "benchmark": "fleet_bench",
        "config": vars(args),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "note": "shared 2-core machine (other engineers' jobs running): noisy"},
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "median": summary,
        "runs": runs,
    }
    suffix = "-sequential" if args.only_sequential else ""
    suffix += f"-{args.seq_threads}thread" if args.seq_threads else ""
    path = ROOT / "benchmarks" / "results" / f"fleet_bench-{args.model}{suffix}.json"
    path.write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(summary, indent=2))


if __name__ == "__main__":
    main()
