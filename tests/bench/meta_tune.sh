#!/usr/bin/env bash
# The meta-learning tuning grid of docs/tuning.md: for each method, inner_lr x
# inner_steps x embedding lr x adapt scope, on seeds 1-3, 600 outer steps;
# prints one JSON line per run with its meta-valid figures. Choose on these
# (meta-valid) only; read meta-test once the choice is made.
#   tests/bench/meta_tune.sh [DATA_DIR] > runs.jsonl   (default ../shared/data/ml-latest-small)
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
data=${1:-$here/../shared/data/ml-latest-small}
for alg in fomaml none reptile; do
  for adapt in dense_and_task_row all; do
    [ "$alg" = reptile ] && [ "$adapt" != all ] && continue
    for ilr in 0.02 0.05 0.1; do
      for steps in 3 5 10; do
        for elr in 1 2; do
          for seed in 1 2 3; do
            r=$("$here/build/bin/metaps" meta-train --config "$here/launch/jobs/movielens_meta.pbtxt" \
              --data "$data" --set meta.algorithm=$alg --set meta.adapt=$adapt \
              --set meta.inner_lr=$ilr --set meta.inner_steps=$steps \
              --set embedding.optimizer.lr=$elr --set training.seed=$seed \
              --set meta.outer_steps=600 --set training.log_every=0 2>/dev/null |
              grep '"split":"valid"' | tail -1)
            echo "{\"alg\":\"$alg\",\"adapt\":\"$adapt\",\"ilr\":$ilr,\"steps\":$steps,\"elr\":$elr,\"seed\":$seed,\"r\":$r}"
          done
        done
      done
    done
  done
done
