#!/usr/bin/env bash
# Model selection's quality and cost: the study of launch/studies/ctr_study.pbtxt
# (16 trials, ASHA over one epoch) against the same 16 trials each run to
# completion (min_budget = max_budget: one rung, a grid). Prints both studies'
# choices with their validation and test AUC and the examples each used.
#   tests/bench/select_bench.sh [DATA_DIR] [OUT]   (default: datagen 1M rows into OUT/data)
set -euo pipefail
here=$(cd "$(dirname "$0")/../.." && pwd)
out=${2:-/tmp/metaps_select_bench}
bin=${METAPS_BIN:-$here/build/bin/metaps}
data=${1:-$out/data}
mkdir -p "$out"
[ -e "$data/train.txt" ] || "$bin" datagen --kind ctr --rows 1000000 --seed 1 --out "$data" >/dev/null 2>&1
study="$here/launch/studies/ctr_study.pbtxt"
rm -rf "$out/asha" "$out/grid"
t0=$(date +%s)
"$bin" select --config "$study" --data "$data" --out "$out/asha" > "$out/asha.jsonl" 2>"$out/asha.log"
t1=$(date +%s)
"$bin" select --config "$study" --set search.min_budget=800000 --data "$data" --out "$out/grid" \
  > "$out/grid.jsonl" 2>"$out/grid.log"
t2=$(date +%s)
python3 - "$out" $((t1 - t0)) $((t2 - t1)) <<'PY'
import glob, json, os, sys
out, asha_s, grid_s = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
def done(path):
    for line in open(path):
        j = json.loads(line)
        if j.get("event") == "select_done":
            return j
def test_auc(study, trial):
    # The trial's last rung's done line (its full-budget run).
    runs = sorted(glob.glob(f"{out}/{study}/runs/trial-{trial}/rung-*.stdout.txt"))
    for line in open(runs[-1]):
        if line.startswith('{"event":"done"'):
            j = json.loads(line)
            return j["valid"]["auc"], j["test"]["auc"]
a, g = done(f"{out}/asha.jsonl"), done(f"{out}/grid.jsonl")
grid = {}
for line in open(f"{out}/grid.jsonl"):
    j = json.loads(line)
    if j.get("event") == "leaderboard":
        grid[j["trial"]] = test_auc("grid", j["trial"])
best_test = max(v[1] for v in grid.values())
av, at = test_auc("asha", a["best"])
gv, gt = grid[g["best"]]
print(f"ASHA: trial {a['best']} valid {av:.4f} test {at:.4f}; {a['samples_used']} examples ({asha_s} s)")
print(f"grid: trial {g['best']} valid {gv:.4f} test {gt:.4f}; {g['samples_used']} examples ({grid_s} s)")
print(f"best test AUC of any trial run to completion: {best_test:.4f}")
print(f"ASHA's choice - grid's choice (test): {at - gt:+.4f}; - best of any (test): {at - best_test:+.4f}")
print(f"examples: ASHA / grid = {a['samples_used'] / g['samples_used']:.3f}; time {asha_s} s / {grid_s} s")
PY
