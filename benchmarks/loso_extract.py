"""Extract the base model's decision-point logits for `vulnsight eval --loso` in shards.

`vulnsight eval --loso` computes them itself (one process); on a shared machine several
single-threaded shard processes get more CPU than one (llama.cpp threads stall under
load), so the committed run used this with `--shard 0/2` and `--shard 1/2` side by side,
then `vulnsight eval --loso --loso-cached` with the same --data/--sample/--seed/--out.
Rows go to the same resumable cache (`head_features.jsonl` in --out).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from vulnsight.bench.loso_command import HEAD_BASE, loso_records
from vulnsight.bench.loso_features import FeatureCache, cache_settings, extract_logits, interleaved
from vulnsight.llm.head import feature_tokens
from vulnsight.llm.models import load


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--data", action="append", type=Path, required=True)
    ap.add_argument("--sample", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--budget", type=int, default=2048)
    ap.add_argument("--shard", default="0/1", help="K/N: every N-th record from the K-th")
    args = ap.parse_args()
    k, n = (int(v) for v in args.shard.split("/"))
    records, _ = loso_records(
        {"data": args.data, "include_reserved": False, "sample": args.sample, "seed": args.seed}
    )
    backend = load(HEAD_BASE, n_threads=1)
    true_false = tuple(backend.true_false_ids)
    ids = [int(t) for t in feature_tokens(backend._llm.n_vocab(), always=true_false)]
    cache = FeatureCache(
        args.out / "head_features.jsonl", cache_settings(HEAD_BASE, ids, args.budget)
    )
    mine = interleaved(records)[k::n]

    def log(stage: str, done: int, total: int) -> None:
        print(f"[shard {k}/{n}] {stage}: {done}/{total}", flush=True)

    extract_logits(mine, backend, cache, ids, args.budget, log)
    backend.close()


if __name__ == "__main__":
    main()
