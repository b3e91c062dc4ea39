#!/usr/bin/env bash
# LRP rules comparison (Fig. 5 and the per-model appendix plots) for model idx 0-3, as the reference's exec
# script, with n = 100 posterior samples and the rules epsilon, gamma and alpha1beta0: the workflow's
# `rules_robustness` target. Environment: ATTACK_METHOD (fgsm), TOPK (20), DEVICE (auto), BLRP_PROFILE
# (paper | cpu), TEST_INPUTS, MODEL_IDXS (0 1 2 3), CIFAR (1: Fig. 5 with its CIFAR-10 row), PYTHON (python3,
# with snakemake), DEBUG (set: tiny runs under experiments/debug/), CORES, SNAKEMAKE_ARGS. Current artifacts are
# skipped (the reference's --load=True crash on a fresh run is gone); the log goes to experiments/logs/.
set -euo pipefail
cd "$(dirname "$0")"
LOG_NAME=rules_robustness
source src/exec_common.sh
workflow rules_robustness model_idxs="$(yaml_list "$MODEL_IDXS")" attack="$ATTACK_METHOD" topk="${TOPK:-20}" \
  cifar="$([ "${CIFAR:-1}" = 1 ] && echo true || echo false)"
