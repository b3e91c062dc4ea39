#!/usr/bin/env bash
# On a CUDA machine: (1) the debug pipelines with --device cuda (every stage's CUDA path: fc2 HMC,
# ResNet-20 det/adv/Bayes), then (2) paper-scale timings: model idx 0 (MNIST conv, SVI) trained,
# attacked (FGSM, 500 images, 100 samples) and explained, and ResNet-20 epochs at the paper's batch size.
# Each step has its own time limit; one line per step (exit status, seconds) goes to the summary.
# Environment: PYTHON (python3), OUT (where the logs go; default experiments/logs/device),
# STEP_LIMIT (seconds per step, 300), RESNET_EPOCHS (2).
set -uo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
OUTDIR=${OUT:-experiments/logs/device}
STEP_LIMIT=${STEP_LIMIT:-300}
RESNET_EPOCHS=${RESNET_EPOCHS:-2}
mkdir -p "$OUTDIR"
SUMMARY=$OUTDIR/summary.txt
step() {  # step NAME command...: run with a time limit, log to NAME.log, one summary line
  local name=$1; shift
  local t0; t0=$(date +%s%N)
  timeout "$STEP_LIMIT" "$@" > "$OUTDIR/$name.log" 2>&1
  local rc=$?
  printf '%-34s rc=%-3d %7.1f s\n' "$name" "$rc" "$(( ($(date +%s%N) - t0) / 1000000 ))e-3" | tee -a "$SUMMARY"
}
"$PYTHON" -c "import torch; print('torch', torch.__version__, torch.cuda.get_device_name())" | tee "$SUMMARY"

# (1) every stage's CUDA path, on tiny debug runs
step debug_fc2_hmc env DEBUG=1 DEVICE=cuda MODEL_IDXS=2 PYTHON="$PYTHON" bash exec_layers_robustness.sh
step debug_cifar env DEBUG=1 DEVICE=cuda PYTHON="$PYTHON" bash exec_cifar.sh

# (2) paper scale, model idx 0 (MNIST conv, 5 epochs; SVI 5 epochs), 500 test images, 100 samples
C=(--device cuda --quiet)
for M in baseNN advNN fullBNN; do
  step "train_${M}_idx0" "$PYTHON" src/train_networks.py --model $M --model_idx 0 "${C[@]}"
done
for M in baseNN advNN fullBNN; do
  step "attack_${M}_idx0_fgsm" "$PYTHON" src/attack_networks.py --model $M --model_idx 0 --attack_method fgsm "${C[@]}"
  step "lrp_${M}_idx0_epsilon" "$PYTHON" src/compute_lrp.py --model $M --model_idx 0 --attack_method fgsm --rule epsilon "${C[@]}"
done
step fig4_idx0 "$PYTHON" src/lrp_robustness_diff.py --model_idx 0 --attack_method fgsm
step fig6_idx0 "$PYTHON" src/lrp_robustness_scatterplot.py --model_idx 0 --attack_method fgsm
step "resnet_det_${RESNET_EPOCHS}_epochs" "$PYTHON" src/full_test_cifar_resnet.py --mode train --epochs "$RESNET_EPOCHS" "${C[@]}"
step resnet_det_test_500 "$PYTHON" src/full_test_cifar_resnet.py --mode test --test_inputs 500 "${C[@]}"
step resnet_bayes_1_epoch "$PYTHON" src/full_test_cifar_bayesian_resnet.py --mode train --epochs 1 --init_from_det "${C[@]}"
step resnet_bayes_test_500x100 "$PYTHON" src/full_test_cifar_bayesian_resnet.py --mode test --test_inputs 500 --n_samples 100 "${C[@]}"
cat "$SUMMARY"
