#!/usr/bin/env bash
# Installs the Debian packages metaps needs to build and test, idempotently:
# packages already present are skipped, and apt is not touched at all when
# nothing is missing. Run as root or through sudo. Shared by quickstart.sh and
# test.sh.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  openmpi-bin libopenmpi-dev
  libzmq3-dev cppzmq-dev
  libssl-dev
  libprotobuf-dev protobuf-compiler
  libeigen3-dev
  nlohmann-json3-dev
  libcli11-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  # launch/fuzz.sh: clang with libFuzzer and the sanitizer runtimes
  # (libclang-rt-14-dev holds libclang_rt.fuzzer on Debian 12).
  clang-14 libclang-rt-14-dev
)

missing=()
for p in "${packages[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install_deps: all ${#packages[@]} packages present" >&2
  exit 0
fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    sudo_cmd=(sudo)
  else
    echo "install_deps: missing packages (${missing[*]}) and not root; rerun as root or install sudo" >&2
    exit 1
  fi
fi

echo "install_deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo_cmd[@]}" apt-get update -qq
"${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install_deps: done" >&2
