#!/usr/bin/env bash
# The committed leaderboard (benchmarks/RESULTS.md, "Evaluation leaderboard"):
# a seeded sample of every shared development corpus, vulnsight's detectors, every peer
# that runs here, and the baselines. Resumable: rerun the same command after an
# interruption. SAMPLE/PERTURB_SAMPLE can be raised on a machine with more cores.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${DATA:-../shared/datasets}
SAMPLE=${SAMPLE:-25}
PERTURB_SAMPLE=${PERTURB_SAMPLE:-3}
OUT=${OUT:-benchmarks/results/eval}
exec nice -n 10 vulnsight eval \
  --data "$DATA/juliet_c_cpp.jsonl" --data "$DATA/sven_dev.jsonl" \
  --data "$DATA/cyberseceval_icd.jsonl" --data "$DATA/securityeval.jsonl" \
  --data "$DATA/llmseceval_secure.jsonl" --data "$DATA/solidifi.jsonl" \
  --data "$DATA/semgrep_rules_tests.jsonl" \
  --detectors "hybrid,rules,llm,semgrep,bandit,flawfinder,cppcheck,njsscan,slither,openai:https://api.openai.com/v1#gpt-4o-mini,flag-all,flag-none,random" \
  --sample "$SAMPLE" --seed 0 --perturb all --perturb-sample "$PERTURB_SAMPLE" \
  --out "$OUT" "$@"
