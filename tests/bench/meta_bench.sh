#!/usr/bin/env bash
# Meta-training throughput against plain training of the same model on the same
# data, on 1 server + 1 worker: samples/s of `train` (one epoch) and of
# `meta-train` (support + query examples of every task of every outer step),
# in interleaved rounds. Prints one line per run, then the medians and their
# ratio. Never fails on speed.
#   tests/bench/meta_bench.sh [DATA_DIR] [ROUNDS]   (default ../shared/data/ml-latest-small, 5)
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
data=${1:-$here/../shared/data/ml-latest-small}
rounds=${2:-5}
job="$here/launch/jobs/movielens_meta.pbtxt"
plain=(train --config "$here/launch/jobs/movielens_mf.pbtxt" --data "$data"
       --set training.epochs=1 --set training.ranking_k=0 --set training.log_every=0)
meta=(meta-train --config "$job" --data "$data" --set meta.outer_steps=600
      --set training.log_every=0)
rate() { grep -o '"samples_per_s":[0-9.e+-]*' | tail -1 | cut -d: -f2; }
train_rates=() meta_rates=()
for ((r = 1; r <= rounds; r++)); do
  # Alternate which goes first.
  for which in $([ $((r % 2)) = 1 ] && echo "train meta" || echo "meta train"); do
    if [ "$which" = train ]; then
      v=$("$here/launch/local.sh" 1 1 -- "${plain[@]}" 2>/dev/null | rate)
      train_rates+=("$v")
    else
      v=$("$here/launch/local.sh" 1 1 -- "${meta[@]}" 2>/dev/null | rate)
      meta_rates+=("$v")
    fi
    echo "round $r $which samples/s $v"
  done
done
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
mt=$(median "${train_rates[@]}")
mm=$(median "${meta_rates[@]}")
range() { printf '%s\n' "$@" | sort -g | sed -n '1p;$p' | paste -sd- ; }
echo "{\"bench\":\"meta\",\"train_samples_per_s\":$mt,\"train_range\":\"$(range "${train_rates[@]}")\",\"meta_samples_per_s\":$mm,\"meta_range\":\"$(range "${meta_rates[@]}")\",\"ratio\":$(awk -v a="$mm" -v b="$mt" 'BEGIN{printf "%.3f", a/b}')}"
