#!/usr/bin/env bash
# Runs a metaps job and restarts it when it fails: a train job from its latest
# checkpoint, so that it ends as an uninterrupted run would.
#   launch/supervise.sh [--max-restarts N] [--backoff SECONDS] -- COMMAND...
# COMMAND is the job as it would be run without supervision, e.g.
#   launch/supervise.sh --max-restarts 3 -- launch/local.sh 2 2 -- train --config JOB --data DIR
#   launch/supervise.sh -- launch/cluster.sh hosts 4 8 -- train --config JOB
# - A train job is restarted with --resume-if-checkpoint: from the latest
#   checkpoint under its output_dir (training.checkpoint_every sets how much is
#   redone), or from scratch if none was written yet. Other subcommands restart
#   as they are.
# - Each restart waits BACKOFF * 2^(k-1) seconds (default 1) and is logged with
#   the cause: the scheduler's "aborting the job: ..." line, else the last error.
# - A job that fails with the same cause twice in a row without writing a
#   checkpoint in between (no progress) is not restarted again: it stops with
#   that cause. So does a usage error (exit 2), which no restart can mend.
# Exit code: 0 once the job succeeds, else the failed run's exit code.
set -uo pipefail

max_restarts=3
backoff=1
while [ $# -gt 0 ]; do
  case "$1" in
    --max-restarts) max_restarts=${2:?--max-restarts needs a count}; shift 2 ;;
    --backoff) backoff=${2:?--backoff needs seconds}; shift 2 ;;
    --) shift; break ;;
    *) echo "supervise: unknown option '$1' (usage: see the top of $0)" >&2; exit 2 ;;
  esac
done
if [ $# -eq 0 ]; then
  echo "supervise: no command after -- (usage: see the top of $0)" >&2
  exit 2
fi
case "$max_restarts$backoff" in *[!0-9.]*)
  echo "supervise: --max-restarts and --backoff take numbers" >&2; exit 2 ;;
esac
command=("$@")
is_train=0
for arg in "${command[@]}"; do [ "$arg" = train ] && is_train=1; done

log=$(mktemp "${TMPDIR:-/tmp}/metaps_supervise.XXXXXX")
trap 'rm -f "$log"' EXIT

# The failure's cause in $log, and the same with what differs between runs of
# one failure (times, pids, ports) blanked out, to compare two failures.
cause_of() {
  local line
  line=$(grep -m1 -o 'aborting the job: .*' "$log")
  [ -n "$line" ] || line=$(grep -E '^E [0-9:.]+ ' "$log" | tail -n 1 | sed -E 's/^E [0-9:.]+ [^ ]+ //')
  [ -n "$line" ] || line=$(grep -v '^[IW] ' "$log" | grep -v '^ *$' | tail -n 1)
  echo "${line:-no error message}"
}
normalize() {
  sed -E 's/pid [0-9]+/pid N/g; s/:[0-9]{4,5}\b/:PORT/g; s/[0-9]+ ms/N ms/g' <<<"$1"
}

restarts=0
last=""
while true; do
  run=("${command[@]}")
  [ $restarts -gt 0 ] && [ $is_train = 1 ] && run+=(--resume-if-checkpoint)
  : >"$log"
  started=$(date +%s)
  # stderr goes to the terminal and to $log; stdout stays the job's own.
  { "${run[@]}" 2>&1 1>&3 3>&- | tee "$log" >&2; } 3>&1
  code=${PIPESTATUS[0]}
  [ $code -eq 0 ] && exit 0
  cause=$(cause_of)
  if [ $code -eq 2 ]; then
    echo "supervise: not restarting a usage error (exit 2): $cause" >&2
    exit 2
  fi
  progressed=0
  grep -q 'checkpoint of step [0-9]* written' "$log" && progressed=1
  this=$(normalize "$cause")
  if [ -n "$last" ] && [ "$this" = "$last" ] && [ $progressed = 0 ]; then
    echo "supervise: the job failed the same way twice in a row, with no checkpoint in between;" \
      "stopping (exit $code): $cause" >&2
    exit $code
  fi
  if [ "$restarts" -ge "$max_restarts" ]; then
    echo "supervise: no restarts left ($max_restarts used); stopping (exit $code): $cause" >&2
    exit $code
  fi
  restarts=$((restarts + 1))
  delay=$(awk -v b="$backoff" -v k="$restarts" 'BEGIN { printf "%g", b * 2 ^ (k - 1) }')
  echo "supervise: restart $restarts of $max_restarts in ${delay} s, after $(($(date +%s) - started)) s" \
    "and exit $code: $cause" >&2
  sleep "$delay"
  last=$this
done
