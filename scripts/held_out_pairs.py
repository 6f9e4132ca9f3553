"""A seeded sample of mined fix pairs per language, both halves of every pair, at most a
few pairs per repository (so one project does not decide a language): the held-out
records `scripts/model_on_off.py` decides on.

    python scripts/held_out_pairs.py data/fixes/pairs.jsonl.gz --per-language 16 \\
        --languages c,cpp,javascript --out onoff-pairs.jsonl
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
from pathlib import Path
from typing import Any


def sample_pairs(
    records: list[dict[str, Any]], languages: list[str], per_language: int, seed: int = 0
) -> list[dict[str, Any]]:
    """`per_language` whole pairs of each language: at most 2 per repository, then 4, 8."""
    pairs: dict[str, list[dict[str, Any]]] = {}
    for r in records:
        pairs.setdefault(str(r["meta"]["pair_id"]), []).append(r)
    rng = random.Random(seed)
    out: list[dict[str, Any]] = []
    for lang in languages:
        ids = sorted(p for p, v in pairs.items() if len(v) == 2 and v[0]["language"] == lang)
        rng.shuffle(ids)
        chosen: list[str] = []
        per_repo: dict[str, int] = {}
        for cap in (2, 4, 8):
            for p in ids:
                repo = str(pairs[p][0]["project"])
                if len(chosen) == per_language or p in chosen or per_repo.get(repo, 0) >= cap:
                    continue
                per_repo[repo] = per_repo.get(repo, 0) + 1
                chosen.append(p)
        for p in chosen:
            out.extend(sorted(pairs[p], key=lambda r: -int(r["label"])))
    return out


def main() -> None:
    """Write the sample as JSONL."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("pairs", type=Path, help="mined pairs (.jsonl or .jsonl.gz)")
    p.add_argument("--languages", default="c,cpp,javascript")
    p.add_argument("--per-language", type=int, default=16)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, required=True)
    args = p.parse_args()
    opener: Any = gzip.open if args.pairs.suffix == ".gz" else open
    with opener(args.pairs, "rt", encoding="utf-8") as fh:
        records = [json.loads(line) for line in fh if line.strip()]
    sample = sample_pairs(records, args.languages.split(","), args.per_language, args.seed)
    args.out.write_text("".join(json.dumps(r) + "\n" for r in sample), "utf-8")
    print(f"{len(sample)} records -> {args.out}")


if __name__ == "__main__":
    main()
