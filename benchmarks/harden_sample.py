"""Seeded sample of the default model's held-out test split for the model-hardening eval.

The test split's record ids are read from the committed default-v1 predictions
(`benchmarks/results/default-v1/predictions-test.jsonl.gz`, written by
`benchmarks/default_model.sh`); the records themselves come from the shared datasets.
Only C, C++ and JavaScript are kept: the default model is off in Python and Solidity
(`src/vulnsight/models/default/vulnsight-model.json`), so perturbing those measures
nothing about the model. Never tune on this sample: it is the test split.

Records over `--max-chars` are skipped so that one eval run fits in minutes on the
shared machine (the long tail of 9 records out of 60 held over half the tokens).

    python benchmarks/harden_sample.py --shared /work/shared/datasets --out /tmp/harden/sample.jsonl
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
from collections import Counter
from pathlib import Path

LANGUAGES = ("c", "cpp", "javascript")
PREDICTIONS = Path(__file__).parent / "results/default-v1/predictions-test.jsonl.gz"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shared", type=Path, default=Path("/work/shared/datasets"))
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--vulnerable", type=int, default=40)
    ap.add_argument("--clean", type=int, default=20)
    ap.add_argument("--seed", type=int, default=11)
    ap.add_argument(
        "--max-chars",
        type=int,
        default=1050,
        help="skip longer records (~300 tokens): model time on a shared 2-core machine",
    )
    args = ap.parse_args()
    with gzip.open(PREDICTIONS, "rt", encoding="utf-8") as fh:
        ids = {json.loads(line)["record_id"] for line in fh}
    records = []
    for path in sorted(args.shared.glob("*.jsonl")):
        if path.stem == "semgrep_rules_tests":
            continue
        for line in path.open(encoding="utf-8"):
            row = json.loads(line)
            short = len(row["code"]) <= args.max_chars
            if row["id"] in ids and row["language"] in LANGUAGES and short:
                records.append(row)
    records.sort(key=lambda r: r["id"])
    rng = random.Random(args.seed)
    picked = []
    for label, n in ((1, args.vulnerable), (0, args.clean)):
        pool = [r for r in records if r["label"] == label]
        # stratify by (source, language): round-robin over shuffled groups
        groups: dict[tuple[str, str], list[dict[str, object]]] = {}
        for r in pool:
            groups.setdefault((str(r["source"]), str(r["language"])), []).append(r)
        for g in groups.values():
            rng.shuffle(g)
        keys = sorted(groups)
        while len([p for p in picked if p["label"] == label]) < min(n, len(pool)):
            for k in keys:
                if groups[k] and len([p for p in picked if p["label"] == label]) < n:
                    picked.append(groups[k].pop())
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w", encoding="utf-8") as fh:
        for r in picked:
            fh.write(json.dumps(r) + "\n")
    print(len(picked), dict(Counter((r["source"], r["language"], r["label"]) for r in picked)))


if __name__ == "__main__":
    main()
