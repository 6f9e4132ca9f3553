"""Clean metrics and flip rates of several `vulnsight eval --perturb` runs side by side.

python benchmarks/harden_compare.py before=DIR after=DIR ...
"""

from __future__ import annotations

import json
import sys
from pathlib import Path


def main() -> None:
    runs = [arg.split("=", 1) for arg in sys.argv[1:]]
    print("| run | detector | n | precision | recall | F1 | FPR | J |")
    print("|---|---|---:|---:|---:|---:|---:|---:|")
    rows = []
    for name, folder in runs:
        results = json.loads((Path(folder) / "results.json").read_text("utf-8"))
        for d in results["detectors"]:
            o = d["overall"]
            print(
                f"| {name} | {d['detector']} | {d['n']} | {o['precision']:.2f} | "
                f"{o['recall']:.2f} | {o['f1']:.2f} | {o['fpr']:.2f} | {o['youden_j']:.2f} |"
            )
            rows.append((name, d))
    perts = sorted({p for _, d in rows for p in d.get("robustness", {})})
    print()
    print("| run | perturbation | records | flip rate | evasion (missed/caught) | mean P shift |")
    print("|---|---|---:|---:|---:|---:|")
    for name, d in rows:
        for p in perts:
            rb = d.get("robustness", {}).get(p)
            if rb:
                print(
                    f"| {name} | {p} | {rb['n']} | {rb['flip_rate']:.2f} ({rb['flips']}) | "
                    f"{rb['evasion_rate']:.2f} ({rb['evaded']}/{rb['caught']}) | "
                    f"{rb['mean_score_shift']:+.3f} |"
                )


if __name__ == "__main__":
    main()
