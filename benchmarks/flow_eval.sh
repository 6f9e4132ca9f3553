#!/usr/bin/env bash
# The rules' J before (rules) and after (rules+flow) the data-flow detector, per language,
# on a seeded sample of the shared corpora; no model. About a minute on two cores.
set -euo pipefail
D=${DATASETS:-/work/shared/datasets}
OUT=${1:-/tmp/flow_eval}
${VULNSIGHT:-vulnsight} eval --data "$D/securityeval.jsonl" --data "$D/llmseceval_secure.jsonl" \
    --data "$D/sven_dev.jsonl" --data "$D/cyberseceval_icd.jsonl" \
    --data "$D/semgrep_rules_tests.jsonl" --data "$D/juliet_c_cpp.jsonl" \
    --detectors rules,rules+flow,flow \
    --sample 300 --seed 0 --out "$OUT" --no-plots
