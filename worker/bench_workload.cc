#include "worker/bench_workload.h"

#include <cmath>

#include "common/hash.h"

namespace metaps {
namespace {

// Uniform double in (0, 1) from 53 counter-derived bits.
double Uniform(uint64_t stream, uint64_t index) {
  return (static_cast<double>(StreamBits(stream, index) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

// Rejection-inversion sampling of Zipf(s) over [1, n] (Hörmann & Derflinger).
class ZipfSampler {
 public:
  ZipfSampler(uint64_t n, double s) : n_(static_cast<double>(n)), s_(s) {
    h_x1_ = H(1.5) - 1.0;
    h_n_ = H(n_ + 0.5);
    threshold_ = 2.0 - HInverse(H(2.5) - std::pow(2.0, -s_));
  }

  uint64_t Sample(uint64_t stream, uint64_t* counter) const {
    while (true) {
      const double u = h_n_ + Uniform(stream, (*counter)++) * (h_x1_ - h_n_);
      const double x = HInverse(u);
      double k = std::floor(x + 0.5);
      if (k < 1) k = 1;
      if (k > n_) k = n_;
      if (k - x <= threshold_ || u >= H(k + 0.5) - std::pow(k, -s_)) {
        return static_cast<uint64_t>(k);
      }
    }
  }

 private:
  // H(x) = integral of x^-s, written to stay accurate near s = 1.
  double H(double x) const { return Helper2((1.0 - s_) * std::log(x)) * std::log(x); }
  double HInverse(double x) const {
    double t = x * (1.0 - s_);
    if (t < -1.0) t = -1.0;  // numerical guard
    return std::exp(Helper1(t) * x);
  }
  static double Helper1(double x) {  // log1p(x) / x
    return std::fabs(x) > 1e-8 ? std::log1p(x) / x : 1.0 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x));
  }
  static double Helper2(double x) {  // (exp(x) - 1) / x
    return std::fabs(x) > 1e-8 ? std::expm1(x) / x
                               : 1.0 + x * 0.5 * (1.0 + x / 3.0 * (1.0 + 0.25 * x));
  }

  double n_, s_, h_x1_, h_n_, threshold_;
};

}  // namespace

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
