#!/usr/bin/env bash
# The quick start: installs missing packages, builds, and runs the default job
# on this machine (1 scheduler, 2 servers, 2 workers under mpirun): a cluster
# health check over CURVE-authenticated ZeroMQ, printing one JSON line.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
"$here/launch/install_deps.sh"
"$here/launch/build.sh"
exec "$here/launch/local.sh" 2 2 -- ping "$@"
