#!/usr/bin/env bash
# CIFAR-10: train, attack and explain (epsilon, gamma, alpha1beta0) the deterministic, adversarially trained and
# Bayesian ResNet-20 (settings entry 6), then draw the appendix plot: the workflow's `cifar` target, the same
# stages as full_test_cifar_*.py --mode train|test. Environment: ATTACK_METHOD (fgsm), TEST_INPUTS (500; CPU profile
# 200), ATK_SAMPLES (100), TOPK (20), DEVICE (auto), BLRP_PROFILE (paper | cpu: README, "CIFAR-10"), PYTHON
# (python3, with snakemake), DEBUG (set: tiny runs), CORES, SNAKEMAKE_ARGS. Current artifacts are skipped; the log
# goes to experiments/logs/.
set -euo pipefail
cd "$(dirname "$0")"
LOG_NAME=cifar
source src/exec_common.sh
workflow cifar attack="$ATTACK_METHOD" topk="${TOPK:-20}" atk_samples="${ATK_SAMPLES:-100}"
