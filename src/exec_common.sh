# Sourced by the exec scripts: the shared environment variables, the log file and the `run` helper.
PYTHON=${PYTHON:-python3}
export BLRP_PROFILE=${BLRP_PROFILE:-paper}
ATTACK_METHOD=${ATTACK_METHOD:-fgsm}
DEVICE=${DEVICE:-auto}
MODEL_IDXS=${MODEL_IDXS:-0 1 2 3}
INPUTS=${TEST_INPUTS:+--n_inputs $TEST_INPUTS}
DBG=${DEBUG:+--debug}
LOGDIR=${BLRP_EXPERIMENTS:-experiments}/logs
mkdir -p "$LOGDIR"
LOG=$LOGDIR/$(date +%Y-%m-%d_%H-%M-%S)_${LOG_NAME:-exec}.txt
run() { echo "+ $*" | tee -a "$LOG"; "$PYTHON" "$@" $DBG 2>&1 | tee -a "$LOG"; }
