#!/usr/bin/env bash
# Runs a metaps job on this machine under mpirun: 1 scheduler, SERVERS servers
# and WORKERS workers, over loopback.
#   launch/local.sh SERVERS WORKERS -- <subcommand> [flags...]
#   launch/local.sh 2 2 -- ping
# Environment: METAPS_BIN (default build/bin/metaps), MPIRUN_ARGS (extra mpirun flags).
set -euo pipefail

usage() { echo "usage: $0 SERVERS WORKERS -- <subcommand> [flags...]" >&2; exit 2; }
[ $# -ge 4 ] && [ "$3" = "--" ] || usage
servers=$1 workers=$2
shift 3
[[ "$servers" =~ ^[1-9][0-9]*$ && "$workers" =~ ^[1-9][0-9]*$ ]] || usage

here=$(cd "$(dirname "$0")/.." && pwd)
bin=${METAPS_BIN:-$here/build/bin/metaps}
[ -x "$bin" ] || { echo "$0: $bin not found; run launch/quickstart.sh or launch/test.sh first" >&2; exit 1; }

args=(--oversubscribe --bind-to none --mca btl self,vader,tcp --mca btl_tcp_if_include lo --mca oob_tcp_if_include lo)
[ "$(id -u)" -eq 0 ] && args+=(--allow-run-as-root)
np=$((1 + servers + workers))
subcommand=$1
shift
# shellcheck disable=SC2086
exec mpirun "${args[@]}" ${MPIRUN_ARGS:-} -np "$np" "$bin" "$subcommand" --servers "$servers" "$@"
