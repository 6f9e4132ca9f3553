"""What Slither can compile of the Solidity corpora, and how it scores on what it can.

    python benchmarks/slither_coverage.py --data A.jsonl [--data B.jsonl] --out X.json
        compiles every Solidity record as the Slither adapter does (wrapped member,
        solc-js chosen by pragma or by fallback) and counts, per source: compiled (by
        compiler series) and not compiled (by reason).
    ... --predictions OUT/predictions.jsonl --out Y.json
        Slither's confusion counts from an eval run, on all records and on the records
        that compiled only (errors count as not flagged in the leaderboard).

Prints a Markdown table; writes the figures as JSON with the command that made them.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

from vulnsight.bench.adapters import solcjs
from vulnsight.bench.adapters.slither import NOT_COMPILED, wrap_unit


def load(paths: list[str]) -> list[dict[str, Any]]:
    rows = []
    for p in paths:
        for line in Path(p).read_text("utf-8").splitlines():
            if line.strip():
                r = json.loads(line)
                if r["language"] == "solidity":
                    rows.append(r)
    return rows


def coverage(rows: list[dict[str, Any]]) -> dict[str, Any]:
    node = solcjs.node_path()
    if node is None:
        sys.exit("node is not installed")
    sj = solcjs.SolcJs(node, solcjs.solcjs_dir())
    units = {f"r{i}.sol": wrap_unit(r["code"])[0] for i, r in enumerate(rows)}
    compiled = solcjs.compile_units(sj, units)
    out: dict[str, Any] = {}
    for i, r in enumerate(rows):
        c = compiled[f"r{i}.sol"]
        s = out.setdefault(
            r["source"],
            {
                "n": 0,
                "vulnerable": 0,
                "whole_files": 0,
                "compiled": 0,
                "compiled_vulnerable": 0,
                "by_series": Counter(),
                "failed": Counter(),
                "failed_vulnerable": Counter(),
            },
        )
        s["n"] += 1
        s["vulnerable"] += r["label"]
        s["whole_files"] += int(wrap_unit(r["code"])[1] == 0)
        if c.ok and c.version:
            s["compiled"] += 1
            s["compiled_vulnerable"] += r["label"]
            s["by_series"][".".join(c.version.split(".")[:2])] += 1
        else:
            s["failed"][c.reason] += 1
            if r["label"]:
                s["failed_vulnerable"][c.reason] += 1
    return {"versions": sj.versions(), "sources": out}


def _metrics(pairs: list[tuple[int, bool]]) -> dict[str, Any]:
    tp = sum(1 for y, p in pairs if y and p)
    fp = sum(1 for y, p in pairs if not y and p)
    fn = sum(1 for y, p in pairs if y and not p)
    tn = sum(1 for y, p in pairs if not y and not p)
    prec = tp / (tp + fp) if tp + fp else 0.0
    rec = tp / (tp + fn) if tp + fn else 0.0
    den = math.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    return {
        "n": len(pairs),
        "tp": tp,
        "fp": fp,
        "fn": fn,
        "tn": tn,
        "precision": round(prec, 3),
        "recall": round(rec, 3),
        "f1": round(2 * prec * rec / (prec + rec), 3) if prec + rec else 0.0,
        "mcc": round((tp * tn - fp * fn) / den, 3) if den else 0.0,
        "fpr": round(fp / (fp + tn), 3) if fp + tn else 0.0,
    }


def scored(rows: list[dict[str, Any]], predictions: Path) -> dict[str, Any]:
    by_id = {r["id"]: r for r in rows}
    preds = {}
    for line in predictions.read_text("utf-8").splitlines():
        p = json.loads(line)
        if p["detector"] == "slither" and p["perturbation"] == "none" and p["record_id"] in by_id:
            preds[p["record_id"]] = p
    out: dict[str, Any] = {}
    groups: dict[str, dict[str, list[tuple[int, bool]]]] = defaultdict(
        lambda: {"all": [], "compiled": []}
    )
    other_errors: Counter[str] = Counter()
    for rid, p in preds.items():
        r = by_id[rid]
        for key in (r["source"], "all sources"):
            groups[key]["all"].append((r["label"], bool(p["predicted"])))
            if p["error"] is None:
                groups[key]["compiled"].append((r["label"], bool(p["predicted"])))
        if p["error"] and not p["error"].startswith(NOT_COMPILED):
            other_errors[p["error"][:120]] += 1
    for key, g in groups.items():
        out[key] = {"all": _metrics(g["all"]), "judged": _metrics(g["compiled"])}
    return {"sources": out, "slither_errors_after_compiling": dict(other_errors)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", action="append", required=True)
    ap.add_argument("--predictions", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    rows = load(args.data)
    if args.predictions:
        result = scored(rows, args.predictions)
        print("| source | records | n judged | precision | recall | MCC | FPR (judged) |")
        print("|---|---:|---:|---:|---:|---:|---:|")
        for src, m in result["sources"].items():
            j = m["judged"]
            print(
                f"| {src} | {m['all']['n']} | {j['n']} | {j['precision']:.2f} | "
                f"{j['recall']:.2f} | {j['mcc']:.2f} | {j['fpr']:.2f} |"
            )
    else:
        result = coverage(rows)
        print("| source | records (vuln) | compiled (vuln) | by series | not compiled, by reason |")
        print("|---|---:|---:|---|---|")
        for src, s in result["sources"].items():
            series = ", ".join(f"{k}: {v}" for k, v in sorted(s["by_series"].items()))
            failed = ", ".join(f"{k}: {v}" for k, v in s["failed"].most_common())
            print(
                f"| {src} | {s['n']} ({s['vulnerable']}) | {s['compiled']} "
                f"({s['compiled_vulnerable']}) | {series} | {failed} |"
            )
    result["command"] = " ".join(["python", "benchmarks/slither_coverage.py", *sys.argv[1:]])
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, sort_keys=True) + "\n", "utf-8")


if __name__ == "__main__":
    main()
