#!/usr/bin/env bash
# Layer-wise robustness (Figs. 4, 6 and the appendix density/scatter plots) for model idx 0-3, as the
# reference's exec script: det/adv/Bayesian nets trained, attacked (n = 10, 50, 100 in one run) and explained.
# Environment: ATTACK_METHOD (fgsm; "fgsm pgd" for both), RULE (epsilon), DEVICE (auto), BLRP_PROFILE
# (paper | cpu), TEST_INPUTS (default: the profile's), MODEL_IDXS (0 1 2 3), PYTHON (python3),
# DEBUG (set: tiny runs under experiments/debug/).
# Stages whose artifacts are current are skipped; the log goes to experiments/logs/.
set -euo pipefail
cd "$(dirname "$0")"
RULE=${RULE:-epsilon}
LOG_NAME=layers_robustness
source src/exec_common.sh
for IDX in $MODEL_IDXS; do
  for MODEL in baseNN advNN fullBNN; do
    run src/train_networks.py --model $MODEL --model_idx $IDX --device $DEVICE --skip_current --quiet
  done
  for ATK in $ATTACK_METHOD; do
    for MODEL in baseNN advNN fullBNN; do
      run src/attack_networks.py --model $MODEL --model_idx $IDX --attack_method $ATK $INPUTS --device $DEVICE --skip_current --quiet
      run src/compute_lrp.py --model $MODEL --model_idx $IDX --attack_method $ATK --rule $RULE $INPUTS --device $DEVICE --skip_current --quiet
    done
    run src/lrp_robustness_diff.py --model_idx $IDX --attack_method $ATK --rule $RULE $INPUTS
    run src/lrp_robustness_scatterplot.py --model_idx $IDX --attack_method $ATK --rule $RULE $INPUTS
  done
done
