#!/usr/bin/env bash
# LRP rules comparison (Fig. 5 and the per-model appendix plots) for model idx 0-3, as the reference's exec
# script, with n = 100 posterior samples and the rules epsilon, gamma and alpha1beta0.
# Environment: ATTACK_METHOD (fgsm), TOPK (20), DEVICE (auto), BLRP_PROFILE (paper | cpu), TEST_INPUTS,
# MODEL_IDXS (0 1 2 3), PYTHON (python3), DEBUG (set: tiny runs under experiments/debug/). Current artifacts are skipped (the reference's --load=True crash on
# a fresh run is gone); the log goes to experiments/logs/.
set -euo pipefail
cd "$(dirname "$0")"
TOPK=${TOPK:-20}
LOG_NAME=rules_robustness
source src/exec_common.sh
for IDX in $MODEL_IDXS; do
  for MODEL in baseNN advNN fullBNN; do
    run src/train_networks.py --model $MODEL --model_idx $IDX --device $DEVICE --skip_current --quiet
    run src/attack_networks.py --model $MODEL --model_idx $IDX --attack_method $ATTACK_METHOD --n_samples 100 $INPUTS --device $DEVICE --skip_current --quiet
    for RULE in epsilon gamma alpha1beta0; do
      run src/compute_lrp.py --model $MODEL --model_idx $IDX --attack_method $ATTACK_METHOD --rule $RULE --n_samples 100 $INPUTS --device $DEVICE --skip_current --quiet
    done
  done
  run src/lrp_rules_robustness.py --model_idx $IDX --attack_method $ATTACK_METHOD --topk $TOPK $INPUTS
done
case " $MODEL_IDXS " in *" 2 "*) case " $MODEL_IDXS " in *" 3 "*)
  run src/lrp_rules_robustness_main.py --attack_method $ATTACK_METHOD --topk $TOPK $INPUTS;; esac;; esac
