"""Stage 2 of the shipped default model: continue from the stage-1 adapter on a mix
heavy in presumed-clean code of packages it never saw, and hold out a tuning set of
other clean packages for per-language thresholds.

Stage 1 (lora-v1) flagged a quarter of the functions of mature packages; the lever is
ordinary clean code, above all C, C++ and Solidity, which stage 1 barely had.

    python scripts/default_model_stage2.py --stage1 /tmp/dm --clean /tmp/clean2.jsonl \
        --out /tmp/dm2

Writes train.jsonl (stage-1 training records, re-sampled, plus new clean functions),
tune_clean.jsonl (clean functions of TUNE_PROJECTS, never trained on) for
`vulnsight calibrate --clean`, and calib.jsonl for `vulnsight calibrate --data`: stage 1's
validation sample plus more records of its validation projects (at most CALIB_CAP per
language and label), since the 201-record sample holds only a handful of vulnerable
JavaScript and Python functions.
Never the val/test projects of stage 1, never reserved projects.
"""

from __future__ import annotations

import argparse
import json
import random
from collections import Counter
from pathlib import Path

from vulnsight.bench.records import record_row
from vulnsight.train.data import Record, is_reserved, load_records, stratified
from vulnsight.train.head_run import three_way

#: clean packages held out of training, to choose per-language thresholds on
TUNE_PROJECTS = {
    "debian/redis",
    "debian/tmux",
    "debian/leveldb",
    "debian/snappy",
    "npm/moment",
    "npm/handlebars",
    "npm/zod",
    "npm/@gnosis.pm/safe-contracts",
    "npm/erc721a",
}
#: new clean functions per language in the stage-2 training mix
NEW_CLEAN = {"c": 100, "cpp": 70, "javascript": 60, "typescript": 30, "solidity": 70, "python": 50}
#: stage-1 training records re-used, per source
STAGE1 = {
    "juliet_c_cpp": 170,
    "sven": 120,
    "cyberseceval_icd": 100,
    "solidifi": 60,
    "mature-clean": 60,
}
TUNE_PER_LANGUAGE = 40
CALIB_CAP = 100
#: the corpora scripts/default_model_data.py splits
STAGE1_SOURCES = ("juliet_c_cpp", "sven_dev", "cyberseceval_icd", "solidifi")


def pick(records: list[Record], n: int, seed: int) -> list[Record]:
    if len(records) <= n:
        return list(records)
    return stratified(records, n, random.Random(seed), lambda r: (r.label, r.project))[:n]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--stage1", type=Path, required=True, help="dir with train/val/test.jsonl")
    ap.add_argument("--clean", type=Path, required=True, help="harvest_clean.py output")
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--shared", type=Path, default=Path("../shared/datasets"))
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    train1 = load_records([args.stage1 / "train.jsonl"])
    held = {r.project for r in load_records([args.stage1 / f"{p}.jsonl" for p in ("val", "test")])}
    seen = {r.id for r in train1}
    clean = [
        r
        for r in load_records([args.clean])
        if not is_reserved(r.project) and r.project not in held and r.id not in seen
    ]
    train: list[Record] = []
    for source, n in STAGE1.items():  # each label half of the share (all if fewer)
        rows = [r for r in train1 if r.source == source]
        clean_rows = [r for r in rows if r.label == 0]
        share = n // 2 if clean_rows else n
        vulnerable = pick([r for r in rows if r.label == 1], share, args.seed)
        train += vulnerable + pick(clean_rows, n - len(vulnerable), args.seed)
    pool = [r for r in clean if r.project not in TUNE_PROJECTS]
    for lang, n in NEW_CLEAN.items():
        train += pick([r for r in pool if r.language == lang], n, args.seed)
    tune: list[Record] = []
    for lang in NEW_CLEAN:
        tuning = [r for r in clean if r.project in TUNE_PROJECTS and r.language == lang]
        tune += pick(tuning, TUNE_PER_LANGUAGE, args.seed)
    random.Random(args.seed).shuffle(train)
    calib = load_records([args.stage1 / "val.jsonl"])
    test_projects = {r.project for r in load_records([args.stage1 / "test.jsonl"])}
    trained = {r.project for r in train1 + train}
    seen_ids = {r.id for r in calib}
    corpora = [args.shared / f"{s}.jsonl" for s in STAGE1_SOURCES]
    # the validation partition of scripts/default_model_data.py (same split, same seed);
    # not solidifi, whose validation and test halves that script swapped
    more = [
        r
        for r in three_way(load_records(corpora), 0.3, 0)["val"]
        if r.source != "solidifi"
        and r.id not in seen_ids
        and r.project not in test_projects | trained
        and not is_reserved(r.project)
    ]
    for key in sorted({(r.language, r.label) for r in more}):
        have = sum((r.language, r.label) == key for r in calib)
        group = [r for r in more if (r.language, r.label) == key]
        calib += pick(group, max(0, CALIB_CAP - have), args.seed)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, part in (("train", train), ("tune_clean", tune), ("calib", calib)):
        with (args.out / f"{name}.jsonl").open("w") as fh:
            for r in part:
                fh.write(json.dumps(record_row(r)) + "\n")
        print(name, len(part), dict(Counter((r.source, r.label) for r in part)))
        print("  ", dict(Counter((r.language, r.label) for r in part)))


if __name__ == "__main__":
    main()
