"""Per-language F1 and Youden's J of every detector in a `vulnsight eval` results.json,
with the candidate's margin over each other detector (for model cards and RESULTS.md).

    python benchmarks/compare_languages.py RESULTS.json --candidate hybrid
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("results", type=Path)
    ap.add_argument("--candidate", default="hybrid")
    args = ap.parse_args()
    results = json.loads(args.results.read_text("utf-8"))
    dets = {d["detector"]: d for d in results["detectors"]}
    langs = sorted({lang for d in dets.values() for lang in d["by_language"]})
    cand = dets[args.candidate]
    print("| language | n | " + " | ".join(f"{name} F1 / J" for name in dets) + " |")
    print("|---|---:|" + "---|" * len(dets))
    for lang in langs + ["all"]:
        cells = []
        for d in dets.values():
            m = d["overall"] if lang == "all" else d["by_language"].get(lang)
            cells.append("-" if not m else f"{m['f1']:.2f} / {m['youden_j']:.2f}")
        n = (cand["overall"] if lang == "all" else cand["by_language"].get(lang, {})).get("n", 0)
        print(f"| {lang} | {n} | " + " | ".join(cells) + " |")
    print()
    for name, d in dets.items():
        if name == args.candidate:
            continue
        wins = []
        for lang in langs:
            a, b = cand["by_language"].get(lang), d["by_language"].get(lang)
            if a and b and a.get("tp", 0) + a.get("fn", 0) > 0:
                df1, dj = a["f1"] - b["f1"], a["youden_j"] - b["youden_j"]
                wins.append(f"{lang} {df1:+.2f}/{dj:+.2f}")
        print(f"{args.candidate} minus {name} (F1/J): " + ", ".join(wins))


if __name__ == "__main__":
    main()
