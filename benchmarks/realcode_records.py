"""Sample functions of mature, presumed-clean packages as eval records (label 0).

The packages are `benchmarks/rules_realcode.py`'s (fetched and cached the same way);
the default is its held-out group, which no rule was tuned on and no model was trained
on (`scripts/harvest_clean.py` skips them). `vulnsight eval` over the output gives each
detector's false-positive rate per language on real code:

    PYTHONPATH=src python benchmarks/realcode_records.py --per-language 60 \
        --out /tmp/realcode.jsonl
    vulnsight eval --data /tmp/realcode.jsonl --detectors rules,llm:base,hybrid --no-plots
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from rules_realcode import PACKAGES, fetch, source_files  # noqa: E402

from vulnsight.languages import language_of  # noqa: E402
from vulnsight.parse.extract import extract  # noqa: E402
from vulnsight.types import SourceFile  # noqa: E402

#: the model sees one function at a time; very long ones are cut anyway
MAX_LINES = 120


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--group", choices=("tuning", "heldout", "all"), default="heldout")
    ap.add_argument("--per-language", type=int, default=60)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    pools: dict[str, list[dict[str, object]]] = defaultdict(list)
    seen: set[str] = set()  # one record per start line (nested units can share one)
    for pkg in PACKAGES:
        if args.group != "all" and pkg.group != args.group:
            continue
        root = fetch(pkg)
        for path in source_files(pkg, root):
            text = path.read_text(encoding="utf-8", errors="replace")
            lang = language_of(path) or pkg.language
            for fn in extract(SourceFile(str(path), lang, text)):
                if fn.kind == "toplevel" or fn.end_line - fn.start_line + 1 > MAX_LINES:
                    continue
                rel = path.relative_to(root)
                rid = f"realcode:{pkg.spec}:{rel}:{fn.start_line}"
                if rid in seen:
                    continue
                seen.add(rid)
                pools[lang].append(
                    {
                        "id": rid,
                        "language": lang,
                        "code": fn.code,
                        "label": 0,
                        "cwe": None,
                        "lines": [],
                        "source": f"realcode-{pkg.group}",
                        "project": f"realcode/{pkg.spec}",
                        "path": str(rel),
                        "meta": {"function": fn.name},
                    }
                )
    rng = random.Random(args.seed)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with args.out.open("w") as fh:
        for lang in sorted(pools):
            pool = pools[lang]
            rng.shuffle(pool)
            for row in pool[: args.per_language]:
                fh.write(json.dumps(row) + "\n")
            print(f"{lang}: {min(len(pool), args.per_language)} of {len(pool)} functions")


if __name__ == "__main__":
    main()
