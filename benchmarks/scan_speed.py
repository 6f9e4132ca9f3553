"""Scan speed: the committed sample project, and a pinned real mixed tree of ~10,000 lines.

Each repetition runs `vulnsight scan` in a fresh process (so peak memory is that scan's
own: the child's maximum resident set, model included) and reads the timings it reports.

    python benchmarks/scan_speed.py [--repeat 3] [--path examples/mixed]
    python benchmarks/scan_speed.py --tree [--cache DIR] [--repeat 3] [--cap 1800]
        [--jobs 1] [--detectors rules,llm rules] [--label after]

`--tree` builds the speed tree from pinned packages (PyPI sdists with `pip download`,
npm tarballs with `npm pack`) into `--cache` (never committed; none of them is in
../shared/reserved.txt) and times it. `--cap` stops a run after that many seconds: the
run is then reported as capped, with the functions the model had judged by then
(counted from the progress bar's last `llm` update on stderr) and the rate they imply.
Raw runs go to benchmarks/results/scan_speed[-tree-LABEL].json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]

#: (registry, package, version, files or folders inside the unpacked archive's root)
TREE: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    (
        "pypi",
        "pyahocorasick",
        "2.1.0",
        (
            "src/Automaton.c",
            "src/utils.c",
            "src/AutomatonSearchIter.c",
            "src/trie.c",
            "src/trienode.c",
        ),
    ),
    ("pypi", "greenlet", "3.0.3", ("src/greenlet/greenlet.cpp", "src/greenlet/TGreenlet.cpp")),
    ("pypi", "six", "1.16.0", ("six.py",)),
    ("pypi", "toolz", "0.12.1", ("toolz/itertoolz.py",)),
    ("npm", "semver", "7.6.0", ("index.js", "classes", "functions", "internal", "ranges")),
    ("npm", "ms", "2.1.3", ("index.js",)),
    (
        "npm",
        "@uniswap/v3-periphery",
        "1.4.4",
        (
            "contracts/libraries/NFTDescriptor.sol",
            "contracts/libraries/OracleLibrary.sol",
            "contracts/libraries/LiquidityAmounts.sol",
            "contracts/libraries/PositionValue.sol",
        ),
    ),
)
_PROGRESS = re.compile(r"\bllm\b[^\n\r]*?\b(\d+)/(\d+)")
_ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def _fetch(registry: str, name: str, version: str, cache: Path) -> Path:
    """The unpacked archive's root folder for one pinned package (fetched once)."""
    target = cache / f"{registry}-{name.replace('/', '__')}-{version}"
    if not target.is_dir():
        with tempfile.TemporaryDirectory() as tmp:
            if registry == "pypi":
                cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--no-binary",
                       ":all:", "-q", "-d", tmp, f"{name}=={version}"]  # fmt: skip
            else:
                cmd = ["npm", "pack", "-q", f"{name}@{version}"]
            subprocess.run(cmd, cwd=tmp, check=True, capture_output=True, timeout=600)
            archive = next(p for p in Path(tmp).iterdir() if p.name.endswith((".tar.gz", ".tgz")))
            with tarfile.open(archive) as tf:
                tf.extractall(target, filter="data")
    (inner,) = [p for p in target.iterdir() if p.is_dir()]
    return inner


def build_tree(cache: Path) -> Path:
    """The speed tree under `cache`/tree, one folder per package."""
    tree = cache / "tree"
    if tree.is_dir():
        shutil.rmtree(tree)
    for registry, name, version, parts in TREE:
        src = _fetch(registry, name, version, cache)
        dest = tree / f"{name.replace('/', '__').lstrip('@')}-{version}"
        for part in parts:
            origin = src / part
            if origin.is_dir():
                shutil.copytree(origin, dest / part)
            else:
                (dest / part).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(origin, dest / part)
    return tree


def count_lines(tree: Path) -> dict[str, int]:
    """Lines per language of the files vulnsight scans in `tree`."""
    from vulnsight.languages import language_of

    out: dict[str, int] = {}
    for path in sorted(tree.rglob("*")):
        lang = language_of(path) if path.is_file() else None
        if lang:
            out[lang] = out.get(lang, 0) + len(path.read_text("utf-8").splitlines())
    return out


