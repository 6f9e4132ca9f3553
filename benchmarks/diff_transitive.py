"""`scan --diff` with one changed leaf: cost of following facts up chains of calls.

Copies a source tree (default: the pinned ~10,000-line speed tree of
`benchmarks/scan_speed.py`, or a generated one) into a temporary git repository, adds a
three-file Python chain (a.py -> b.py -> c.py, a Flask handler at the top), commits,
then times `vulnsight scan --diff HEAD --detectors flow` in a fresh process for two
edits of the leaf c.py:

* `irrelevant`: the leaf's text changes, its data-flow facts do not;
* `sink`: the leaf now passes its parameter to `os.system` (the handler two files up
  is then re-judged and the finding's path starts in a.py).

Each source tree under test (`--src NAME=DIR`, e.g. an export of the commit before the
change) runs the same edits, interleaved, `--repeat` times; medians are reported with
the stats that show what was parsed. Writes benchmarks/results/diff_transitive.json.

    python benchmarks/diff_transitive.py --src before=/tmp/old/src --src after=src
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SPEED_TREE = Path.home() / ".cache" / "vulnsight" / "speed-tree" / "tree"
CHAIN = {
    "chain/a.py": (
        "from flask import Flask, request\n\nfrom b import middle\n\napp = Flask(__name__)\n\n\n"
        '@app.route("/run")\ndef handler():\n    cmd = request.args.get("cmd")\n'
        "    return middle(cmd)\n"
    ),
    "chain/b.py": (
        'from c import leaf\n\n\ndef middle(value):\n    line = "echo " + value\n'
        "    return leaf(line)\n"
    ),
    "chain/c.py": "import os\n\n\ndef leaf(command):\n    return len(command)\n",
}
EDITS = {
    "irrelevant": ("    return len(command)\n", "    return len(command) + 0\n"),
    "sink": ("    return len(command)\n", "    os.system(command)\n    return 0\n"),
}
STATS = (
    "files_scanned",
    "changed_functions",
    "facts_changed_functions",
    "facts_diff_files_parsed",
    "facts_diff_rounds",
    "findings",
)


def git(repo: Path, *args: str) -> None:
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def make_repo(tree: Path, at: Path) -> Path:
    repo = at / "repo"
    shutil.copytree(tree, repo, ignore=shutil.ignore_patterns(".git"))
    for path, text in CHAIN.items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(text)
    git(repo, "init", "-q")
    git(repo, "config", "user.email", "bench@example.com")
    git(repo, "config", "user.name", "bench")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "base")
    return repo


def run(src: Path, repo: Path, state: Path) -> tuple[float, dict[str, object]]:
    env = dict(os.environ, PYTHONPATH=str(src), VULNSIGHT_STATE_DIR=str(state))
    cmd = [sys.executable, "-m", "vulnsight.cli", "scan", str(repo), "--diff", "HEAD"]
    cmd += ["--detectors", "flow", "--format", "json", "--no-progress", "--no-cache"]
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, check=False)
    wall = time.perf_counter() - started
    if proc.returncode not in (0, 1):
        raise SystemExit(f"scan failed ({proc.returncode}): {proc.stderr[-2000:]}")
    report = json.loads(proc.stdout)
    stats = {k: report["stats"].get(k) for k in STATS}
    stats["flow_path_files"] = sorted(
        {s["file"] for f in report["findings"] for s in f.get("path", [])}
    )
    return wall, stats


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--src", action="append", required=True, help="NAME=DIR of a src tree")
    ap.add_argument("--tree", type=Path, default=SPEED_TREE)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/diff_transitive.json")
    args = ap.parse_args()
    sources = {s.split("=", 1)[0]: Path(s.split("=", 1)[1]).resolve() for s in args.src}
    runs: dict[str, dict[str, list[float]]] = {n: {e: [] for e in EDITS} for n in sources}
    seen: dict[str, dict[str, dict[str, object]]] = {n: {} for n in sources}
    with tempfile.TemporaryDirectory() as tmp:
        repo = make_repo(args.tree, Path(tmp))
        lines = sum(
            len(p.read_text(errors="replace").splitlines())
            for p in repo.rglob("*")
            if p.is_file() and ".git" not in p.parts
        )
        leaf = repo / "chain/c.py"
        for _ in range(args.repeat):
            for edit, (old, new) in EDITS.items():
                leaf.write_text(CHAIN["chain/c.py"].replace(old, new))
                for name, src in sources.items():
                    wall, stats = run(src, repo, Path(tmp) / f"state-{name}")
                    runs[name][edit].append(wall)
                    seen[name][edit] = stats
        leaf.write_text(CHAIN["chain/c.py"])
    result = {
        "config": {
            "tree": str(args.tree),
            "lines": lines,
            "repeat": args.repeat,
            "sources": {n: str(p) for n, p in sources.items()},
            "machine": f"{platform.machine()} {os.cpu_count()} cpus (shared: timings are noisy)",
            "load_average": os.getloadavg(),
        },
        "median_seconds": {
            n: {e: round(statistics.median(v), 3) for e, v in r.items()} for n, r in runs.items()
        },
        "runs": runs,
        "stats": seen,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"tree: {lines} lines; medians of {args.repeat} (seconds, `scan --diff HEAD`)")
    print("| source | edit | median s | changed | facts changed | extra files | rounds |")
    print("|---|---|---|---|---|---|---|")
    for n in sources:
        for e in EDITS:
            st = seen[n][e]
            print(
                f"| {n} | {e} | {result['median_seconds'][n][e]} | {st['changed_functions']} | "
                f"{st['facts_changed_functions']} | {st.get('facts_diff_files_parsed')} | "
                f"{st.get('facts_diff_rounds')} |"
            )


if __name__ == "__main__":
    main()
