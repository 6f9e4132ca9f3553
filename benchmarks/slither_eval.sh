#!/usr/bin/env bash
# Slither beside vulnsight on the Solidity corpora (benchmarks/RESULTS.md, "Slither on
# the Solidity corpora"). Needs slither-analyzer and `npm ci --ignore-scripts` in
# tools/solcjs (offline solc-js shim). Resumable: rerun after an interruption.
#   full:   every Solidity record; slither, rules, and the baselines.
#   sample: SAMPLE records per source (seeded, labels balanced); adds hybrid (the model
#           costs ~1 s per function on the shared 2-core machine).
# semgrep_rules_tests is development data the rule pack was fitted to: rules and hybrid
# are never scored on it (the harness drops it for them); Slither and the baselines are.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/datasets}
OUT=${OUT:-benchmarks/results/slither}
SAMPLE=${SAMPLE:-60}
SUBSET=$(mktemp -d)
trap 'rm -rf "$SUBSET"' EXIT
# Only the Solidity records of Semgrep's rule tests (the file holds five languages).
python - "$DATA/semgrep_rules_tests.jsonl" "$SUBSET/semgrep_rules_tests.solidity.jsonl" <<'PY'
import json, sys
with open(sys.argv[1], encoding="utf-8") as src, open(sys.argv[2], "w", encoding="utf-8") as dst:
    for line in src:
        if line.strip() and json.loads(line)["language"] == "solidity":
            dst.write(line)
PY
FILES=(--data "$DATA/solidifi.jsonl" --data "$SUBSET/semgrep_rules_tests.solidity.jsonl")
python benchmarks/slither_coverage.py "${FILES[@]}" --out "$OUT/coverage.json"
nice -n 10 vulnsight eval "${FILES[@]}" --detectors slither,rules,flag-all,random \
  --seed 0 --out "$OUT/full" --no-progress --no-plots "$@"
python benchmarks/slither_coverage.py "${FILES[@]}" --predictions "$OUT/full/predictions.jsonl" \
  --out "$OUT/compiled_only.json"
nice -n 10 vulnsight eval "${FILES[@]}" --detectors hybrid,slither,rules \
  --sample "$SAMPLE" --seed 0 --out "$OUT/sample" --no-progress --no-plots "$@"
