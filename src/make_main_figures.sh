#!/usr/bin/env bash
# Draw the paper's main figures from existing artifacts (called by exec_main.sh). CIFAR=0: Fig. 5 without its CIFAR row.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
fig() { echo "+ $*"; "$PYTHON" "$@" ${DEBUG:+--debug}; }
fig src/lrp_heatmaps_det_vs_bay.py --model_idx 2 --attack_method fgsm --topk 30        # Fig. 1
fig src/lrp_heatmaps_layers.py --model_idx 0 --attack_method fgsm --topk 30           # Fig. 3
fig src/lrp_robustness_diff.py --model_idx 1 --attack_method fgsm                     # Fig. 4 left
fig src/lrp_robustness_diff.py --model_idx 3 --attack_method pgd                      # Fig. 4 right
CIFAR_ROW=$([ "${CIFAR:-1}" = 1 ] && echo true || echo false)
fig src/lrp_rules_robustness_main.py --attack_method fgsm --cifar $CIFAR_ROW          # Fig. 5
fig src/lrp_robustness_scatterplot.py --model_idx 0 --attack_method fgsm              # Fig. 6 left
fig src/lrp_robustness_scatterplot.py --model_idx 2 --attack_method pgd               # Fig. 6 right
for IDX in 2 3; do fig src/lrp_rules_robustness.py --model_idx $IDX --attack_method fgsm; done   # appendix
