#!/usr/bin/env bash
# A single-node SLURM cluster on this machine (slurmctld and slurmd on localhost, munge for authentication), to
# run the workflow through the SLURM executor where no cluster is at hand (the SLURM test uses it).
#   bash workflow/scripts/local_slurm.sh up     # install (Debian: slurm-wlm, munge; needs root) and start
#   bash workflow/scripts/local_slurm.sh down   # stop the daemons
# Without accounting, `sacct` fails: run Snakemake with `--slurm-status-command squeue` (the slurm profile does).
# Exit status 3: the daemons cannot be brought up here (not root, no package manager, no daemon); the message says why.
set -euo pipefail
CONF=/etc/slurm/slurm.conf
need() { echo "local SLURM unavailable: $*" >&2; exit 3; }

install() {
  command -v slurmctld >/dev/null && command -v munged >/dev/null && return
  [ "$(id -u)" = 0 ] || need "slurm-wlm and munge are not installed and installing them needs root"
  command -v apt-get >/dev/null || need "slurm-wlm and munge are not installed and apt-get is absent"
  apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq slurm-wlm munge >/dev/null \
    || need "apt-get could not install slurm-wlm and munge"
}

configure() {
  local cpus mem
  cpus=$(nproc)
  mem=$(( $(awk '/MemTotal/ {print int($2 / 1024)}' /proc/meminfo) * 9 / 10 ))
  mkdir -p /etc/slurm /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/munge
  cat > "$CONF" <<CONF
ClusterName=blrp
SlurmctldHost=localhost
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
DefMemPerCPU=1000
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
ReturnToService=2
MinJobAge=900
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=local Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF
  if [ ! -s /etc/munge/munge.key ]; then
    mkdir -p /etc/munge
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  fi
  chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge 2>/dev/null || true
  chmod 400 /etc/munge/munge.key
  chmod 755 /run/munge
}

up() {
  [ "$(id -u)" = 0 ] || need "starting slurmctld and slurmd needs root"
  install
  configure
  pgrep -x munged >/dev/null || runuser -u munge -- /usr/sbin/munged || need "munged did not start"
  pgrep -x slurmctld >/dev/null || slurmctld || need "slurmctld did not start (see /var/log/slurm/slurmctld.log)"
  pgrep -x slurmd >/dev/null || slurmd -N localhost || need "slurmd did not start (see /var/log/slurm/slurmd.log)"
  for _ in $(seq 30); do
    if sinfo -h -o %t 2>/dev/null | grep -Eq '^(idle|mix|alloc)'; then
      echo "local SLURM up: $(sinfo -h -o '%P %D %c CPUs %m MB %t')"
      return
    fi
    scontrol update nodename=localhost state=resume >/dev/null 2>&1 || true
    sleep 1
  done
  need "the node did not become idle: $(sinfo -h 2>&1 | head -1)"
}

down() {
  pkill -x slurmd || true
  pkill -x slurmctld || true
  pkill -x munged || true
}

case "${1:-}" in
  up) up ;;
  down) down ;;
  *) echo "usage: $0 up|down" >&2; exit 2 ;;
esac
