#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for the batch scheduler's tests and benchmark:
#   scripts/slurm_one_node.sh start    (as root; Debian packages slurm-wlm and munge)
#   scripts/slurm_one_node.sh stop     (stops only the daemons this script started)
#   scripts/slurm_one_node.sh status
# Works without systemd or cgroups (containers, CI): munged runs as user munge with a generated
# key, slurmctld and slurmd as root with process tracking through /proc. State, logs and pid
# files live in $SLURM_ONE_NODE_DIR (default /tmp/splatstitch-slurm); the configuration is written
# to /etc/slurm/slurm.conf only when that file is absent or was written by this script.
set -euo pipefail

dir="${SLURM_ONE_NODE_DIR:-/tmp/splatstitch-slurm}"
conf=/etc/slurm/slurm.conf
marker="# written by splatstitch scripts/slurm_one_node.sh"

wait_for() { # seconds, command...
  local n=$1
  shift
  for _ in $(seq $((n * 5))); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.2
  done
  return 1
}

start() {
  for cmd in munged slurmctld slurmd sinfo; do
    command -v "$cmd" >/dev/null || {
      echo "slurm_one_node: $cmd not found (apt-get install slurm-wlm munge)" >&2
      exit 1
    }
  done
  if [ -f "$conf" ] && ! grep -qF "$marker" "$conf"; then
    echo "slurm_one_node: $conf exists and was not written by this script; not touching it" >&2
    exit 1
  fi
  mkdir -p "$dir"/{ctld,d,log} /etc/slurm /run/munge /var/lib/munge /var/log/munge
  local host cpus
  host=$(hostname -s)
  cpus=$(nproc)
  cat >"$conf" <<EOF
$marker
ClusterName=splatstitch
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
MpiDefault=none
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
StateSaveLocation=$dir/ctld
SlurmdSpoolDir=$dir/d
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
NodeName=$host CPUs=$cpus State=UNKNOWN
PartitionName=batch Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
  # munge: a key of our own when the package left none, the daemon as user munge.
  if [ ! -s /etc/munge/munge.key ]; then
    dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
  fi
  chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge
  chmod 0700 /etc/munge
  chmod 0400 /etc/munge/munge.key
  if ! pgrep -x munged >/dev/null; then
    runuser -u munge -- munged --force
    touch "$dir/started-munged"
  fi
  wait_for 5 munge -n || {
    echo "slurm_one_node: munged does not answer" >&2
    exit 1
  }
  pgrep -x slurmctld >/dev/null || slurmctld
  pgrep -x slurmd >/dev/null || slurmd
  if ! wait_for 20 sh -c 'sinfo -h -o %T | grep -qE "^(idle|mixed|allocated)"'; then
    echo "slurm_one_node: the node did not come up; logs in $dir/log" >&2
    sinfo >&2 || true
    exit 1
  fi
  echo "slurm_one_node: up ($host, $cpus CPUs; logs in $dir/log)"
}

stop() {
  for pidfile in "$dir/slurmd.pid" "$dir/slurmctld.pid"; do
    if [ -s "$pidfile" ]; then kill "$(cat "$pidfile")" 2>/dev/null || true; fi
  done
  if [ -f "$dir/started-munged" ]; then
    pkill -x munged 2>/dev/null || true
    rm -f "$dir/started-munged"
  fi
  echo "slurm_one_node: stopped"
}

case "${1:-}" in
  start) start ;;
  stop) stop ;;
  status) sinfo ;;
  *)
    echo "usage: $0 start|stop|status" >&2
    exit 2
    ;;
esac
