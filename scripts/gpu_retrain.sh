#!/usr/bin/env bash
# The one command of a GPU retraining run (issue 16), run ON the lent device after the
# staging calls have carried benchmarks/.cache/gpu-retrain/stage* (README: "Retraining
# on a GPU when one is lent"). Reassembles the packed base from its checked parts, then
# runs scripts/gpu_retrain.py into $OUT/retrain; extra arguments go to it.
# A previous run's returned files copied to $PACK/resume/ are picked up: finished folds
# and a finished final adapter are skipped.
set -euo pipefail
PACK=${PACK:-benchmarks/.cache/gpu-retrain}
: "${OUT:?set OUT (the device tool sets it)}"
PY=${PYTHON:-python3}
export PYTHONPATH="$PWD/src:$PACK/data/site${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1
mkdir -p "$OUT/retrain"
if [ -d "$PACK/resume" ]; then
    cp "$PACK/resume/"* "$OUT/retrain/" 2>/dev/null || true
fi
"$PY" - "$PACK" <<'PYEOF'
import sys
from pathlib import Path
from vulnsight.train.packed_base import join_parts
pack = Path(sys.argv[1])
target = pack / "base.npz"
if not target.is_file():
    join_parts(pack / "data" / "base.npz.parts.json", sorted(pack.glob("stage*")), target)
print(f"base: {target} ({target.stat().st_size / 2**20:.1f} MiB)", file=sys.stderr)
PYEOF
"$PY" scripts/gpu_retrain.py --data "$PACK/data/data.npz" --base "$PACK/base.npz" \
    --out "$OUT/retrain" "$@" 2>&1 | tee -a "$OUT/retrain/log.txt"
