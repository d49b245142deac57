// CRC32C throughput: the CPU's CRC32 instruction against software
// slicing-by-8, on 1 MiB and 64 MiB buffers (checkpoint shards are CRC'd
// whole). Prints Google Benchmark's bytes/s for each.
#include <benchmark/benchmark.h>

#include <vector>

#include "common/hash.h"

namespace metaps {
namespace {

void Run(benchmark::State& state, uint32_t (*crc)(uint32_t, const void*, size_t)) {
  std::vector<uint8_t> data(static_cast<size_t>(state.range(0)));
  for (size_t i = 0; i < data.size(); ++i) data[i] = static_cast<uint8_t>(Mix64(i));
  for (auto _ : state) benchmark::DoNotOptimize(crc(0, data.data(), data.size()));
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * state.range(0));
}

void BM_Crc32cSoftware(benchmark::State& state) { Run(state, Crc32cExtendSoftware); }
void BM_Crc32cHardware(benchmark::State& state) {
  if (!Crc32cHardwareAvailable()) {
    state.SkipWithError("no SSE4.2");
    return;
  }
  Run(state, Crc32cExtendHardware);
}
BENCHMARK(BM_Crc32cSoftware)->Arg(1 << 20)->Arg(64 << 20);
BENCHMARK(BM_Crc32cHardware)->Arg(1 << 20)->Arg(64 << 20);

}  // namespace
}  // namespace metaps

BENCHMARK_MAIN();
