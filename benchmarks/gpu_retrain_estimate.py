"""What a GPU retraining run (scripts/gpu_retrain.py) will do with a built pack, and an
ESTIMATE of its device time from rates measured on the lent H200 by others (LoRA
training 52-89 examples/s at 768 tokens; forward passes 0.5-0.6 ms per function at
batch 64-256; given in issue 16's brief, not measured here). Also checks what each
device call carries against the 64 MiB limit, the working tree included.

    python benchmarks/gpu_retrain_estimate.py --pack benchmarks/.cache/gpu-retrain \
        --out benchmarks/results/gpu_retrain_estimate.json
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

TRAIN_RATES = (52.0, 89.0)  # examples/s, LoRA, 768 tokens (H200, brief)
SCORE_MS = (0.6, 0.5)  # ms per function, batch 64-256 (H200, brief)
CALL_LIMIT_MIB = 64.0


def tree_mib() -> float:
    """Tracked files plus untracked files git does not ignore (what every call sends)."""
    out = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=ROOT,
        capture_output=True,
        check=True,
    ).stdout
    files = [ROOT / f for f in out.decode().split("\0") if f]
    return sum(f.stat().st_size for f in files if f.is_file()) / 2**20


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--pack", type=Path, default=ROOT / "benchmarks/.cache/gpu-retrain")
    p.add_argument("--budget-s", type=float, default=510.0)
    p.add_argument("--load-s", type=float, default=20.0, help="base load (CPU measurement)")
    p.add_argument("--out", type=Path)
    args = p.parse_args(argv)
    from vulnsight.train.fold_run import RunSettings, fold_plan, load_pack_data

    build = json.loads((args.pack / "data" / "build.json").read_text())
    data = load_pack_data(args.pack / "data" / "data.npz")
    settings = RunSettings(budget_s=args.budget_s)
    jobs = fold_plan(data.examples)
    folds = [j for j in jobs if j.name != "final"]
    score_reserve = 10.0 * len(jobs)
    train_s = args.budget_s - args.load_s - score_reserve
    rows = []
    for j in jobs:
        seconds = (
            train_s * settings.final_share
            if j.name == "final"
            else train_s * (1 - settings.final_share) / len(folds)
        )
        cap = settings.final_examples if j.name == "final" else settings.fold_examples
        mean_tokens = sum(len(data.ids[i]) for i in j.train) / max(1, len(j.train))
        rows.append(
            {
                "job": j.name,
                "train_records": len(j.train),
                "mean_tokens": round(mean_tokens),
                "seconds_allowed": round(seconds),
                "examples_est": [min(cap, round(seconds * r)) for r in TRAIN_RATES],
                "epochs_est": [
                    round(min(cap, seconds * r) / max(1, len(j.train)), 2) for r in TRAIN_RATES
                ],
                "scored": len(j.score),
                "score_seconds_est": [round(len(j.score) * ms / 1000, 2) for ms in SCORE_MS],
            }
        )
    tree = tree_mib()
    stages = build["stages"]
    calls = [
        {"call": 1, "carries": ["data", *list(stages)[:1]], "what": "--check"},
        *[
            {"call": n + 2, "carries": [s], "what": "stage"}
            for n, s in enumerate(list(stages)[1:-1])
        ],
    ]
    if len(stages) > 1:
        calls.append({"call": len(calls) + 1, "carries": [list(stages)[-1]], "what": "the run"})
    else:
        calls[0]["what"] = "--check, then the run in a second call carrying nothing new"
    for c in calls:
        mib = sum(build["data_dir_mib"] if x == "data" else stages[x] for x in c["carries"])
        c["carried_mib"] = round(mib, 2)
        c["with_tree_mib"] = round(mib + tree, 2)
        c["fits"] = mib + tree <= CALL_LIMIT_MIB
    result = {
        "estimate": "ESTIMATE from others' H200 rates, not a measurement",
        "rates": {"train_examples_per_s": TRAIN_RATES, "score_ms_per_function": SCORE_MS},
        "budget_s": args.budget_s,
        "load_s_assumed": args.load_s,
        "build": {
            k: build[k]
            for k in ("summary", "vocab_kept", "data_npz_mib", "stages", "seconds", "tokens")
        },
        "tree_mib": round(tree, 2),
        "calls": calls,
        "jobs": rows,
    }
    text = json.dumps(result, indent=1)
    if args.out:
        args.out.write_text(text + "\n")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
