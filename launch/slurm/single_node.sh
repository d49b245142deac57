#!/usr/bin/env bash
# A private single-node Slurm on this machine, for trying and testing
# metaps.sbatch (Debian: apt-get install slurm-wlm). Everything lives in DIR:
# its own munge key and socket, slurm.conf, state, logs and free ports, so it
# neither needs nor touches a system munge or Slurm. Run as root.
#   launch/slurm/single_node.sh start DIR [CPUS]   prints "export SLURM_CONF=DIR/slurm.conf"
#   launch/slurm/single_node.sh stop DIR
# With the conf exported, sbatch, squeue and scontrol talk to this controller.
# The node is this host (short name) with CPUS CPUs (default: nproc); ask for
# more tasks than CPUs with sbatch --overcommit.
set -euo pipefail

fail() { echo "single_node.sh: $*" >&2; exit 2; }
[ $# -ge 2 ] || fail "usage: single_node.sh start DIR [CPUS] | stop DIR"
action=$1
dir=$(mkdir -p "$2" && cd "$2" && pwd)

stop_pid() {  # stop_pid PIDFILE: TERM, then wait up to 10 s for the process to go
  local pid
  [ -f "$1" ] || return 0
  pid=$(cat "$1")
  kill "$pid" 2>/dev/null || { rm -f "$1"; return 0; }
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -9 "$pid" 2>/dev/null || true
  rm -f "$1"
}

if [ "$action" = stop ]; then
  stop_pid "$dir/slurmd.pid"
  stop_pid "$dir/slurmctld.pid"
  stop_pid "$dir/munged.pid"
  exit 0
fi
[ "$action" = start ] || fail "unknown action '$action' (start or stop)"
for tool in munged slurmctld slurmd sbatch scontrol; do
  command -v "$tool" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin
  command -v "$tool" >/dev/null 2>&1 || fail "$tool not found (Debian: apt-get install slurm-wlm)"
done
[ "$(id -u)" -eq 0 ] || fail "run as root (slurmd starts job steps as their user)"
cpus=${3:-$(nproc)}
node=$(hostname -s)

free_port() {  # a TCP port nobody listens on, from 20000..39999
  local p
  for _ in $(seq 50); do
    p=$((20000 + RANDOM % 20000))
    if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then echo "$p"; return; fi
  done
  fail "no free port found"
}
ctld_port=$(free_port)
slurmd_port=$(free_port)
[ "$slurmd_port" != "$ctld_port" ] || slurmd_port=$((ctld_port + 1))

mkdir -p "$dir/munge" "$dir/state" "$dir/spool"
chmod 700 "$dir/munge"
[ -f "$dir/munge/munge.key" ] || { head -c 1024 /dev/urandom > "$dir/munge/munge.key"; chmod 400 "$dir/munge/munge.key"; }
munged --force --socket="$dir/munge/socket" --key-file="$dir/munge/munge.key" \
  --pid-file="$dir/munged.pid" --log-file="$dir/munged.log" --seed-file="$dir/munge/seed"

cat > "$dir/slurm.conf" <<EOF
ClusterName=metaps-test
SlurmctldHost=$node(127.0.0.1)
SlurmUser=$(id -un)
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/socket
SlurmctldPort=$ctld_port
SlurmdPort=$slurmd_port
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/slurmctld.log
SlurmdLogFile=$dir/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
MpiDefault=none
ReturnToService=2
NodeName=$node NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=debug Nodes=$node Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$dir/slurm.conf
slurmctld -f "$SLURM_CONF"
slurmd -f "$SLURM_CONF"
# Ready once the node is idle (slurmd registered with the controller).
for _ in $(seq 300); do
  state=$(sinfo -h -n "$node" -o %T 2>/dev/null || true)
  [ "$state" = idle ] && { echo "export SLURM_CONF=$SLURM_CONF"; exit 0; }
  sleep 0.1
done
fail "node $node not idle after 30 s (state '${state:-?}'); see $dir/slurmctld.log and $dir/slurmd.log"
