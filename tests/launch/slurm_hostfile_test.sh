#!/usr/bin/env bash
# launch/slurm/hostfile.sh: the hostfile and cluster shape from a Slurm
# allocation, and metaps.sbatch's errors outside one. Needs no Slurm.
#   slurm_hostfile_test.sh SOURCE_DIR
set -uo pipefail
src=$1
tool=$src/launch/slurm/hostfile.sh
tmp=$(mktemp -d "${TEST_TMPDIR:-${TMPDIR:-/tmp}}/slurm_hostfile.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
failures=0

check() {  # check NAME EXPECTED ACTUAL
  if [ "$2" != "$3" ]; then
    printf 'FAIL %s\n  expected: %s\n  actual:   %s\n' "$1" "$2" "$3" >&2
    failures=$((failures + 1))
  else
    echo "ok   $1"
  fi
}
hostfile() { tr '\n' ';' < "$tmp/hosts"; }
# run NAME ENV... -- ARGS...: runs hostfile.sh, sets $out, $err, $rc.
run() {
  local envs=()
  while [ "$1" != "--" ]; do envs+=("$1"); shift; done
  shift
  rm -f "$tmp/hosts"
  out=$(env -u METAPS_SERVERS -u METAPS_SERVERS_PER_NODE -u METAPS_WORKERS "${envs[@]}" \
        "$tool" "$tmp/hosts" "$@" 2> "$tmp/err")
  rc=$?
  err=$(cat "$tmp/err")
}

# Default: one server per node, every other slot a worker.
run -- "n1 n2 n3" "4(x3)"
check "3x4: shape" "3 8" "$out"
check "3x4: hostfile" "n1 slots=4;n2 slots=4;n3 slots=4;" "$(hostfile)"
# scontrol prints one host a line; uneven counts keep the hosts' order.
run -- $'a\nb\nc' "2(x2),3"
check "uneven: shape" "3 3" "$out"
check "uneven: hostfile" "a slots=2;b slots=2;c slots=3;" "$(hostfile)"
# One count (SLURM_NTASKS_PER_NODE) applies to every host.
run -- "n1 n2" "3"
check "one count: hostfile" "n1 slots=3;n2 slots=3;" "$(hostfile)"
check "one count: shape" "2 3" "$out"
run -- "solo" "4"
check "one node" "1 2" "$out"
# Configured shapes.
run METAPS_SERVERS_PER_NODE=2 -- "n1 n2" "4"
check "2 servers per node" "4 3" "$out"
run METAPS_SERVERS=3 -- "n1 n2" "4"
check "METAPS_SERVERS" "3 4" "$out"
run METAPS_SERVERS=1 METAPS_WORKERS=2 -- "n1 n2" "4"
check "fewer workers than slots" "1 2" "$out"
check "fewer workers than slots: hostfile" "n1 slots=4;n2 slots=4;" "$(hostfile)"

# Errors name the problem and write nothing.
run -- "n1 n2" "2(x3)"
check "count/host mismatch: rc" 2 "$rc"
check "count/host mismatch: message" \
  "hostfile.sh: ranks per host '2(x3)' lists 3 hosts, the allocation has 2" "$err"
check "count/host mismatch: no hostfile" "no" "$([ -e "$tmp/hosts" ] && echo yes || echo no)"
run -- "n1" "2(3)"
check "malformed count" \
  "hostfile.sh: ranks per host '2(3)': '2(3)' is not N or N(xK) with N, K >= 1" "$err"
run -- "n1" "0"
check "zero count: rc" 2 "$rc"
run -- "n1 n2" "1"
check "no slot for a worker" \
  "hostfile.sh: the allocation has 2 slots on 2 host(s) (1): none is left for a worker after 1 scheduler and 2 servers; ask for more tasks (--ntasks-per-node) or set METAPS_SERVERS, METAPS_SERVERS_PER_NODE or METAPS_WORKERS" \
  "$err"
run METAPS_WORKERS=9 -- "n1 n2" "4"
check "too many workers" \
  "hostfile.sh: the allocation has 8 slots on 2 host(s) (4), but 1 scheduler + 2 servers + 9 workers need 12; ask for more tasks (--ntasks-per-node) or set METAPS_SERVERS, METAPS_SERVERS_PER_NODE or METAPS_WORKERS" \
  "$err"
run METAPS_SERVERS_PER_NODE=0 -- "n1" "4"
check "bad METAPS_SERVERS_PER_NODE" \
  "hostfile.sh: METAPS_SERVERS_PER_NODE must be a positive integer, got '0'" "$err"
run METAPS_SERVERS=two -- "n1" "4"
check "bad METAPS_SERVERS" "hostfile.sh: METAPS_SERVERS must be a positive integer, got 'two'" "$err"
run -- "" "4"
check "no hosts" "hostfile.sh: no hosts given" "$err"

# metaps.sbatch outside an allocation, and without a subcommand.
err=$(env -u SLURM_JOB_NODELIST "$src/launch/slurm/metaps.sbatch" ping 2>&1)
check "sbatch outside Slurm: rc" 2 "$?"
check "sbatch outside Slurm" \
  "metaps.sbatch: SLURM_JOB_NODELIST is not set: submit with sbatch (or run inside salloc)" "$err"
err=$("$src/launch/slurm/metaps.sbatch" 2>&1)
check "sbatch without a subcommand" \
  "metaps.sbatch: usage: sbatch [options] launch/slurm/metaps.sbatch <subcommand> [flags...]" "$err"
err=$(SLURM_JOB_NODELIST=n1 SLURM_TASKS_PER_NODE=4 METAPS_HOME=$tmp "$src/launch/slurm/metaps.sbatch" ping 2>&1)
check "sbatch without a checkout" \
  "metaps.sbatch: $tmp/launch/cluster.sh not found: submit from the metaps checkout or set METAPS_HOME" \
  "$err"

[ "$failures" -eq 0 ] || { echo "$failures check(s) failed" >&2; exit 1; }
echo "all checks passed"
