#!/usr/bin/env bash
# Brings up a single-node Slurm on this Debian machine, for trying `sweep --executor slurm` and
# for the Slurm tests: installs Slurm and munge if missing, writes a one-node configuration,
# starts munged, slurmctld and slurmd, and waits until the node is idle. Idempotent: when the
# node already answers idle, it does nothing. Needs root (or sudo) and apt.
#
#   scripts/slurm-up.sh          bring it up (about 10 s the first time, with the install)
#   scripts/slurm-up.sh --down   stop the daemons
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null 2>&1 || { echo "slurm-up: needs root or sudo" >&2; exit 1; }
  SUDO="sudo"
fi

if [ "${1:-}" = "--down" ]; then
  $SUDO pkill -x slurmd || true
  $SUDO pkill -x slurmctld || true
  $SUDO pkill -x munged || true
  exit 0
fi

node_idle() {
  sinfo -h -o '%t' </dev/null 2>/dev/null | grep -qE '^(idle|mix|alloc)'
}

if command -v sinfo >/dev/null 2>&1 && node_idle; then
  echo "slurm-up: Slurm is up" >&2
  exit 0
fi

if ! command -v slurmctld >/dev/null 2>&1 || ! command -v slurmd >/dev/null 2>&1 \
  || ! command -v sbatch >/dev/null 2>&1 || ! command -v munged >/dev/null 2>&1; then
  echo "slurm-up: installing slurmctld, slurmd, slurm-client, munge" >&2
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq </dev/null
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    slurmctld slurmd slurm-client munge </dev/null >/dev/null
fi

cpus=$(nproc)
# Slurm wants the node's memory in MB; leave some for the system.
mem_mb=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 * 9 / 10 ))
conf_dir=/etc/slurm
$SUDO mkdir -p "$conf_dir" /var/spool/slurmctld /var/spool/slurmd /var/log/slurm /run/munge
# Two fake GPUs for the GPU placement test: Slurm counts GPUs by device files and hands them out
# (setting CUDA_VISIBLE_DEVICES) without touching them; two terminals stand in where they exist.
gres_types=""
node_gres=""
if [ -c /dev/tty0 ] && [ -c /dev/tty1 ]; then
  gres_types="GresTypes=gpu"
  node_gres="Gres=gpu:2"
  echo "NodeName=localhost Name=gpu File=/dev/tty[0-1]" | $SUDO tee "$conf_dir/gres.conf" >/dev/null
fi
$SUDO tee "$conf_dir/slurm.conf" >/dev/null <<CONF
# Written by sweep's scripts/slurm-up.sh: one node on this machine.
ClusterName=sweep
$gres_types
SlurmctldHost=localhost(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
MinJobAge=86400
MaxArraySize=100000
ReturnToService=2
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb $node_gres State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
CONF

# munge: a key, then the daemon as the munge user.
if [ ! -s /etc/munge/munge.key ]; then
  $SUDO mkdir -p /etc/munge
  $SUDO dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 status=none
fi
$SUDO chown -R munge:munge /etc/munge /run/munge /var/lib/munge /var/log/munge 2>/dev/null || true
$SUDO chmod 0400 /etc/munge/munge.key
$SUDO chmod 0755 /run/munge
if ! pgrep -x munged >/dev/null; then
  $SUDO -u munge munged 2>/dev/null || $SUDO runuser -u munge -- munged
fi

# -c drops stale jobs that a killed controller would otherwise bring back as RUNNING.
if ! pgrep -x slurmctld >/dev/null; then
  $SUDO slurmctld -c </dev/null
fi
if ! pgrep -x slurmd >/dev/null; then
  $SUDO slurmd </dev/null
fi

for _ in $(seq 1 60); do
  if node_idle; then
    echo "slurm-up: Slurm is up ($cpus CPUs, partition debug)" >&2
    exit 0
  fi
  # A node that came back from an earlier run can be DOWN: bring it back.
  $SUDO scontrol update NodeName=localhost State=RESUME </dev/null >/dev/null 2>&1 || true
  sleep 0.5
done
echo "slurm-up: the node did not become idle; see /var/log/slurm/*.log" >&2
sinfo </dev/null >&2 || true
exit 1
