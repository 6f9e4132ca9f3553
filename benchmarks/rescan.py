"""Rescan speed: a one-function change in a ~10,000-line git repository, `scan --diff`.

Generates (deterministically) a mixed-language repository in a temporary directory,
commits it, runs a first full scan that fills the verdict cache, then repeats: change
one function (a new line each time, so the changed function is never cached) and time
`vulnsight scan --diff HEAD` in a fresh process. Also times a full rescan after the
change to show the cache hit rate over the whole tree. Prints a Markdown table and
writes the raw runs to benchmarks/results/rescan.json.

    python benchmarks/rescan.py [--repeat 5] [--lines 10000] [--model default]
                                [--detectors rules,llm] [--first-detectors rules,llm]

`--first-detectors rules` skips the model in the first scan when judging every function
is too slow for the machine: a `--diff` scan looks up and judges only the changed
functions, so its cost does not depend on what the first scan cached, but the full
rescan's hit rate then only covers the rules (run a smaller `--lines` for that).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

PY = '''

def {name}(conn, {arg}, limit={n}):
    """Load {noun} rows for a report."""
    cur = conn.cursor()
    cur.execute("SELECT id, {col} FROM {table} WHERE {col} = ? LIMIT ?", ({arg}, limit))
    rows = cur.fetchall()
    result = []
    for row in rows:
        if row[1] is None:
            continue
        result.append({{"id": row[0], "{col}": str(row[1]).strip()}})
    return result


def {name}_summary(items):
    total = 0
    for item in items:
        total += len(item.get("{col}", ""))
    return {{"count": len(items), "chars": total, "avg": total / max(1, len(items))}}
'''
JS = """
function {name}(req, res, db) {{
  const {arg} = String(req.query.{arg} || "").slice(0, {n});
  db.query("SELECT id, {col} FROM {table} WHERE {col} = $1", [{arg}], (err, rows) => {{
    if (err) {{
      res.status(500).json({{ error: "lookup failed" }});
      return;
    }}
    const out = rows.map((r) => ({{ id: r.id, {col}: String(r.{col}).trim() }}));
    res.json({{ items: out, count: out.length }});
  }});
}}

function {name}Total(items) {{
  let total = 0;
  for (const item of items) {{
    total += (item.{col} || "").length;
  }}
  return total;
}}
"""
C = """
int {name}(const char *{arg}, char *out, size_t out_len) {{
    size_t n = strnlen({arg}, {n});
    if (n + 1 > out_len) {{
        return -1;
    }}
    memcpy(out, {arg}, n);
    out[n] = '\\0';
    for (size_t i = 0; i < n; i++) {{
        if (out[i] == ',') {{
            out[i] = ' ';
        }}
    }}
    return (int)n;
}}

