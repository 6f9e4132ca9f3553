"""One-shot GPU retraining (issue 16): leave-one-source-out LoRA folds, then the final
adapter, in one time-boxed run on a lent GPU. Everything it reads was built on the CPU
by `scripts/gpu_retrain_data.py`; it needs torch, transformers, peft and numpy only.

On the device (see `scripts/gpu_retrain.sh`, which reassembles the base first):

    python scripts/gpu_retrain.py --data DIR/data/data.npz --base DIR/base.npz --out $OUT/retrain

CPU smoke run on a `--tiny` pack (a 2-layer model; seconds):

    python scripts/gpu_retrain.py --cpu-tiny --data ... --base ... --out /tmp/retrain

`--dry-run` loads the data and prints the plan (jobs, records) without a model;
`--check DIR/data/base-config.json` runs one LoRA step and one scoring batch on a
randomly initialised model of the base's shape (the first staging call's command).
Outputs and the follow-up commands on the CPU: README, "Retraining on a GPU when one is
lent (issue 16)".
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from vulnsight.train.fold_run import RunSettings, check, run  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--data", type=Path, required=True, help="data.npz")
    p.add_argument("--base", type=Path, help="the packed base (.npz)")
    p.add_argument("--out", type=Path, help="where results go (required unless --check)")
    p.add_argument("--budget-s", type=float, default=510.0, help="wall seconds, loading included")
    p.add_argument("--final-share", type=float, default=0.3)
    p.add_argument("--fold-examples", type=int, default=3000)
    p.add_argument("--final-examples", type=int, default=8000)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--score-batch", type=int, default=64)
    p.add_argument("--lr", type=float, default=3e-4)
    p.add_argument("--rank", type=int, default=16)
    p.add_argument("--alpha", type=int, default=32)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--folds", default="", help="comma-separated held-out sources (default all)")
    p.add_argument("--skip-final", action="store_true")
    p.add_argument("--dry-run", action="store_true", help="plan only, no model")
    p.add_argument(
        "--check",
        type=Path,
        metavar="BASE_CONFIG",
        help="software check with random weights of this config (base-config.json): "
        "one LoRA step and one scoring batch, then stop (for a staging call)",
    )
    p.add_argument(
        "--cpu-tiny",
        action="store_true",
        help="CPU, one thread, small caps (a tiny pack): 8 examples per fold, 12 final, batch 4",
    )
    args = p.parse_args(argv)
    settings = RunSettings(
        budget_s=args.budget_s,
        final_share=args.final_share,
        fold_examples=8 if args.cpu_tiny else args.fold_examples,
        final_examples=12 if args.cpu_tiny else args.final_examples,
        batch_size=4 if args.cpu_tiny else args.batch_size,
        score_batch=16 if args.cpu_tiny else args.score_batch,
        lr=args.lr,
        rank=args.rank,
        alpha=args.alpha,
        seed=args.seed,
        folds=tuple(f for f in args.folds.split(",") if f),
        skip_final=args.skip_final,
        min_job_s=0.0 if args.cpu_tiny else 5.0,
    )

    if args.cpu_tiny:
        import torch

        torch.set_num_threads(1)  # tiny matrices: threads only contend on a shared CPU

    def log(msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)

    if args.check is not None:
        check(args.data, args.check, "cpu" if args.cpu_tiny else None, log)
        return 0
    if args.base is None or args.out is None:
        p.error("--base and --out are required (unless --check)")
    info = run(
        args.data,
        args.base,
        args.out,
        settings,
        device="cpu" if args.cpu_tiny else None,
        log=log,
        dry_run=args.dry_run,
    )
    print(json.dumps({k: info.get(k) for k in ("device", "seconds", "finished", "jobs")}, indent=1))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
