#!/usr/bin/env bash
# Train the shipped default model (LoRA on the embedded Gemma 3 270M) and measure it.
#
#   DATA=../shared/datasets bash benchmarks/default_model.sh [WORK_DIR]
#
# Steps: harvest presumed-clean functions from mature packages (site-packages, npm,
# Debian sources: needs a deb-src line for apt-get source); build train/val/test by
# project; stage 1 trains on the corpora (CPU: bf16 base, fp32 LoRA, ~1 h); stage 2
# continues on a mix heavy in clean code of packages stage 1 never saw (~1 h);
# `vulnsight calibrate` picks per-language thresholds on validation plus clean code of
# held-out packages; `vulnsight eval` measures the held-out test split and functions of
# held-out mature packages.
set -euo pipefail
DATA=${DATA:-../shared/datasets}
WORK=${1:-/tmp/vulnsight-default-model}
MINUTES=${MINUTES:-62}
MINUTES2=${MINUTES2:-95}
FLAG_RATE=${FLAG_RATE:-0.05}
mkdir -p "$WORK"

[ -s "$WORK/mature_clean.jsonl" ] ||
    python scripts/harvest_clean.py --out "$WORK/mature_clean.jsonl"
python scripts/default_model_data.py --shared "$DATA" --clean "$WORK/mature_clean.jsonl" \
    --out "$WORK/splits"
vulnsight train --data "$WORK/splits/train.jsonl" --dev-data "$WORK/splits/val.jsonl" \
    --out "$WORK/stage1" --max-length 768 --grad-accum 8 --eval-every 40 --max-dev 201 \
    --lr 3e-4 --max-minutes "$MINUTES"

python scripts/default_model_stage2.py --stage1 "$WORK/splits" \
    --clean "$WORK/mature_clean.jsonl" --out "$WORK/stage2"
vulnsight train --data "$WORK/stage2/train.jsonl" --dev-data "$WORK/splits/val.jsonl" \
    --resume "$WORK/stage1/adapter" --out "$WORK/model" --max-length 768 --grad-accum 8 \
    --eval-every 56 --max-dev 201 --lr 2e-4 --max-minutes "$MINUTES2"
vulnsight calibrate --model "$WORK/model" --data "$WORK/splits/val.jsonl" \
    --clean "$WORK/stage2/tune_clean.jsonl" --max-flag-rate "$FLAG_RATE"

PYTHONPATH=src python benchmarks/realcode_records.py --per-language 60 \
    --out "$WORK/realcode.jsonl"
for set in test realcode; do
    file="$WORK/splits/test.jsonl"
    [ "$set" = realcode ] && file="$WORK/realcode.jsonl"
    vulnsight eval --data "$file" --detectors "rules,llm:base,llm:$WORK/model,hybrid" \
        --model "$WORK/model" --out "$WORK/eval-$set" --no-plots
done
