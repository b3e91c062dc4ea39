#!/usr/bin/env bash
# Layer-wise robustness (Figs. 4, 6 and the appendix density/scatter plots) for model idx 0-3, as the
# reference's exec script: det/adv/Bayesian nets trained, attacked (n = 10, 50, 100 in one run) and explained.
# The workflow's `layers_robustness` target. Environment: ATTACK_METHOD (fgsm; "fgsm pgd" for both), RULE
# (epsilon), DEVICE (auto), BLRP_PROFILE (paper | cpu), TEST_INPUTS (default: the profile's), MODEL_IDXS
# (0 1 2 3), PYTHON (python3, with snakemake), DEBUG (set: tiny runs under experiments/debug/), CORES, SNAKEMAKE_ARGS.
# Current stages are skipped; the log goes to experiments/logs/.
set -euo pipefail
cd "$(dirname "$0")"
LOG_NAME=layers_robustness
source src/exec_common.sh
workflow layers_robustness model_idxs="$(yaml_list "$MODEL_IDXS")" attacks="$(yaml_list "$ATTACK_METHOD")" \
  rule="${RULE:-epsilon}"
