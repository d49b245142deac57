#include "worker/bench_workload.h"

#include "common/hash.h"
#include "worker/data/zipf.h"

namespace metaps {

StatusOr<KeyDistribution> ParseKeyDistribution(const std::string& name) {
  if (name == "zipf") return KeyDistribution::kZipf;
  if (name == "uniform") return KeyDistribution::kUniform;
  return InvalidArgument("--dist must be zipf or uniform, got '" + name + "'");
}

void BenchKeys(const BenchWorkload& w, int worker, int64_t step, uint64_t* keys) {
  const uint64_t stream = Mix64(Mix64(w.seed) ^ Mix64(static_cast<uint64_t>(worker) + 1) ^
                                Mix64(static_cast<uint64_t>(step) * 0x9e37ULL + 7));
  uint64_t counter = 0;
  if (w.dist == KeyDistribution::kUniform) {
    for (size_t i = 0; i < w.keys_per_request; ++i) {
      keys[i] = Mix64(1 + StreamBits(stream, counter++) % w.key_space);
    }
    return;
  }
  const ZipfSampler zipf(w.key_space, w.zipf_s);
  for (size_t i = 0; i < w.keys_per_request; ++i) keys[i] = Mix64(zipf.Sample(stream, &counter));
}

}  // namespace metaps
