#!/usr/bin/env bash
# The main job: every network, attack and heatmap the paper's main figures (1, 3, 4, 5, 6) need,
# then the figures, into experiments/figures/. Stages whose artifacts are current are skipped.
# Environment: BLRP_PROFILE (cpu | paper; default paper), DEVICE (auto), PYTHON (python3), DEBUG (set: tiny runs),
# CIFAR (1: also run exec_cifar.sh for Fig. 5's CIFAR-10 row; 0: skip it and draw the row as not computed).
set -euo pipefail
cd "$(dirname "$0")"
PYTHON=${PYTHON:-python3}
export BLRP_PROFILE=${BLRP_PROFILE:-paper}
DEVICE=${DEVICE:-auto}
LOGDIR=${BLRP_EXPERIMENTS:-experiments}/logs
mkdir -p "$LOGDIR"
LOG=$LOGDIR/$(date +%Y-%m-%d_%H-%M-%S)_main.txt
echo "main job, profile $BLRP_PROFILE, log $LOG"
DBG=${DEBUG:+--debug}
run() { echo "+ $*" | tee -a "$LOG"; "$PYTHON" "$@" --device "$DEVICE" --quiet $DBG 2>&1 | tee -a "$LOG"; }
start=$(date +%s)
for IDX in 0 1 2 3; do
  for MODEL in baseNN advNN fullBNN; do
    run src/train_networks.py --model $MODEL --model_idx $IDX --skip_current
  done
done
# (model idx, attack, rules): Fig. 1, 5 use idx 2/3 FGSM with three rules; Fig. 3, 6 idx 0 FGSM; Fig. 4 idx 1 FGSM,
# idx 3 PGD; Fig. 6 idx 2 PGD.
for JOB in "0 fgsm epsilon" "1 fgsm epsilon" "2 fgsm epsilon gamma alpha1beta0" "3 fgsm epsilon gamma alpha1beta0" \
           "2 pgd epsilon" "3 pgd epsilon"; do
  set -- $JOB; IDX=$1; ATK=$2; shift 2
  for MODEL in baseNN advNN fullBNN; do
    run src/attack_networks.py --model $MODEL --model_idx $IDX --attack_method $ATK --skip_current
    for RULE in "$@"; do
      run src/compute_lrp.py --model $MODEL --model_idx $IDX --attack_method $ATK --rule $RULE --skip_current
    done
  done
done
echo "MNIST and Fashion-MNIST networks, attacks and heatmaps done in $(( $(date +%s) - start )) s" | tee -a "$LOG"
export CIFAR=${CIFAR:-1}
if [ "$CIFAR" = 1 ]; then
  DEVICE=$DEVICE PYTHON=$PYTHON bash exec_cifar.sh 2>&1 | tee -a "$LOG"
  echo "CIFAR-10 pipeline done at $(( $(date +%s) - start )) s" | tee -a "$LOG"
fi
BLRP_PROFILE=$BLRP_PROFILE PYTHON=$PYTHON bash src/make_main_figures.sh 2>&1 | tee -a "$LOG"
echo "main job done in $(( $(date +%s) - start )) s" | tee -a "$LOG"