def one_run(
    path: Path, detectors: str, cap: float | None = None, extra: tuple[str, ...] = ()
) -> dict[str, Any]:
    """One `vulnsight scan` in a fresh process; its stats, or what a capped run shows."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.json"
        cmd = [sys.executable, "-m", "vulnsight.cli", "scan", str(path), "--format", "json",
               "-o", str(out), "--detectors", detectors, "--no-cache", *extra]  # fmt: skip
        env = dict(os.environ)
        if cap is not None:  # a progress bar on stderr says how far a capped run got
            cmd.append("--progress")
            env.update({"FORCE_COLOR": "1", "TTY_COMPATIBLE": "1", "COLUMNS": "200"})
        else:
            cmd.append("--no-progress")
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        before, cpu0 = usage.ru_maxrss, usage.ru_utime + usage.ru_stime
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        try:
            _, err = proc.communicate(timeout=cap)
        except subprocess.TimeoutExpired:
            proc.kill()
            _, err = proc.communicate()
            wall = time.perf_counter() - start
            usage = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = round(usage.ru_utime + usage.ru_stime - cpu0, 1)
            text = _ANSI.sub("", err.decode("utf-8", "replace"))
            done = [(int(a), int(b)) for a, b in _PROGRESS.findall(text)]
            judged, total = done[-1] if done else (0, 0)
            return {"capped": True, "wall_seconds": round(wall, 1), "cpu_seconds": cpu,
                    "llm_done": judged, "llm_total": total}  # fmt: skip
        wall = time.perf_counter() - start
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        peak, cpu = usage.ru_maxrss, usage.ru_utime + usage.ru_stime - cpu0
        if proc.returncode not in (0, 1):
            raise SystemExit(f"scan failed ({proc.returncode}): {err.decode()[-2000:]}")
        stats: dict[str, Any] = json.loads(out.read_text())["stats"]
    stats["wall_seconds"] = round(wall, 3)
    stats["cpu_seconds"] = round(cpu, 1)
    if peak > before:  # the largest child so far: this one, when it beat the earlier ones
        stats["child_peak_rss_mb"] = round(peak / 1024, 1)
    return stats


def _med(runs: list[dict[str, Any]], key: str) -> float | str:
    values = [float(r[key]) for r in runs if isinstance(r.get(key), int | float)]
    return round(statistics.median(values), 2) if values else "-"


def sample_main(args: argparse.Namespace) -> None:
    """The committed sample project, as before (examples/mixed)."""
    runs = {
        d: [one_run(args.path, d) for _ in range(args.repeat)]
        for d in ("rules,llm", "rules", "llm")
    }
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
    for d, rs in runs.items():
        lines.append(
            f"| {d} | {_med(rs, 'wall_seconds')} | {_med(rs, 'seconds')} "
            f"| {_med(rs, 'functions_per_second')} | {_med(rs, 'llm_ms_median')} "
            f"| {_med(rs, 'llm_ms_p95')} | {_med(rs, 'peak_rss_mb')} |"
        )
    print("\n".join(lines))
    _save(ROOT / "benchmarks" / "results" / "scan_speed.json", vars(args), runs)


def tree_main(args: argparse.Namespace) -> None:
    """The pinned mixed tree: seconds per 10,000 lines, judged vs skipped, peak memory."""
    tree = build_tree(args.cache)
    lines_by_lang = count_lines(tree)
    total = sum(lines_by_lang.values())
    extra = (*(("--jobs", str(args.jobs)) if args.jobs != 1 else ()), *args.extra)
    runs = {
        d: [one_run(tree, d, args.cap if "llm" in d else None, extra) for _ in range(args.repeat)]
        for d in args.detectors
    }
    print(
        f"Tree: {total} lines ({', '.join(f'{k} {v}' for k, v in sorted(lines_by_lang.items()))}); "
        f"{args.repeat} run(s) each, medians; {os.cpu_count()} CPUs "
        f"({platform.processor() or platform.machine()}), shared machine; label {args.label}."
    )
    print(
        "\n| detectors | end-to-end s | s per 10k lines | CPU s | functions | model languages "
        "| judged | skipped by gate | context tokens | peak RSS MB |"
    )
    print("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for d, rs in runs.items():
        done = [r for r in rs if not r.get("capped")]
        if done:
            wall = _med(done, "wall_seconds")
            per = round(float(wall) * 10_000 / total, 1) if isinstance(wall, float) else "-"
            print(
                f"| {d} | {wall} | {per} | {_med(done, 'cpu_seconds')} | {_med(done, 'functions')} "
                f"| {_med(done, 'llm_functions')} | {_med(done, 'model_functions_judged')} "
                f"| {_med(done, 'model_functions_skipped')} | {_med(done, 'model_tokens')} "
                f"| {_med(done, 'child_peak_rss_mb')} |"
            )
        for r in rs:
            if r.get("capped"):
                rate = r["llm_done"] / r["wall_seconds"] if r["wall_seconds"] else 0.0
                left = (r["llm_total"] - r["llm_done"]) / rate if rate else float("inf")
                print(
                    f"| {d} (capped) | > {r['wall_seconds']} (stopped) | - "
                    f"| {r['cpu_seconds']} | - "
                    f"| {r['llm_total']} | {r['llm_done']} units in {r['wall_seconds']} s "
                    f"(~{left:.0f} s more at that rate) | - | - | - |"
                )
    label = f"-tree-{args.label}"
    meta = {**vars(args), "lines": lines_by_lang, "tree": [list(t[:3]) for t in TREE]}
    _save(ROOT / "benchmarks" / "results" / f"scan_speed{label}.json", meta, runs)


def _save(path: Path, args: dict[str, Any], runs: dict[str, list[dict[str, Any]]]) -> None:
    path.parent.mkdir(exist_ok=True)
    clean = {k: (str(v) if isinstance(v, Path) else v) for k, v in args.items()}
    path.write_text(json.dumps({"args": clean, "runs": runs}, indent=2) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--path", type=Path, default=ROOT / "examples" / "mixed")
    ap.add_argument("--tree", action="store_true", help="time the pinned 10k-line tree")
    ap.add_argument("--cache", type=Path, default=Path.home() / ".cache/vulnsight/speed-tree")
    ap.add_argument("--cap", type=float, default=None, help="stop a model run after S seconds")
    ap.add_argument("--jobs", type=int, default=1)
    ap.add_argument("--detectors", nargs="+", default=["rules,llm", "rules"])
    ap.add_argument("--label", default="after")
    ap.add_argument("--extra", nargs="*", default=[], help="more scan flags, e.g. --gate sinks")
    args = ap.parse_args()
    if args.tree:
        tree_main(args)
    else:
        sample_main(args)


if __name__ == "__main__":
    main()
