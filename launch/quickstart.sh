#!/usr/bin/env bash
# The quick start: installs missing packages, builds, checks the cluster with
# `metaps ping` (1 scheduler + 1 server + 1 worker over CURVE), generates
# synthetic CTR data from a planted model (once, into build/quickstart-data),
# and trains DeepFM on the same cluster shape under mpirun. Prints the test AUC
# next to the planted (Bayes-optimal) one, then the job's final JSON line.
#   launch/quickstart.sh [ROWS] [extra train flags, e.g. --set training.epochs=3]
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/launch/install_deps.sh"
"$here/launch/build.sh"
rows=200000
if [[ $# -gt 0 && "$1" =~ ^[0-9]+$ ]]; then rows=$1; shift; fi
data="$here/build/quickstart-data/ctr-$rows"
if [ ! -f "$data/oracle.json" ]; then
  "$here/build/bin/metaps" datagen --kind ctr --rows "$rows" --seed 1 --out "$data" >/dev/null
fi
"$here/launch/local.sh" 1 1 -- ping --log-level warning
out=$(mktemp)
trap 'rm -f "$out"' EXIT
"$here/launch/local.sh" 1 1 -- train --config "$here/launch/jobs/quickstart_deepfm.pbtxt" \
  --data "$data" "$@" | tee "$out"
auc=$(tail -n 1 "$out" | grep -o '"test":{[^}]*' | grep -o '"auc":[0-9.]*' | cut -d: -f2)
oracle=$(grep -o '"test_auc":[0-9.]*' "$data/oracle.json" | cut -d: -f2)
echo "quickstart: test AUC ${auc:-?} (planted optimum ${oracle:-?}) on $rows synthetic CTR rows" >&2
