#!/usr/bin/env bash
# The main job: every network, attack and heatmap the paper's main figures (1, 3, 4, 5, 6) need, then the figures,
# into experiments/figures/: the workflow's `main` target (workflow/rules/targets.smk). Current stages are skipped.
# Environment: BLRP_PROFILE (cpu | paper; default paper), DEVICE (auto), PYTHON (python3, with snakemake),
# DEBUG (set: tiny runs), CIFAR (1: also CIFAR-10 for Fig. 5's third row; 0: the row drawn as not computed),
# CORES (all), SNAKEMAKE_ARGS (extra flags: -n shows the plan; --profile workflow/profiles/slurm submits to SLURM).
set -euo pipefail
cd "$(dirname "$0")"
LOG_NAME=main
source src/exec_common.sh
CIFAR=${CIFAR:-1}
start=$(date +%s)
workflow main cifar="$([ "$CIFAR" = 1 ] && echo true || echo false)"
echo "main job done in $(( $(date +%s) - start )) s" | tee -a "$LOG"
