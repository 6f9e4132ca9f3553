"""F1 and Youden's J per language of the model and of rules + model, re-derived from a
`vulnsight eval` run's saved predictions at the thresholds of a model manifest.

Exact for flags: a record's model score is the highest P(vulnerable) of its functions,
so the model flags it iff that score reaches its language's threshold; the hybrid
flags it iff the rules or the model do (the merge never drops a rule hit).

    python benchmarks/rethreshold.py EVAL_DIR --records FILE.jsonl \
        --llm 'llm[/tmp/model]' --manifest MODEL/vulnsight-model.json
"""

from __future__ import annotations

import argparse
import json
import math
from collections import defaultdict
from pathlib import Path

from vulnsight.llm.models import language_thresholds
from vulnsight.train.metrics import confusion


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("eval_dir", type=Path)
    ap.add_argument("--records", type=Path, required=True)
    ap.add_argument("--llm", required=True, help="the model detector's name in the eval")
    ap.add_argument("--manifest", type=Path, required=True)
    args = ap.parse_args()
    meta = json.loads(args.manifest.read_text("utf-8"))
    default = float(meta.get("threshold", 0.5))
    by_lang = language_thresholds(meta.get("thresholds") or {}, args.manifest)
    records = {}
    for line in args.records.read_text("utf-8").splitlines():
        if line.strip():
            r = json.loads(line)
            records[r["id"]] = r
    preds: dict[str, dict[str, dict]] = defaultdict(dict)
    for line in (args.eval_dir / "predictions.jsonl").read_text("utf-8").splitlines():
        p = json.loads(line)
        if p["perturbation"] == "none" and p["record_id"] in records:
            preds[p["detector"]][p["record_id"]] = p
    rows: dict[str, dict[str, list[tuple[int, int]]]] = defaultdict(lambda: defaultdict(list))
    for rid, rule in preds["rules"].items():
        model = preds[args.llm].get(rid)
        if model is None or rule.get("error") or model.get("error"):
            continue
        rec = records[rid]
        lang = rec["language"]
        t = by_lang.get(lang, default)
        m = int(model["score"] >= t)
        for name, flag in (("rules", int(rule["predicted"])), ("model", m)):
            rows[name][lang].append((rec["label"], flag))
            rows[name]["all"].append((rec["label"], flag))
        both = int(rule["predicted"]) | m
        rows["rules + model"][lang].append((rec["label"], both))
        rows["rules + model"]["all"].append((rec["label"], both))
    langs = sorted(k for k in rows["rules"] if k != "all") + ["all"]
    print(
        "| detector | "
        + " | ".join(f"{lang} ({len(rows['rules'][lang])})" for lang in langs)
        + " |"
    )
    print("|---|" + "---:|" * len(langs))
    for name in ("rules + model", "rules", "model"):
        cells = []
        for lang in langs:
            pairs = rows[name][lang]
            c = confusion([y for y, _ in pairs], [float(f) for _, f in pairs], 0.5)
            cells.append(f"{c.f1:.2f} / {c.youden_j:.2f}")
        print(f"| {name} | " + " | ".join(cells) + " |")
    shown = {k: (v if math.isfinite(v) else "off") for k, v in sorted(by_lang.items())}
    print(f"\nthresholds: {shown}, other languages {default}")


if __name__ == "__main__":
    main()
