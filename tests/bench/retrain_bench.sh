#!/usr/bin/env bash
# What daily retraining buys on drifting data: a pipeline (launch/pipelines/
# ctr_daily.pbtxt, real mpirun jobs on 1 server + 1 worker) sees one new day a
# run; each day's test AUC is printed for
#   oracle     the day's planted model (the best any model can do),
#   stale      yesterday's planted model (what drift costs a perfect model),
#   frozen     the model published after day 1, never retrained,
#   published  the model published before the run (trained through yesterday),
#   candidate  this run's model (trained through today),
# with the gate's decision and the run's durations. Quality on the day's test
# split is what the gate compares; nothing here is tuned on it.
#   tests/bench/retrain_bench.sh [DAYS] [ROWS_PER_DAY] [DRIFT] [OUT]  (default 6 100000 0.1 /tmp/metaps_retrain_bench)
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
days=${1:-6} rows=${2:-100000} drift=${3:-0.1} out=${4:-/tmp/metaps_retrain_bench}
bin=${METAPS_BIN:-$here/build/bin/metaps}
rm -rf "$out"
mkdir -p "$out/data"
"$bin" datagen --kind ctr --days "$days" --drift "$drift" --rows "$rows" --seed 1 --out "$out/all" >/dev/null 2>&1
pipeline=(retrain --pipeline "$here/launch/pipelines/ctr_daily.pbtxt" --set "data_root=$out/data"
          --set "state_dir=$out/state")
field() { python3 -c "import json,sys; j=json.load(open(sys.argv[1])) if sys.argv[1].endswith('.json') else json.loads(sys.argv[1]); print(eval(sys.argv[2]))" "$@"; }
printf '%-15s %7s %7s %7s %9s %9s %-10s %7s %7s\n' day oracle stale frozen published candidate decision train_s total_s
for dir in "$out"/all/day=*; do
  day=$(basename "$dir")
  ln -s "$dir" "$out/data/$day"
  line=$("$bin" "${pipeline[@]}" 2>/dev/null | tail -1) || true
  if [ ! -e "$out/frozen" ]; then cp -al "$out/state/versions/v000001/checkpoints" "$out/frozen"; fi
  frozen=$("$here/launch/local.sh" 1 1 -- eval --config "$here/launch/jobs/retrain_ctr.pbtxt" \
           --data "$dir" --checkpoint "$out/frozen" 2>/dev/null | tail -1)
  printf '%-15s %7.4f %7s %7.4f %9s %9.4f %-10s %7.1f %7.1f\n' "$day" \
    "$(field "$dir/oracle.json" "j['test_auc']")" \
    "$(field "$dir/oracle.json" "'%.4f' % j['yesterday_model_test_auc'] if 'yesterday_model_test_auc' in j else '-'")" \
    "$(field "$frozen" "j['test']['auc']")" \
    "$(field "$line" "'%.4f' % j['published']['auc'] if j.get('published') else '-'")" \
    "$(field "$line" "j['candidate']['auc']")" \
    "$(field "$line" "j['decision']")" \
    "$(field "$line" "j['durations_s']['train']")" \
    "$(field "$line" "j['durations_s']['total']")"
done
