#!/usr/bin/env bash
# Training throughput of every model family on synthetic data, on 1 server + 1
# worker and 2 servers + 2 workers, with the split of step time into read,
# pull, compute, push and all-reduce (the slowest worker's seconds in each).
# Prints a table, then one JSON line per run. Never fails on speed.
#   tests/bench/train_bench.sh [ROWS]       (default 200000)
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
bin="$here/build/bin/metaps"
rows=${1:-200000}
data="$here/build/bench-data"
for kind in ctr ratings scenarios; do
  [ -f "$data/$kind-$rows/oracle.json" ] ||
    "$bin" datagen --kind "$kind" --rows "$rows" --seed 1 --out "$data/$kind-$rows" >/dev/null
done
runs=(
  "deepfm|quickstart_deepfm.pbtxt|ctr|"
  "fm|quickstart_deepfm.pbtxt|ctr|--set model.fm_only=true"
  "mf|movielens_mf.pbtxt|ratings|--set data.format=datagen-ratings --set training.epochs=1 --set training.ranking_k=0"
  "ncf|movielens_ncf.pbtxt|ratings|--set data.format=datagen-ratings --set training.epochs=1 --set training.ranking_k=0 --set model.hidden=32,16"
  "multi_scenario|scenarios.pbtxt|scenarios|"
)
lines=()
printf '%-15s %-5s %12s %7s %7s %7s %7s %7s\n' model s+w samples/s read pull compute push allred
for run in "${runs[@]}"; do
  IFS='|' read -r name job kind extra <<<"$run"
  for shape in "1 1" "2 2"; do
    # shellcheck disable=SC2086
    line=$("$here/launch/local.sh" $shape -- train --config "$here/launch/jobs/$job" \
      --data "$data/$kind-$rows" --set training.log_every=0 --set training.epochs=1 $extra \
      2>/dev/null | tail -n 1)
    num() { echo "$line" | grep -o "\"$1\":[0-9.e+-]*" | head -1 | cut -d: -f2; }
    printf '%-15s %-5s %12.0f %7.2f %7.2f %7.2f %7.2f %7.2f\n' "$name" "${shape/ /+}" \
      "$(num samples_per_s)" "$(num read)" "$(num pull)" "$(num compute)" "$(num push)" \
      "$(num allreduce)"
    lines+=("{\"bench\":\"train\",\"name\":\"$name\",\"shape\":\"${shape/ /+}\",\"result\":$line}")
  done
done
printf '%s\n' "${lines[@]}"
