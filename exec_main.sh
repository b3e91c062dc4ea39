#!/usr/bin/env bash
# The main job: everything the paper's main figures need, then the figures, into experiments/figures/.
# Environment: BLRP_PROFILE (cpu | paper; default paper), DEVICE (auto), PYTHON (python3).
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
export BLRP_PROFILE=${BLRP_PROFILE:-paper}
DEVICE=${DEVICE:-auto}
mkdir -p experiments/logs
LOG=experiments/logs/$(date +%Y-%m-%d_%H-%M-%S)_main.txt
echo "main job, profile $BLRP_PROFILE, log $LOG"
run() { echo "+ $*" | tee -a "$LOG"; "$PYTHON" "$@" 2>&1 | tee -a "$LOG"; }
start=$(date +%s)
for MODEL_IDX in 0 1 2 3; do
  for MODEL in baseNN advNN; do
    run src/train_networks.py --model $MODEL --model_idx $MODEL_IDX --device $DEVICE --skip_current --quiet
  done
done
echo "main job done in $(( $(date +%s) - start )) s" | tee -a "$LOG"
