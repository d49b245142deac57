#!/usr/bin/env bash
# The test command: installs missing packages, builds, runs every test (unit,
# in-process cluster, and mpirun integration tests labelled "mpi").
#   launch/test.sh            all tests
#   launch/test.sh -L mpi     only the mpirun integration tests (any ctest flags)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/launch/install_deps.sh"
"$here/launch/build.sh"
cd "$here/build"
exec ctest --output-on-failure --timeout 900 "$@"
