#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/) into build-fuzz/ with clang,
# ASan and UBSan, and runs each from its committed seed corpus
# (tests/fuzz/corpus/<target>/) for SECONDS seconds:
#   launch/fuzz.sh              every target, 5 s each
#   launch/fuzz.sh 600          the documented long run (10 min each)
#   launch/fuzz.sh 60 wire_fuzz criteo_fuzz    only these targets
# Prints executions per target and exits non-zero if any target crashed,
# leaked, hung (-timeout, 10 s per input) or allocated over -rss_limit_mb /
# -malloc_limit_mb; the reproducer is kept as build-fuzz/artifacts/<target>/.
# New inputs found go to build-fuzz/corpus/<target>/ (not the committed seeds);
# copy a few into tests/fuzz/corpus/ by hand if they are worth keeping.
# Exit 77 (and a message) when clang or libFuzzer is missing.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
seconds=${1:-5}
shift || true
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
  targets=(wire_fuzz data_open_fuzz control_fuzz job_config_fuzz criteo_fuzz avazu_fuzz libsvm_fuzz movielens_ratings_fuzz
           movielens_side_fuzz scenario_csv_fuzz checkpoint_manifest_fuzz checkpoint_shard_fuzz table_create_fuzz)
fi

cxx=${METAPS_FUZZ_CXX:-}
if [ -z "$cxx" ]; then
  for c in clang++ clang++-14 clang++-15 clang++-16; do
    if command -v "$c" >/dev/null 2>&1; then cxx=$c; break; fi
  done
fi
if [ -z "$cxx" ]; then
  echo "fuzz: SKIPPED: clang++ not found (launch/install_deps.sh installs clang)" >&2
  exit 77
fi
cc=${cxx/clang++/clang}
probe=$(mktemp -d)
trap 'rm -rf "$probe"' EXIT
printf 'extern "C" int LLVMFuzzerTestOneInput(const unsigned char*, unsigned long) { return 0; }\n' \
  > "$probe/p.cc"
if ! "$cxx" -fsanitize=fuzzer,address,undefined "$probe/p.cc" -o "$probe/p" >/dev/null 2>&1; then
  echo "fuzz: SKIPPED: $cxx cannot link -fsanitize=fuzzer,address,undefined" \
       "(libFuzzer missing: install libclang-rt-14-dev)" >&2
  exit 77
fi

cd "$here"
launcher=()
if command -v ccache >/dev/null 2>&1; then launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache); fi
generator=()
if command -v ninja >/dev/null 2>&1 && [ ! -f build-fuzz/Makefile ]; then generator=(-G Ninja); fi
cmake -S . -B build-fuzz "${generator[@]}" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_C_COMPILER="$cc" -DCMAKE_CXX_COMPILER="$cxx" "${launcher[@]}" \
  -DMETAPS_FUZZ=ON -DMETAPS_BUILD_TESTS=OFF -DMETAPS_WITH_CUDA=OFF >/dev/null
cmake --build build-fuzz --parallel "${METAPS_BUILD_JOBS:-2}" --target "${targets[@]}"

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
# The readers' targets write each input to a scratch file: on tmpfs that is
# ten times faster than on disk.
scratch_base=/tmp
if [ -d /dev/shm ] && [ -w /dev/shm ]; then scratch_base=/dev/shm; fi
failed=()
summary=()
for t in "${targets[@]}"; do
  seeds="$here/tests/fuzz/corpus/$t"
  work="$here/build-fuzz/corpus/$t"
  artifacts="$here/build-fuzz/artifacts/$t"
  log="$here/build-fuzz/fuzz-$t.log"
  mkdir -p "$work" "$artifacts"
  rc=0
  scratch=$(mktemp -d "$scratch_base/metaps-fuzz.XXXXXX")
  TMPDIR=$scratch "build-fuzz/fuzz/$t" "$work" "$seeds" -max_total_time="$seconds" \
    -timeout=10 -rss_limit_mb=2048 -malloc_limit_mb=1024 -max_len=4096 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" >"$log" 2>&1 || rc=$?
  rm -rf "$scratch"
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  if [ "$rc" -ne 0 ]; then
    failed+=("$t")
    summary+=("$(printf '%-26s FAILED (rc %d) after %s execs, see %s' "$t" "$rc" "${execs:-?}" "$log")")
    grep -E "^(==[0-9]+==ERROR|SUMMARY|.*runtime error)" "$log" | head -5 >&2 || true
  else
    summary+=("$(printf '%-26s %10s execs in %ss' "$t" "${execs:-?}" "$seconds")")
  fi
done
echo "fuzz: executions per target (seconds each: $seconds)"
printf '  %s\n' "${summary[@]}"
if [ ${#failed[@]} -ne 0 ]; then
  echo "fuzz: FAILED: ${failed[*]} (reproducers in build-fuzz/artifacts/)" >&2
  exit 1
fi
echo "fuzz: no crashes in ${#targets[@]} targets"