static unsigned {name}_hash(const char *s) {{
    unsigned h = {n}u;
    while (*s) {{
        h = h * 31u + (unsigned char)*s++;
    }}
    return h;
}}
"""
HEAD = {
    "python": "import sqlite3\n",
    "javascript": '"use strict";\n',
    "c": "#include <string.h>\n#include <stddef.h>\n",
}
TEMPLATES = {"python": (PY, ".py"), "javascript": (JS, ".js"), "c": (C, ".c")}
WORDS = ("user", "order", "invoice", "account", "session", "token", "item", "product", "report")


def generate(repo: Path, target_lines: int, seed: int = 7) -> int:
    """Write the repository; returns its line count."""
    rng = random.Random(seed)
    lines = 0
    index = 0
    while lines < target_lines:
        language = ("python", "javascript", "c")[index % 3]
        template, ext = TEMPLATES[language]
        body = [HEAD[language]]
        for k in range(8):
            noun = rng.choice(WORDS)
            body.append(
                template.format(
                    name=f"load_{noun}_{index}_{k}",
                    arg=f"{noun}_key",
                    n=rng.randint(16, 4096),
                    noun=noun,
                    col=rng.choice(["name", "email", "title", "status"]),
                    table=f"{noun}s",
                )
            )
        text = "".join(body)
        path = repo / f"pkg{index % 7}" / f"module_{index}{ext}"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
        lines += text.count("\n")
        index += 1
    return lines


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def scan(repo: Path, *extra: str) -> tuple[float, dict[str, float | int | str]]:
    out = repo.parent / "report.json"
    cmd = [sys.executable, "-m", "vulnsight.cli", "scan", str(repo), "--format", "json"]
    cmd += ["-o", str(out), "--no-progress", *extra]
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    if proc.returncode not in (0, 1):
        raise SystemExit(f"scan failed ({proc.returncode}): {proc.stderr[-2000:]}")
    stats: dict[str, float | int | str] = json.loads(out.read_text())["stats"]
    return round(wall, 3), stats


def change_one_function(repo: Path, i: int) -> None:
    """Insert a new line into one Python function (different every time)."""
    path = repo / "pkg0" / "module_0.py"
    text = path.read_text()
    marker = "    cur = conn.cursor()\n"
    pos = text.index(marker)
    text = text[:pos] + f"    audit_{i} = {i}\n" + text[pos:]
    path.write_text(text)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--lines", type=int, default=10_000)
    ap.add_argument("--model", default="default")
    ap.add_argument("--detectors", default="rules,llm")
    ap.add_argument("--first-detectors", default=None, help="Detectors of the first scan.")
    args = ap.parse_args()
    runs: dict[str, object] = {"args": vars(args)}
    with tempfile.TemporaryDirectory(prefix="vulnsight-rescan-") as tmp:
        repo = Path(tmp) / "repo"
        repo.mkdir()
        total = generate(repo, args.lines)
        git(repo, "init", "-q")
        git(repo, "config", "user.email", "bench@example.com")
        git(repo, "config", "user.name", "bench")
        git(repo, "add", ".")
        git(repo, "commit", "-qm", "init")
        extra = ["--detectors", args.detectors, "--model", args.model]
        first_detectors = args.first_detectors or args.detectors
        first = scan(repo, "--detectors", first_detectors, "--model", args.model)
        print(f"first scan: {first[0]} s, {first[1]['functions']} functions", file=sys.stderr)
        diffs = []
        for i in range(args.repeat):
            change_one_function(repo, i)
            diffs.append(scan(repo, *extra, "--diff", "HEAD"))
            print(f"diff scan {i}: {diffs[-1][0]} s", file=sys.stderr)
        # The same change scanned again (a pre-commit rerun, a CI retry): all cached.
        rerun = [scan(repo, *extra, "--diff", "HEAD") for _ in range(3)]
        full = scan(repo, "--detectors", first_detectors, "--model", args.model)
        rules_diff = [scan(repo, "--detectors", "rules", "--diff", "HEAD") for _ in range(3)]
        runs.update(
            {
                "lines": total,
                "first": first,
                "diff": diffs,
                "diff_rerun": rerun,
                "full_rescan": full,
                "rules_diff": rules_diff,
            }
        )

    def med(values: list[float]) -> float:
        return round(statistics.median(values), 2)

    f_stats = first[1]
    d_wall = med([w for w, _ in diffs])
    d_scan = med([float(s["seconds"]) for _, s in diffs])
    d_hits = sum(int(s.get("cache_hits", 0)) for _, s in diffs)
    d_miss = sum(int(s.get("cache_misses", 0)) for _, s in diffs)
    print(
        f"Repository: {total} lines, {f_stats['files_scanned']} files, "
        f"{f_stats['functions']} functions (Python, JavaScript, C); first scan and full "
        f"rescan with {first_detectors}, `--diff` scans with {args.detectors}, "
        f"model `{args.model}`; {os.cpu_count()} CPUs, {platform.machine()}, "
        f"Python {platform.python_version()}.\n"
    )
    print("| run | wall s (process) | scan s (in-process) | functions judged | cache hits/misses |")
    print("|---|---:|---:|---:|---:|")
    print(
        f"| first full scan | {first[0]} | {f_stats['seconds']} | {f_stats['functions']} "
        f"| {f_stats.get('cache_hits', '-')} / {f_stats.get('cache_misses', '-')} |"
    )
    print(
        f"| `--diff HEAD`, one function changed (median of {len(diffs)}) | {d_wall} | {d_scan} "
        f"| {diffs[0][1]['functions']} | {d_hits} / {d_miss} (all runs) |"
    )
    r_hits = sum(int(s.get("cache_hits", 0)) for _, s in rerun)
    r_miss = sum(int(s.get("cache_misses", 0)) for _, s in rerun)
    print(
        f"| `--diff HEAD` again, change already cached (median of 3) "
        f"| {med([w for w, _ in rerun])} | {med([float(s['seconds']) for _, s in rerun])} "
        f"| {rerun[0][1]['functions']} | {r_hits} / {r_miss} (model loaded: "
        f"{rerun[0][1].get('model_loaded', '-')}) |"
    )
    print(
        f"| full rescan after the changes | {full[0]} | {full[1]['seconds']} "
        f"| {full[1]['functions']} | {full[1].get('cache_hits', '-')} / "
        f"{full[1].get('cache_misses', '-')} (hit rate {full[1].get('cache_hit_rate', '-')}) |"
    )
    print(
        f"| `--diff HEAD --detectors rules` (median of 3) | {med([w for w, _ in rules_diff])} "
        f"| {med([float(s['seconds']) for _, s in rules_diff])} | - | - |"
    )
    out = ROOT / "benchmarks" / "results"
    out.mkdir(exist_ok=True)
    tag = f"{total // 1000}k-{first_detectors.replace(',', '+')}"
    (out / f"rescan-{tag}.json").write_text(json.dumps(runs, indent=2) + "\n")


if __name__ == "__main__":
    main()
