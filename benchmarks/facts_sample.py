"""The labelled sample for "facts in the prompt or not" (issue 17, part 2).

Writes the shipped model's held-out test records (default-v1's test split, the ids in
`benchmarks/results/default-v1/predictions-test.jsonl.gz`) in the languages where the
model is on (C, C++, JavaScript) as one JSONL file, topped up per language with seeded
records of the shared datasets up to `--per-language` (semgrep_rules_tests and reserved
items never), and says how many records data flow finds facts in. Then:

    vulnsight eval --data OUT.jsonl --detectors llm,llm+facts --out DIR --no-plots

A record without facts gets the same prompt either way, so on a loaded machine it is
enough to run the model on the records with facts (`--with-facts-out`) and count how
their flags change (benchmarks/RESULTS.md shows the arithmetic).

    python benchmarks/facts_sample.py [--per-language 150] [--seed 0] [--out FILE]
"""

from __future__ import annotations

import argparse
import gzip
import json
import random
import sys
import tempfile
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATASETS = Path("/work/shared/datasets")
LANGUAGES = ("c", "cpp", "javascript")
EXTENSION = {"c": ".c", "cpp": ".cpp", "javascript": ".js"}


def facts_in(rec: dict[str, object]) -> bool:
    """Whether data flow finds a fact in the record's code (written as one file)."""
    from vulnsight.dataflow import analyse
    from vulnsight.discover import discover
    from vulnsight.parse.callgraph import CallGraph
    from vulnsight.pipeline import parse_files

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"record{EXTENSION[str(rec['language'])]}"
        path.write_text(str(rec["code"]))
        found = discover([Path(tmp)])
        functions, _ = parse_files(found.files)
        result = analyse(found.files, functions, CallGraph.build(functions))
        return any(not f.empty for f in result.facts.values())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--per-language", type=int, default=150)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, default=Path("/tmp/facts_sample.jsonl"))
    ap.add_argument(
        "--with-facts-out",
        type=Path,
        default=None,
        help="also write the records data flow finds facts in (the only ones whose prompt "
        "differs with facts shown; every other record's prompt is byte-identical)",
    )
    args = ap.parse_args()
    from vulnsight.bench.records import filter_reserved, load_records

    with gzip.open(ROOT / "benchmarks/results/default-v1/predictions-test.jsonl.gz", "rt") as fh:
        test_ids = {json.loads(line)["record_id"] for line in fh}
    files = sorted(p for p in DATASETS.glob("*.jsonl") if p.stem != "semgrep_rules_tests")
    records, dropped = filter_reserved(load_records(files))
    raw = {}
    for path in files:
        for line in path.open():
            obj = json.loads(line)
            raw[obj["id"]] = obj
    chosen: list[dict[str, object]] = []
    rng = random.Random(args.seed)
    for language in LANGUAGES:
        pool = [r for r in records if r.language == language and r.id in raw]
        test = [r for r in pool if r.id in test_ids]
        rest = [r for r in pool if r.id not in test_ids]
        rng.shuffle(rest)
        take = test + rest[: max(0, args.per_language - len(test))]
        chosen.extend(raw[r.id] for r in take)
    with args.out.open("w") as fh:
        for rec in chosen:
            fh.write(json.dumps(rec) + "\n")
    counts = Counter((str(r["language"]), int(r["label"])) for r in chosen)  # type: ignore[call-overload]
    having = [r for r in chosen if facts_in(r)]
    with_facts = Counter(str(r["language"]) for r in having)
    if args.with_facts_out is not None:
        with args.with_facts_out.open("w") as fh:
            for rec in having:
                fh.write(json.dumps(rec) + "\n")
    print(f"{len(chosen)} records -> {args.out} (reserved dropped: {dropped})", file=sys.stderr)
    for language in LANGUAGES:
        n = counts[(language, 0)] + counts[(language, 1)]
        tests = sum(1 for r in chosen if r["language"] == language and r["id"] in test_ids)
        print(
            f"{language}: {n} records ({counts[(language, 1)]} vulnerable, {tests} from the "
            f"test split), {with_facts[language]} with data-flow facts"
        )


if __name__ == "__main__":
    main()
