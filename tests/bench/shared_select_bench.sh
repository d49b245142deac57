#!/usr/bin/env bash
# Model selection on one shared cluster against a job per rung: the study of
# launch/studies/ctr_study.pbtxt (16 trials, ASHA over one epoch of 1M datagen
# CTR rows) run six ways, in an order rotated each round. Every role a thread
# of one process (ZeroMQ inproc):
#   per-rung      `select`: a train job per rung
#   shared-1      `select --shared-cluster --workers 1`: one worker group
#   shared-2      `select --shared-cluster --workers 2 --group-workers 1`: two groups
# Under mpirun (launch/local.sh, TCP on loopback):
#   mpi-per-rung  `select --launcher "launch/local.sh 1 1 --"`
#   mpi-shared-1  `launch/local.sh 1 1 -- select --shared-cluster`
#   mpi-shared-2  `launch/local.sh 1 2 -- select --shared-cluster --group-workers 1`
# Prints, per run: wall seconds, the examples used, the chosen trial with its
# validation and test AUC, and (shared) the server's resident memory once the
# cluster is up, at its peak and after the study (under mpirun the server's
# own process; with threads the whole process).
#   tests/bench/shared_select_bench.sh [ROUNDS] [DATA_DIR] [OUT]   (default 1, datagen 1M rows)
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
rounds=${1:-1}
out=${3:-/tmp/metaps_shared_select_bench}
data=${2:-$out/data}
bin=${METAPS_BIN:-$here/build/bin/metaps}
study=${METAPS_STUDY:-$here/launch/studies/ctr_study.pbtxt}
mkdir -p "$out"
[ -e "$data/train.txt" ] || "$bin" datagen --kind ctr --rows 1000000 --seed 1 --out "$data" >/dev/null 2>&1
run() {  # mode round
  local dir="$out/$1-$2"
  rm -rf "$dir"
  local t0 t1
  t0=$(date +%s.%N)
  case $1 in
    per-rung) "$bin" select --config "$study" --data "$data" --out "$dir" ;;
    shared-1) "$bin" select --shared-cluster --workers 1 --config "$study" --data "$data" \
                --out "$dir" ;;
    shared-2) "$bin" select --shared-cluster --workers 2 --group-workers 1 --config "$study" \
                --data "$data" --out "$dir" ;;
    mpi-per-rung) "$bin" select --launcher "$here/launch/local.sh 1 1 --" --config "$study" \
                --data "$data" --out "$dir" ;;
    mpi-shared-1) "$here/launch/local.sh" 1 1 -- select --shared-cluster --config "$study" \
                --data "$data" --out "$dir" ;;
    mpi-shared-2) "$here/launch/local.sh" 1 2 -- select --shared-cluster --group-workers 1 \
                --config "$study" --data "$data" --out "$dir" ;;
  esac > "$dir.jsonl" 2> "$dir.log"
  t1=$(date +%s.%N)
  python3 - "$dir" "$1" "$(echo "$t1 - $t0" | bc)" <<'PY'
import glob, json, sys
d, mode, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
done = [json.loads(l) for l in open(d + ".jsonl") if l.startswith('{"event":"select_done"')][0]
best = done["best"]
def last_done(path):
    last = None
    for line in open(path):
        if line.startswith('{"event":"done"'):
            last = json.loads(line)
    return last
files = sorted(glob.glob(f"{d}/runs/trial-{best}/rung-*.stdout.txt")) or [f"{d}/runs/trial-{best}/metrics.jsonl"]
j = last_done(files[-1])
line = {"bench": "shared_select", "mode": mode, "seconds": round(seconds, 1),
        "samples_used": done["samples_used"], "samples_full_grid": done["samples_full_grid"],
        "best": best, "valid_auc": j["valid"]["auc"], "test_auc": j["test"]["auc"]}
for m in done.get("server_memory", []):
    line.update({k: round(m[k], 1) for k in ("rss_start_mib", "rss_peak_mib", "rss_end_mib",
                                             "anon_start_mib", "anon_end_mib")})
    line["end_over_start"] = round(m["end_over_start"], 4)
print(json.dumps(line))
PY
}
modes=(per-rung shared-1 shared-2 mpi-per-rung mpi-shared-1 mpi-shared-2)
for r in $(seq 1 "$rounds"); do
  for k in 0 1 2 3 4 5; do run "${modes[$(( (k + r - 1) % 6 ))]}" "$r"; done
done
