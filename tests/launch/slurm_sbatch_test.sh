#!/usr/bin/env bash
# launch/slurm/metaps.sbatch end to end on 1 scheduler + 1 server + 2 workers:
# `metaps ping` runs on the shape it logs, and SIGUSR1 to the batch shell
# stops an endless `ping --repeat 0` in order with exit code 0.
#   slurm_sbatch_test.sh SOURCE_DIR fake    the batch script run directly with
#       a one-node allocation's environment and a stand-in scontrol, under a
#       real mpirun on loopback (needs no Slurm)
#   slurm_sbatch_test.sh SOURCE_DIR slurm   submitted with sbatch --wait to a
#       private single-node Slurm (launch/slurm/single_node.sh); exits 77
#       (skipped) without slurm-wlm's daemons or root
# Environment: METAPS_BIN (the metaps binary), TEST_TMPDIR.
set -uo pipefail
src=$1 mode=$2
tmp=$(mktemp -d "${TEST_TMPDIR:-${TMPDIR:-/tmp}}/slurm_sbatch.XXXXXX")
slurm_dir=$tmp/slurm
# munged's and slurmd's Unix socket paths must stay short (108 bytes at most).
[ ${#slurm_dir} -le 60 ] || slurm_dir=$(mktemp -d "/tmp/metaps-slurm.XXXXXX")
cleanup() {
  [ "$mode" = slurm ] && "$src/launch/slurm/single_node.sh" stop "$slurm_dir"
  rm -rf "$tmp" "$slurm_dir"
}
trap cleanup EXIT
export METAPS_BIN=${METAPS_BIN:-$src/build/bin/metaps}
export METAPS_HOME=$src
# Loopback only, as launch/local.sh: the test machine's other interfaces may not route.
export MPIRUN_ARGS="--mca btl self,vader,tcp --mca btl_tcp_if_include lo --mca oob_tcp_if_include lo"

case "$mode" in
  fake)
    mkdir -p "$tmp/bin"
    # shellcheck disable=SC2016  # the stand-in expands its own arguments
    printf '#!/bin/sh\n[ "$1 $2" = "show hostnames" ] && echo "$3"\n' > "$tmp/bin/scontrol"
    chmod +x "$tmp/bin/scontrol"
    ;;
  slurm)
    for tool in sbatch scancel slurmctld slurmd munged; do
      command -v "$tool" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin
      command -v "$tool" >/dev/null 2>&1 || { echo "SKIPPED: $tool not found (apt-get install slurm-wlm)"; exit 77; }
    done
    [ "$(id -u)" -eq 0 ] || { echo "SKIPPED: a private slurmd needs root"; exit 77; }
    conf=$("$src/launch/slurm/single_node.sh" start "$slurm_dir" 2) || exit 1
    export "${conf#export }"
    ;;
  *) echo "unknown mode '$mode' (fake or slurm)" >&2; exit 2 ;;
esac

# submit NAME ARGS...: starts the batch script on 4 tasks in the background;
# its output goes to $tmp/NAME.out and .err, its pid (fake) or sbatch's is $job_pid.
submit() {
  local name=$1
  shift
  if [ "$mode" = fake ]; then
    (cd "$tmp" && exec env -u SLURM_NTASKS_PER_NODE PATH="$tmp/bin:$PATH" SLURM_JOB_ID=$$ \
       SLURM_JOB_NODELIST=localhost SLURM_TASKS_PER_NODE=4 \
       "$src/launch/slurm/metaps.sbatch" "$@" > "$tmp/$name.out" 2> "$tmp/$name.err") &
  else
    # 4 tasks on the 2 CPUs the private node declares: --overcommit.
    (cd "$tmp" && exec sbatch --wait --parsable -N 1 -n 4 --overcommit --output="$tmp/$name.out" \
       --error="$tmp/$name.err" "$src/launch/slurm/metaps.sbatch" "$@" > "$tmp/$name.id") &
  fi
  job_pid=$!
}
# stop_in_order NAME: SIGUSR1 to the batch shell, as sbatch --signal=B:USR1 sends it.
stop_in_order() {
  if [ "$mode" = fake ]; then
    kill -USR1 "$job_pid"
  else
    until [ -s "$tmp/$1.id" ]; do sleep 0.1; done
    scancel --batch --signal=USR1 "$(cat "$tmp/$1.id")"
  fi
}
wait_for() {  # wait_for PATTERN FILE: until FILE holds PATTERN (ctest's timeout bounds it)
  until grep -q -- "$1" "$2" 2>/dev/null; do sleep 0.1; done
}

failures=0
expect() {  # expect NAME PATTERN FILE
  if grep -q -- "$2" "$3"; then echo "ok   $1"; else echo "FAIL $1: no '$2' in $3" >&2; failures=$((failures + 1)); fi
}
expect_rc() {  # expect_rc NAME EXPECTED ACTUAL
  if [ "$2" = "$3" ]; then echo "ok   $1"; else echo "FAIL $1: exit code $3, expected $2" >&2; failures=$((failures + 1)); fi
}
show() { echo "--- $1 stdout"; cat "$tmp/$1.out"; echo "--- $1 stderr"; cat "$tmp/$1.err"; }

submit ping ping --samples 10 --messages 2 --bytes 4096
wait "$job_pid"
rc=$?
show ping
expect_rc "ping: exit code" 0 "$rc"
expect "shape logged" "1 scheduler + 1 servers + 2 workers on 1 node(s), mapped by node" "$tmp/ping.err"
expect "hostfile logged" "  localhost slots=4\|  $(hostname -s) slots=4" "$tmp/ping.err"
expect "ping ran on 1+2" '"ranks":4,"servers":1,"workers":2' "$tmp/ping.out"
expect "every pair answered" '"pairs":2,"pairs_ok":2' "$tmp/ping.out"
expect "over CURVE" '"curve":true' "$tmp/ping.out"
if [ "$mode" = fake ] && ls "${TMPDIR:-/tmp}/metaps-hostfile.$$."* >/dev/null 2>&1; then
  echo "FAIL the hostfile was left in ${TMPDIR:-/tmp}" >&2
  failures=$((failures + 1))
fi

submit endless ping --repeat 0 --interval-ms 20 --samples 10 --messages 2 --bytes 4096
wait_for '"round":2' "$tmp/endless.out"
stop_in_order endless
wait "$job_pid"
rc=$?
show endless
expect_rc "SIGUSR1: exit code" 0 "$rc"
expect "SIGUSR1 passed to the scheduler" "metaps.sbatch: SIGUSR1: asking the scheduler (pid [0-9]*) to stop in order" "$tmp/endless.err"
expect "the job finished in order" "all members released; job finished in order" "$tmp/endless.err"

[ "$failures" -eq 0 ] || { echo "$failures check(s) failed" >&2; exit 1; }
echo "all checks passed"
