#!/usr/bin/env bash
# Turns a Slurm allocation into an Open MPI hostfile and a metaps cluster shape.
#   launch/slurm/hostfile.sh OUT HOSTS COUNTS
# HOSTS: the allocation's host names, separated by blanks or newlines (what
#   `scontrol show hostnames "$SLURM_JOB_NODELIST"` prints).
# COUNTS: ranks per host in Slurm's compressed form, as in SLURM_TASKS_PER_NODE
#   ("4", "2(x3),1"); one count alone applies to every host.
# Writes OUT, one "HOST slots=N" line per host in the allocation's order, and
# prints the shape on stdout as "SERVERS WORKERS":
#   SERVERS = METAPS_SERVERS, else METAPS_SERVERS_PER_NODE (default 1) x hosts;
#   WORKERS = METAPS_WORKERS, else every slot left after the scheduler and servers.
# metaps.sbatch maps ranks round-robin over the hosts (mpirun --map-by node),
# so rank 0 (the scheduler) lands on the first host and the servers, ranks
# 1..SERVERS, on the next hosts in turn: one per host when SERVERS = hosts.
set -euo pipefail

fail() { echo "hostfile.sh: $*" >&2; exit 2; }
[ $# -eq 3 ] || fail "usage: hostfile.sh OUT HOSTS COUNTS"
out=$1 counts_text=$3
read -r -a hosts <<< "$(echo "$2" | tr '\n' ' ')"
[ ${#hosts[@]} -gt 0 ] || fail "no hosts given"

# Expands "2(x3),1" to "2 2 2 1".
counts=()
IFS=',' read -r -a items <<< "$counts_text"
for item in "${items[@]}"; do
  if [[ "$item" =~ ^([1-9][0-9]*)$ ]]; then
    counts+=("${BASH_REMATCH[1]}")
  elif [[ "$item" =~ ^([1-9][0-9]*)\(x([1-9][0-9]*)\)$ ]]; then
    for ((i = 0; i < BASH_REMATCH[2]; ++i)); do counts+=("${BASH_REMATCH[1]}"); done
  else
    fail "ranks per host '$counts_text': '$item' is not N or N(xK) with N, K >= 1"
  fi
done
if [ ${#counts[@]} -eq 1 ] && [ ${#hosts[@]} -gt 1 ]; then
  for ((i = 1; i < ${#hosts[@]}; ++i)); do counts+=("${counts[0]}"); done
fi
[ ${#counts[@]} -eq ${#hosts[@]} ] ||
  fail "ranks per host '$counts_text' lists ${#counts[@]} hosts, the allocation has ${#hosts[@]}"

slots=0
for c in "${counts[@]}"; do slots=$((slots + c)); done

positive() {  # positive NAME VALUE
  [[ "$2" =~ ^[1-9][0-9]*$ ]] || fail "$1 must be a positive integer, got '$2'"
}
if [ -n "${METAPS_SERVERS:-}" ]; then
  positive METAPS_SERVERS "$METAPS_SERVERS"
  servers=$METAPS_SERVERS
else
  per_node=${METAPS_SERVERS_PER_NODE:-1}
  positive METAPS_SERVERS_PER_NODE "$per_node"
  servers=$((per_node * ${#hosts[@]}))
fi
if [ -n "${METAPS_WORKERS:-}" ]; then
  positive METAPS_WORKERS "$METAPS_WORKERS"
  workers=$METAPS_WORKERS
else
  workers=$((slots - 1 - servers))
fi
have="the allocation has $slots slots on ${#hosts[@]} host(s) ($counts_text)"
hint="ask for more tasks (--ntasks-per-node) or set METAPS_SERVERS, METAPS_SERVERS_PER_NODE or METAPS_WORKERS"
[ "$workers" -ge 1 ] || fail "$have: none is left for a worker after 1 scheduler and $servers servers; $hint"
need=$((1 + servers + workers))
[ "$need" -le "$slots" ] || fail "$have, but 1 scheduler + $servers servers + $workers workers need $need; $hint"

{
  for ((i = 0; i < ${#hosts[@]}; ++i)); do echo "${hosts[i]} slots=${counts[i]}"; done
} > "$out"
echo "$servers $workers"
