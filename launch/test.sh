#!/usr/bin/env bash
# The test command: installs missing packages, builds, runs every test (unit,
# in-process cluster, and mpirun integration tests labelled "mpi").
#   launch/test.sh            all tests
#   launch/test.sh -L mpi     only the mpirun integration tests (any ctest flags)
# After ctest, a smoke run of every libFuzzer target (launch/fuzz.sh, a few
# seconds each from the committed seed corpus, built into build-fuzz/ with
# clang; skipped with a message when clang or libFuzzer is missing, when ctest
# flags select a subset of the tests, or with METAPS_FUZZ_SECONDS=0).
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/launch/install_deps.sh"
"$here/launch/build.sh"
(cd "$here/build" && ctest --output-on-failure --timeout 900 "$@")
fuzz_seconds=${METAPS_FUZZ_SECONDS:-3}
if [ "$fuzz_seconds" = 0 ] || [ $# -ne 0 ]; then
  echo "test: fuzz smoke run skipped (METAPS_FUZZ_SECONDS=0 or ctest flags given)" >&2
  exit 0
fi
rc=0
"$here/launch/fuzz.sh" "$fuzz_seconds" || rc=$?
if [ "$rc" -eq 77 ]; then
  echo "test: fuzz smoke run SKIPPED (no clang/libFuzzer); ctest passed" >&2
  exit 0
fi
exit "$rc"
