// The synthetic workload of `metaps bench-ps`: which keys each worker touches
// at each step, and (for verification runs) which gradients it pushes. Pure
// functions of (seed, worker, step), so a test can recompute the exact result
// of a distributed run in one process.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "common/status.h"

namespace metaps {

enum class KeyDistribution { kUniform, kZipf };
StatusOr<KeyDistribution> ParseKeyDistribution(const std::string& name);

struct BenchWorkload {
  uint64_t seed = 1;
  KeyDistribution dist = KeyDistribution::kZipf;
  double zipf_s = 1.1;            // exponent, > 1... or in (0, 1) as well
  uint64_t key_space = 10000000;  // ids are ranks in [1, key_space], scrambled
  size_t keys_per_request = 65536;
};

// Fills keys[0..n) for (worker, step). Zipf draws a rank by rejection-inversion
// (Hörmann & Derflinger 1996), then scrambles it so hot ids are not adjacent.
void BenchKeys(const BenchWorkload& w, int worker, int64_t step, uint64_t* keys);

// Integer-valued gradient, exact in float when summed: in {-2, ..., 2}.
inline float BenchGradient(int worker, int64_t step, uint64_t key, int d) {
  return static_cast<float>(
      static_cast<int64_t>((key + static_cast<uint64_t>(d) + static_cast<uint64_t>(worker) * 7 +
                            static_cast<uint64_t>(step) * 13) %
                           5) -
      2);
}

}  // namespace metaps
