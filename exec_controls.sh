#!/usr/bin/env bash
# The controls study (README, "Does the Bayesian gain hold?"): for MNIST fc2 (idx 2) and Fashion-MNIST fc2 (idx 3),
# and the MNIST conv net (idx 0) at paper scale, every variant (Det, Adv, SVI at KL weight 1 / 10 / 100 and with the
# reference's ELBO, each also with the reference's guide init, HMC ours and the reference's, ensemble, NoiseGrad,
# SmoothGrad), attacked under four protocols (own, the baseNN's images, EOT, random-sign floor) and explained with
# three rules; one CSV and one figure under experiments/figures/controls/: the workflow's `controls` target.
# Environment: BLRP_PROFILE (cpu | paper), DEVICE (auto), PYTHON (python3, with snakemake), DEBUG (set: tiny runs),
# MODEL_IDXS (profile default), TEST_INPUTS (profile default: 100 cpu, 500 paper), CORES, SNAKEMAKE_ARGS.
# Stages whose artifacts are current are skipped; the log goes to experiments/logs/.
set -euo pipefail
cd "$(dirname "$0")"
LOG_NAME=controls
IDXS=${MODEL_IDXS:-}
source src/exec_common.sh
workflow controls controls_idxs="$([ -n "$IDXS" ] && yaml_list "$IDXS" || echo null)"
