# Sourced by the exec scripts: their environment variables, the log file, and `workflow TARGET [key=value ...]`,
# which runs one target of the Snakemake workflow (workflow/Snakefile, README "Workflow") with them. Snakemake
# runs what is missing or out of date (a changed setting, flag or upstream artifact) and nothing else.
PYTHON=${PYTHON:-python3}
export BLRP_PROFILE=${BLRP_PROFILE:-paper}
ATTACK_METHOD=${ATTACK_METHOD:-fgsm}
DEVICE=${DEVICE:-auto}
MODEL_IDXS=${MODEL_IDXS:-0 1 2 3}
CORES=${CORES:-all}
LOGDIR=${BLRP_EXPERIMENTS:-experiments}/logs
mkdir -p "$LOGDIR"
LOG=$LOGDIR/$(date +%Y-%m-%d_%H-%M-%S)_${LOG_NAME:-exec}.txt
yaml_list() { local out="" x; for x in $1; do out+="${out:+,}$x"; done; echo "[$out]"; }
workflow() {
  local target=$1; shift
  if ! "$PYTHON" -c "import snakemake" 2>/dev/null; then
    echo "error: snakemake is not installed for $PYTHON; run: make venv, then PYTHON=.venv/bin/python" >&2
    exit 1
  fi
  echo "+ snakemake $target (profile $BLRP_PROFILE, log $LOG)" | tee -a "$LOG"
  # shellcheck disable=SC2086  # SNAKEMAKE_ARGS: extra flags, e.g. "-n" for the plan or "--profile workflow/profiles/slurm"
  "$PYTHON" -m snakemake --snakefile workflow/Snakefile --cores "$CORES" ${SNAKEMAKE_ARGS:-} "$target" \
    --config profile="$BLRP_PROFILE" device="$DEVICE" debug="$([ -n "${DEBUG:-}" ] && echo true || echo false)" \
    exp_dir="${BLRP_EXPERIMENTS:-experiments}" data_dir="${BLRP_DATA:-data}" python="$PYTHON" \
    test_inputs="${TEST_INPUTS:-null}" "$@" 2>&1 | tee -a "$LOG"
}
