#!/usr/bin/env bash
# Configures and builds metaps into build/ (Release, Ninja when present).
# Extra arguments go to cmake's configure step, e.g. -DMETAPS_WITH_CUDA=OFF.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
generator=()
if command -v ninja >/dev/null 2>&1 && [ ! -f build/Makefile ]; then generator=(-G Ninja); fi
cmake -S . -B build "${generator[@]}" -DCMAKE_BUILD_TYPE=Release "$@" >/dev/null
cmake --build build --parallel "${METAPS_BUILD_JOBS:-2}"
