#!/usr/bin/env bash
# Runs a metaps job across machines listed in an Open MPI hostfile.
#   launch/cluster.sh HOSTFILE SERVERS WORKERS -- <subcommand> [flags...]
# Each host needs the same build at the same path (or set METAPS_BIN), and the
# hosts must reach each other over TCP: every rank binds an ephemeral port on
# its host's primary address and the endpoints are exchanged through MPI.
# Environment: METAPS_BIN, MPIRUN_ARGS (e.g. "--mca btl_tcp_if_include eth0").
set -euo pipefail

usage() { echo "usage: $0 HOSTFILE SERVERS WORKERS -- <subcommand> [flags...]" >&2; exit 2; }
[ $# -ge 5 ] && [ "$4" = "--" ] || usage
hostfile=$1 servers=$2 workers=$3
shift 4
[ -r "$hostfile" ] || { echo "$0: cannot read hostfile $hostfile" >&2; exit 2; }
[[ "$servers" =~ ^[1-9][0-9]*$ && "$workers" =~ ^[1-9][0-9]*$ ]] || usage

here=$(cd "$(dirname "$0")/.." && pwd)
bin=${METAPS_BIN:-$here/build/bin/metaps}
args=(--hostfile "$hostfile" --bind-to none)
[ "$(id -u)" -eq 0 ] && args+=(--allow-run-as-root)
np=$((1 + servers + workers))
subcommand=$1
shift
# shellcheck disable=SC2086
exec mpirun "${args[@]}" ${MPIRUN_ARGS:-} -np "$np" "$bin" "$subcommand" --servers "$servers" "$@"
