#!/usr/bin/env bash
# Train the shipped default model (LoRA on the embedded Gemma 3 270M) and measure it.
#
#   DATA=../shared/datasets bash benchmarks/default_model.sh [WORK_DIR]
#
# Steps: harvest presumed-clean functions from mature packages; build train/val/test
# by project; train (CPU: bf16 base, fp32 LoRA, ~1 h budget); evaluate the held-out
# test split and functions of held-out mature packages with `vulnsight eval`.
set -euo pipefail
DATA=${DATA:-../shared/datasets}
WORK=${1:-/tmp/vulnsight-default-model}
MINUTES=${MINUTES:-62}
mkdir -p "$WORK"

[ -s "$WORK/mature_clean.jsonl" ] ||
    python scripts/harvest_clean.py --out "$WORK/mature_clean.jsonl"
python scripts/default_model_data.py --shared "$DATA" --clean "$WORK/mature_clean.jsonl" \
    --out "$WORK/splits"
vulnsight train --data "$WORK/splits/train.jsonl" --dev-data "$WORK/splits/val.jsonl" \
    --out "$WORK/model" --max-length 768 --grad-accum 8 --eval-every 40 --max-dev 201 \
    --lr 3e-4 --max-minutes "$MINUTES"

PYTHONPATH=src python benchmarks/realcode_records.py --per-language 60 \
    --out "$WORK/realcode.jsonl"
for set in test realcode; do
    file="$WORK/splits/test.jsonl"
    [ "$set" = realcode ] && file="$WORK/realcode.jsonl"
    vulnsight eval --data "$file" --detectors "rules,llm:base,llm:$WORK/model,hybrid" \
        --model "$WORK/model" --out "$WORK/eval-$set" --no-plots
done
