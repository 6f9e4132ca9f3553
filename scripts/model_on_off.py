"""Turn the shipped model off in the languages where, on a source it never trained on,
the shipped hybrid does not beat rules+flow (`vulnsight.bench.onoff`).

    vulnsight eval --data data/fixes/pairs.jsonl.gz --detectors hybrid,rules+flow,rules \\
        --out out/onoff
    python scripts/model_on_off.py --results out/onoff/results.json --source fix-pairs [--apply]

Prints the decisions; with --apply rewrites the shipped manifest
(src/vulnsight/models/default/vulnsight-model.json).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from vulnsight.bench.onoff import apply, decide

MANIFEST = Path(__file__).resolve().parents[1] / "src/vulnsight/models/default/vulnsight-model.json"


def main() -> None:
    """Read the eval results, print each language's decision, optionally apply them."""
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--results", type=Path, required=True, help="vulnsight eval's results.json")
    p.add_argument("--source", default="fix-pairs", help="what the held-out records were")
    p.add_argument("--manifest", type=Path, default=MANIFEST)
    p.add_argument("--apply", action="store_true", help="rewrite the manifest")
    args = p.parse_args()
    decisions = decide(json.loads(args.results.read_text("utf-8")))
    for d in decisions:
        state = {True: "on", False: "off", None: "unchanged"}[d.on]
        print(f"{d.language:12} {state:9} {d.reason}")
    if args.apply:
        manifest = json.loads(args.manifest.read_text("utf-8"))
        updated = apply(manifest, decisions, args.source)
        args.manifest.write_text(json.dumps(updated, indent=2) + "\n", "utf-8")
        print(f"wrote {args.manifest}")


if __name__ == "__main__":
    main()
