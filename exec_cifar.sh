#!/usr/bin/env bash
# CIFAR-10 (reference.md section 6, exec_cifar.sh): train, then test (accuracy, attack, LRP for epsilon, gamma
# and alpha1beta0) the deterministic, adversarially trained and Bayesian ResNet-20, then draw the appendix plot.
# Environment: ATTACK_METHOD (fgsm), TEST_INPUTS (500; CPU profile 200), ATK_SAMPLES (100), TOPK (20),
# DEVICE (auto), BLRP_PROFILE (paper | cpu: README, "CIFAR-10"), PYTHON (python3), DEBUG (set: tiny runs).
# Current artifacts are skipped; the log goes to experiments/logs/.
set -euo pipefail
cd "$(dirname "$0")"
TOPK=${TOPK:-20}
ATK_SAMPLES=${ATK_SAMPLES:-100}
LOG_NAME=cifar
source src/exec_common.sh
CIFAR_INPUTS=${TEST_INPUTS:+--test_inputs $TEST_INPUTS}
"$PYTHON" src/get_data.py --dataset cifar 2>&1 | tee -a "$LOG"
for MODE in train test; do
  EXTRA=()
  [ "$MODE" = test ] && EXTRA=(--attack_method "$ATTACK_METHOD" $CIFAR_INPUTS)
  run src/full_test_cifar_resnet.py --mode $MODE "${EXTRA[@]}" --device $DEVICE --skip_current --quiet
  run src/full_test_cifar_adversarial_resnet.py --mode $MODE "${EXTRA[@]}" --device $DEVICE --skip_current --quiet
  [ "$MODE" = test ] && EXTRA+=(--n_samples "$ATK_SAMPLES")
  run src/full_test_cifar_bayesian_resnet.py --mode $MODE "${EXTRA[@]}" --device $DEVICE --skip_current --quiet
done
run src/lrp_rules_robustness_cifar.py --attack_method $ATTACK_METHOD --n_samples $ATK_SAMPLES --topk $TOPK ${TEST_INPUTS:+--n_inputs $TEST_INPUTS}
