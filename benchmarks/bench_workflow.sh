#!/usr/bin/env bash
# The workflow's cost against the bash loop it replaced, on one machine: the layers target of one model index
# (3 nets trained, attacked and explained, Figs. 4 and 6) run three ways, each into a scratch experiments folder:
#   before  the exec script of the commit before the workflow (a bash loop, one stage after another), from a
#           git worktree of BEFORE_REV
#   after   exec_layers_robustness.sh as it is (the workflow: one 2-thread job at a time on 2 cores)
#   after1  the same target as two parallel 1-thread jobs (--config threads=1)
# Environment: BLRP_PROFILE (cpu), MODEL_IDXS (2), DEBUG (set: the debug grid), BEFORE_REV (497af8c^), PYTHON
# (.venv/bin/python). Prints one line of seconds per way. CPU profile, idx 2, on 2 cores: about 7 min per way.
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$PWD
export BLRP_PROFILE=${BLRP_PROFILE:-cpu} MODEL_IDXS=${MODEL_IDXS:-2} PYTHON=${PYTHON:-$REPO/.venv/bin/python}
export BLRP_DATA=${BLRP_DATA:-$REPO/data}
BEFORE_REV=${BEFORE_REV:-497af8c^}
scratch=$(mktemp -d -t blrp_bench_workflow.XXXXXX)
trap 'git -C "$REPO" worktree remove --force "$scratch/before_tree" 2>/dev/null || true; rm -rf "$scratch"' EXIT
git worktree add --detach "$scratch/before_tree" "$BEFORE_REV" >/dev/null 2>&1 \
  || { echo "error: cannot check out BEFORE_REV=$BEFORE_REV (a commit of this repository)" >&2; exit 1; }
timed() {  # name, command...
  local name=$1 start end; shift
  export BLRP_EXPERIMENTS=$scratch/$name
  start=$(date +%s.%N)
  "$@" > "$scratch/$name.log" 2>&1 || { echo "error: $name failed; its log:" >&2; tail -20 "$scratch/$name.log" >&2; exit 1; }
  end=$(date +%s.%N)
  printf '%-7s %7.1f s\n' "$name" "$(echo "$end - $start" | bc)"
}
echo "layers target, idx $MODEL_IDXS, profile $BLRP_PROFILE${DEBUG:+ (debug)}, $(nproc) cores"
timed before bash "$scratch/before_tree/exec_layers_robustness.sh"
timed after bash exec_layers_robustness.sh
idxs="[${MODEL_IDXS// /,}]"
timed after1 "$PYTHON" -m snakemake --snakefile workflow/Snakefile --cores 2 layers_robustness --config \
  profile="$BLRP_PROFILE" debug="$([ -n "${DEBUG:-}" ] && echo true || echo false)" exp_dir="$scratch/after1" \
  data_dir="$BLRP_DATA" python="$PYTHON" threads=1 "model_idxs=$idxs" "attacks=[fgsm]"
